"""The OTRv4 prekey server, its storage and its client (otr-v4-prekey-server.md).

* :mod:`otr.prekey.messages` - wire codecs of every prekey-server message.
* :mod:`otr.prekey.proofs` - the ECDH and DH batch proofs of knowledge.
* :mod:`otr.prekey.dake` - DAKE-1/2/3 with the server and the session MACs.
* :mod:`otr.prekey.fragments` - ``?OTRP|`` fragments.
* :mod:`otr.prekey.server` - the sans-I/O server core.
* :mod:`otr.prekey.batching` - group commit: retrievals answered in batches.
* :mod:`otr.prekey.storage` - one interface, SQLite and PostgreSQL back ends.
* :mod:`otr.prekey.limits` - token-bucket rate limits.
* :mod:`otr.prekey.client` - the sans-I/O client.
* :mod:`otr.prekey.xmpp` - the XEP-0114 component and the client glue (slixmpp).
"""
