"""The Socialist Millionaires' Protocol: :mod:`otr.smp.v3` (OTRv3, 1536-bit group),
:mod:`otr.smp.v4` (OTRv4, Ed448; messages in :mod:`otr.smp.v4_messages`), and the state
machine both share, :mod:`otr.smp.machine`."""
