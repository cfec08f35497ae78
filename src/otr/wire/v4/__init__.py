"""OTRv4 wire formats (otr-v4.md "Data Types", "Encoded Messages", "Data Message",
"Fragmentation").

* :mod:`otr.wire.v4.types` - POINT, SCALAR, typed Ed448 keys, timestamps, EdDSA signatures.
* :mod:`otr.wire.v4.dake` - the header and the Identity, Auth-R and Auth-I messages.
* :mod:`otr.wire.v4.data` - the v4 data message.
"""
