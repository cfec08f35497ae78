"""Tools over the wire format: :mod:`otr.tools.inspect` (decode and decrypt what was seen on
the wire) and :mod:`otr.tools.forge` (libotr's deniability toolkit: session keys, reading,
modifying and re-MACing OTRv3 Data Messages, forging transcripts)."""
