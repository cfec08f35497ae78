"""Persistent state in libotr's formats: keys, fingerprints/trust, instance tags.

Each store reads and writes the file libotr 4.1.1 (and so Pidgin, in
``~/.purple``) uses, byte for byte, and works equally from memory for clients
that keep their own storage (``from_bytes`` / ``to_bytes``):

* :class:`PrivateKeyStore` -- ``otr.private_key``, our DSA keys (S-expressions);
* :class:`FingerprintStore` -- ``otr.fingerprints``, peers' fingerprints and
  trust; it is the :class:`otr.conversation.TrustStore` a conversation uses;
* :class:`InstanceTagStore` -- ``otr.instance_tags``, our instance tags;
* :class:`IdentityStore` -- ``otr.identities``, a file of our own for our
  :class:`~otr.v4.identity.Identity` objects (OTRv4 keys and Client Profile, and
  optionally the DSA key), which libotr has no place for.

``save(path)`` writes atomically (:func:`atomic_write`: temporary file, fsync,
rename) with mode 0600.  Malformed input raises :class:`KeyFileError` (an
:class:`~otr.errors.OtrError` and a :class:`ValueError`) naming the line and
column; a file that cannot be read raises :class:`OSError`.
"""

from __future__ import annotations

from .atomic import atomic_write
from .fingerprints import FingerprintEntry, FingerprintStore
from .identity import IDENTITY_FILE, IdentityStore
from .instags import MIN_VALID_INSTAG, InstanceTagStore
from .keyfile import FINGERPRINTS_FILE, INSTAG_FILE, PRIVKEY_FILE
from .privkey import PrivateKeyStore
from .sexp import KeyFileError, SExpError

__all__ = [
    "FINGERPRINTS_FILE",
    "IDENTITY_FILE",
    "INSTAG_FILE",
    "MIN_VALID_INSTAG",
    "PRIVKEY_FILE",
    "FingerprintEntry",
    "FingerprintStore",
    "IdentityStore",
    "InstanceTagStore",
    "KeyFileError",
    "PrivateKeyStore",
    "SExpError",
    "atomic_write",
]
