"""The publisher's store of prekey secrets: the ``y`` and ``b`` of every
published Prekey Message (until it is used once by the non-interactive DAKE)
and the shared prekey secrets ``sym_d`` of the Prekey Profiles (until they
expire).  It is separate from the identity file (another module's format).

File format (UTF-8 JSON, written atomically with mode 0600)::

    {"version": 1,
     "prekeys": [{"id": <int>, "tag": <int>, "y": "<57-byte hex>", "b": "<hex>"}, ...],
     "shared": [{"tag": <int>, "expiration": <int>, "d": "<57-byte sym_d hex>"}, ...]}

``y`` is the ECDH secret scalar as a SCALAR (57 bytes little-endian), ``b``
the DH secret in hex.
:meth:`PrekeySecretStore.take_prekey` returns and removes a prekey's secrets
(one use); the store saves itself after each change when it has a path.  A
change is made in memory before it is saved, so a save that fails (OSError,
e.g. a full disk) leaves it made there, :attr:`PrekeySecretStore.unsaved` set,
and the next successful save writes it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..crypto.dh3072 import DHKeyPair
from ..crypto.ed448 import G, decode_scalar, encode_scalar
from ..errors import OtrError, RemoteProtocolError
from ..storage.atomic import atomic_write
from ..v4.keys import ECDHKeyPair, Ed448KeyPair
from ..v4.prekeys import PrekeyMessageSecrets

__all__ = ["PrekeySecretStore", "SecretStoreError", "StoredPrekey"]


class SecretStoreError(OtrError, ValueError):
    """The secret file is malformed."""


@dataclass(frozen=True)
class StoredPrekey:
    """A prekey's secrets as kept: the ECDH seed and the DH secret."""

    identifier: int
    instance_tag: int
    ecdh_secret: int = field(repr=False)
    dh_secret: int = field(repr=False)

    @classmethod
    def of(cls, secrets: PrekeyMessageSecrets) -> StoredPrekey:
        return cls(secrets.identifier, secrets.instance_tag, secrets.ecdh.secret, secrets.dh.secret)

    def secrets(self) -> PrekeyMessageSecrets:
        return PrekeyMessageSecrets(
            self.identifier,
            self.instance_tag,
            ECDHKeyPair(self.ecdh_secret, G * self.ecdh_secret),
            DHKeyPair.from_secret(self.dh_secret),
        )


class PrekeySecretStore:
    """In memory, or backed by the file ``path`` (loaded when it exists)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._prekeys: dict[int, StoredPrekey] = {}
        self._shared: dict[bytes, tuple[int, int, bytes]] = {}
        self.unsaved = False
        """A change in memory that the file does not hold yet (a save failed)."""
        if self.path is not None and self.path.exists():
            self._load(self.path.read_bytes())

    def __len__(self) -> int:
        return len(self._prekeys)

    def _load(self, data: bytes) -> None:
        try:
            doc: Any = json.loads(data.decode("utf-8"))
            if doc.get("version") != 1:
                raise SecretStoreError("unknown prekey secret file version")
            for p in doc["prekeys"]:
                y = decode_scalar(bytes.fromhex(p["y"]))
                entry = StoredPrekey(int(p["id"]), int(p["tag"]), y, int(p["b"], 16))
                self._prekeys[entry.identifier] = entry
            for s in doc["shared"]:
                sym = bytes.fromhex(s["d"])
                kp = Ed448KeyPair.from_symmetric_key(sym)
                self._shared[kp.public_bytes] = (int(s["tag"]), int(s["expiration"]), sym)
        except SecretStoreError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RemoteProtocolError) as exc:
            raise SecretStoreError(f"malformed prekey secret file: {type(exc).__name__}") from None

    def to_bytes(self) -> bytes:
        doc = {
            "version": 1,
            "prekeys": [
                {
                    "id": p.identifier,
                    "tag": p.instance_tag,
                    "y": encode_scalar(p.ecdh_secret).hex(),
                    "b": f"{p.dh_secret:x}",
                }
                for p in self._prekeys.values()
            ],
            "shared": [
                {"tag": tag, "expiration": exp, "d": sym.hex()}
                for tag, exp, sym in self._shared.values()
            ],
        }
        return json.dumps(doc, indent=1).encode("utf-8")

    def save(self) -> None:
        """Write the whole store (atomically).  If it raises OSError the change made
        in memory stays made and :attr:`unsaved` is True until a save succeeds (every
        later change saves everything again)."""
        if self.path is not None:
            try:
                atomic_write(self.path, self.to_bytes(), 0o600)
            except OSError:
                self.unsaved = True
                raise
        self.unsaved = False

    # -- prekey messages -----------------------------------------------------------

    def add_prekeys(self, prekeys: list[StoredPrekey]) -> None:
        for p in prekeys:
            self._prekeys[p.identifier] = p
        self.save()

    def discard_prekeys(self, identifiers: list[int]) -> None:
        for i in identifiers:
            self._prekeys.pop(i, None)
        self.save()

    def has_prekey(self, identifier: int) -> bool:
        return identifier in self._prekeys

    def prekey(self, identifier: int) -> PrekeyMessageSecrets | None:
        """The secrets of prekey ``identifier``, kept (verify the message that
        names it first, then :meth:`take_prekey`)."""
        entry = self._prekeys.get(identifier)
        return None if entry is None else entry.secrets()

    def take_prekey(self, identifier: int) -> PrekeyMessageSecrets | None:
        """The secrets of prekey ``identifier``, removed from the store (one use).
        The removal is made in memory first: if saving it raises OSError the secrets
        are gone all the same (:class:`otr.v4.offline.PrekeyStore`)."""
        entry = self._prekeys.pop(identifier, None)
        if entry is None:
            return None
        self.save()
        return entry.secrets()

    # -- shared prekeys ------------------------------------------------------------

    def add_shared_prekey(self, instance_tag: int, expiration: int, sym_d: bytes) -> None:
        kp = Ed448KeyPair.from_symmetric_key(sym_d)
        self._shared[kp.public_bytes] = (instance_tag, expiration, bytes(sym_d))
        self.save()

    def shared_prekey(self, public: bytes) -> Ed448KeyPair | None:
        """The shared prekey pair whose public key D encodes as ``public``."""
        entry = self._shared.get(bytes(public))
        return None if entry is None else Ed448KeyPair.from_symmetric_key(entry[2])

    def purge_shared(self, now: float) -> None:
        """Forget shared prekeys whose profile has expired."""
        self._shared = {k: v for k, v in self._shared.items() if v[1] > now}
        self.save()
