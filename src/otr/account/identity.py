"""One local account's long-term state, kept in a key directory.

The directory holds libotr's three files (:mod:`otr.storage`; the same names as
Pidgin's ``~/.purple``, so either program can use the other's directory):
``otr.private_key`` (our long-term DSA key), ``otr.fingerprints`` (peers'
fingerprints and trust) and ``otr.instance_tags`` (our instance tags, spec
"Instance Tags": persistent per client so that a peer keeps our sessions apart
across restarts).

Instance tags are per *client instance*: two resources of one XMPP account that
share a key directory must not share a tag.  :meth:`Identity.instance_tag`
therefore takes an optional ``instance`` name (the XMPP resource) and keeps the
tag under ``account/instance`` in the tag file; without one it is libotr's own
``account`` row.

``Identity.v4`` is the slot for the OTRv4 long-term identity (``otr.v4.identity``,
when it lands); nothing here depends on the protocol version, fingerprints are
opaque bytes (20 bytes in v3, 56 in v4).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..crypto.dsa import DSAPrivateKey, generate_dsa_key
from ..events import Trust
from ..storage import (
    FINGERPRINTS_FILE,
    INSTAG_FILE,
    PRIVKEY_FILE,
    FingerprintStore,
    InstanceTagStore,
    PrivateKeyStore,
)

__all__ = ["TRUST_VERIFIED", "Identity", "PersistentTrust"]

TRUST_VERIFIED = "verified"
"""The trust string Pidgin's OTR plugin writes for a fingerprint verified by hand
(SMP writes "smp"; any non-empty string means verified)."""


class PersistentTrust:
    """A :class:`otr.conversation.TrustStore` that writes ``otr.fingerprints``
    (atomically) after every change, so that a fingerprint first seen or verified
    survives a crash of the client."""

    def __init__(self, store: FingerprintStore, path: Path) -> None:
        self.store = store
        self.path = path

    def get_trust(self, account: str, protocol: str, username: str, fingerprint: bytes) -> Trust:
        return self.store.get_trust(account, protocol, username, fingerprint)

    def known_fingerprints(self, account: str, protocol: str, username: str) -> Iterable[bytes]:
        return self.store.known_fingerprints(account, protocol, username)

    def add(self, account: str, protocol: str, username: str, fingerprint: bytes) -> None:
        self.store.add(account, protocol, username, fingerprint)
        self.store.save(self.path)

    def set_trust(
        self, account: str, protocol: str, username: str, fingerprint: bytes, trust: str
    ) -> None:
        self.store.set_trust(account, protocol, username, fingerprint, trust)
        self.store.save(self.path)


@dataclass
class Identity:
    """A local account (``account``, ``protocol``) and its files in ``directory``.

    Build it with :meth:`load`; the stores are public so a client can list and
    edit them (see ``otr keys``).
    """

    directory: Path
    account: str
    protocol: str
    key: DSAPrivateKey
    keys: PrivateKeyStore
    trust: PersistentTrust
    tags: InstanceTagStore
    v4: object | None = field(default=None)
    """Reserved for the OTRv4 long-term identity (Ed448 key, forging key, profile)."""

    @staticmethod
    def has_key(directory: str | os.PathLike[str], account: str, protocol: str) -> bool:
        """Whether the directory already holds a key for the account (no generation needed)."""
        path = Path(directory) / PRIVKEY_FILE
        if not path.exists():
            return False
        return PrivateKeyStore.from_file(path).get(account, protocol) is not None

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        account: str,
        protocol: str,
        *,
        generate: Callable[[], DSAPrivateKey] | None = generate_dsa_key,
    ) -> Identity:
        """Read the account's state from ``directory`` (created with mode 0700 if
        missing).  A missing key is made with ``generate`` (slow: run it off the
        event loop, see :func:`otr.adapters.asyncio.load_identity`) and saved; with
        ``generate=None`` a missing key raises :class:`LookupError`.  Malformed files
        raise :class:`otr.storage.KeyFileError`."""
        folder = Path(directory).expanduser()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys_path = folder / PRIVKEY_FILE
        keys = PrivateKeyStore.from_file(keys_path) if keys_path.exists() else PrivateKeyStore()
        key = keys.get(account, protocol)
        if key is None:
            if generate is None:
                raise LookupError(f"no key for {account} ({protocol}) in {folder}")
            key = generate()
            keys.set(account, protocol, key)
            keys.save(keys_path)
        fp_path = folder / FINGERPRINTS_FILE
        store = FingerprintStore.from_file(fp_path) if fp_path.exists() else FingerprintStore()
        tag_path = folder / INSTAG_FILE
        tags = InstanceTagStore.from_file(tag_path) if tag_path.exists() else InstanceTagStore()
        return cls(folder, account, protocol, key, keys, PersistentTrust(store, fp_path), tags)

    @property
    def fingerprint(self) -> bytes:
        """Our own fingerprint (v3: SHA-1 of the DSA public key, 20 bytes)."""
        return self.key.public.fingerprint()

    def instance_tag(self, instance: str = "", rng: Callable[[int], bytes] = os.urandom) -> int:
        """Our persistent instance tag for this client instance (generated and saved
        on first use).  ``instance`` names the instance (an XMPP resource); ""
        is the account's own row, as libotr keeps it."""
        name = f"{self.account}/{instance}" if instance else self.account
        tag = self.tags.get(name, self.protocol)
        if tag is None:
            tag = self.tags.ensure(name, self.protocol, rng)
            self.tags.save(self.directory / INSTAG_FILE)
        return tag

    def set_verified(self, peer: str, fingerprint: bytes, verified: bool = True) -> None:
        """Mark the peer's fingerprint verified by hand (or back to unverified)."""
        trust = TRUST_VERIFIED if verified else ""
        self.trust.set_trust(self.account, self.protocol, peer, fingerprint, trust)

    def known_fingerprints(self, peer: str) -> list[bytes]:
        return list(self.trust.known_fingerprints(self.account, self.protocol, peer))
