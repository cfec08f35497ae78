"""Our local identities (:class:`otr.v4.identity.Identity`) in a file format of our own,
``otr.identities``.

libotr has no place for OTRv4 keys, so this file is ours; it uses the S-expression
syntax of ``otr.private_key`` (:mod:`otr.storage.sexp`) so that errors name a line and
column.  Binary values are written as ``#HEX#``, names as libgcrypt prints atoms (a bare
token or a quoted string).  Version 1, as :meth:`IdentityStore.to_bytes` lays it out
(whitespace between items is free when reading)::

    (otr-identities
     (version "1")
     (identity
      (account "alice@example.org")
      (protocol xmpp)
      (instance-tag #59366628#)
      (private-key
       (dsa
        (p #00FD7F53...#)
        (q #009760508F...#)
        (g #F7E1A085...#)
        (y #CE2C6E13...#)
        (x #0C50045B...#)
        )
       )
      (ed448-long-term #<57-byte RFC 8032 symmetric key>#)
      (ed448-forging-public #<57-byte POINT F>#)
      (client-profile #<CLIENT-PROF>#)
      (previous-client-profiles #<CLIENT-PROF># ...)
     )
    )

* ``instance-tag`` (4 bytes, big-endian, >= 0x100) is required;
* ``private-key`` is the OTRv3 DSA key exactly as in ``otr.private_key``;
* ``ed448-long-term`` and the forging key - ``ed448-forging`` (its 57-byte symmetric
  key, when the secret is kept) or ``ed448-forging-public`` (the point only) - come
  together, and ``client-profile`` needs them; at least one of the DSA key and the
  OTRv4 keys is present;
* ``previous-client-profiles`` (optional, one or more values, newest first) are the
  replaced Client Profiles kept until they expire
  (:attr:`otr.v4.identity.Identity.previous_profiles`); each must carry these keys and
  this instance tag, as ``client-profile``;
* one ``identity`` per (account, protocol); fields in any order, each at most once; an
  unknown field, version or duplicate identity is an error.

Loading checks what can be checked without a clock: lengths, the instance tag, the DSA
key (as :class:`~otr.storage.PrivateKeyStore` does), the forging point, and that the
Client Profile decodes and carries these keys and this instance tag.  Its expiry and
signature are :meth:`~otr.v4.identity.Identity.renew_profile`'s business.

:class:`IdentityStore` reads and writes the file (atomically, mode 0600) or bytes;
malformed input raises :class:`~otr.storage.KeyFileError` with the line and column of
the offending list.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TypeVar

from ..crypto import ed448
from ..errors import DecodeError, InvalidGroupElement
from ..v4.identity import Identity, V4Keys
from ..v4.keys import SYMMETRIC_KEY_BYTES, Ed448KeyPair, ForgingKey
from ..v4.profiles import MIN_INSTANCE_TAG, ClientProfile, ProfileError
from .instags import InstanceTagStore
from .keyfile import INSTAG_FILE, PRIVKEY_FILE, KeyFile
from .privkey import PrivateKeyStore, _error, _key_sexp, _read_key, _single_atom
from .sexp import (
    KeyFileError,
    SList,
    bytes_to_text,
    encode_atom,
    parse,
    sprint_advanced,
    text_to_bytes,
)

__all__ = ["FORMAT_VERSION", "IDENTITY_FILE", "IdentityStore", "load_identity"]

IDENTITY_FILE = "otr.identities"
"""The file's name in a key directory (beside libotr's three files)."""

FORMAT_VERSION = 1

_FIELDS = (
    b"account",
    b"protocol",
    b"instance-tag",
    b"private-key",
    b"ed448-long-term",
    b"ed448-forging",
    b"ed448-forging-public",
    b"client-profile",
    b"previous-client-profiles",
)


def _hex(value: bytes) -> bytes:
    return b"#" + value.hex().upper().encode("ascii") + b"#"


def _line(name: bytes, value: bytes) -> bytes:
    return b"  (" + name + b" " + value + b")\n"


def _encode_identity(identity: Identity) -> bytes:
    out = [b" (identity\n"]
    out.append(_line(b"account", encode_atom(text_to_bytes(identity.account, "account"))))
    out.append(_line(b"protocol", encode_atom(text_to_bytes(identity.protocol, "protocol"))))
    out.append(_line(b"instance-tag", _hex(identity.instance_tag.to_bytes(4, "big"))))
    if identity.dsa_key is not None:
        key = sprint_advanced(_key_sexp(identity.dsa_key))
        out += [b"  " + line for line in key.splitlines(keepends=True)]
    if identity.v4 is not None:
        out.append(_line(b"ed448-long-term", _hex(identity.v4.long_term.sym_key)))
        forging = identity.v4.forging
        if forging.keypair is not None:
            out.append(_line(b"ed448-forging", _hex(forging.keypair.sym_key)))
        else:
            out.append(_line(b"ed448-forging-public", _hex(forging.public.encode())))
    if identity.client_profile is not None:
        out.append(_line(b"client-profile", _hex(identity.client_profile.encode())))
    if identity.previous_profiles:
        values = b" ".join(_hex(p.encode()) for p in identity.previous_profiles)
        out.append(_line(b"previous-client-profiles", values))
    out.append(b" )\n")
    return b"".join(out)


class _Fields:
    """The fields of one ``(identity ...)`` list, checked for unknown and repeated names."""

    def __init__(self, node: SList, source: str | None) -> None:
        self.node = node
        self.source = source
        self.parts: dict[bytes, SList] = {}
        for item in node[1:]:
            name = item.head() if isinstance(item, SList) else None
            if not isinstance(item, SList) or name is None or name not in _FIELDS:
                where = item if isinstance(item, SList) else node
                raise _error("unexpected value in (identity ...)", where, source)
            if name in self.parts:
                raise self.error(f"({name.decode()} ...) appears twice in (identity ...)", item)
            self.parts[name] = item

    def __contains__(self, name: bytes) -> bool:
        return name in self.parts

    def error(self, message: str, where: SList | None = None) -> KeyFileError:
        return _error(message, self.node if where is None else where, self.source)

    def atom(self, name: bytes, size: int | None = None) -> bytes:
        """The value of ``(name VALUE)``; ``size`` bytes long when given."""
        if name not in self.parts:
            raise self.error(f"(identity ...) lacks ({name.decode()} ...)")
        value = _single_atom(self.parts[name], name.decode(), self.source)
        if size is not None and len(value) != size:
            raise self.error(f"({name.decode()} ...) must be {size} bytes", self.parts[name])
        return value

    def name(self, name: bytes) -> str:
        value = self.atom(name)
        if b"\x00" in value:
            raise self.error(f"({name.decode()} ...) contains a NUL byte", self.parts[name])
        return bytes_to_text(value)


def _read_identity(node: SList, source: str | None) -> Identity:
    f = _Fields(node, source)
    account, protocol = f.name(b"account"), f.name(b"protocol")
    tag = int.from_bytes(f.atom(b"instance-tag", 4), "big")
    if tag < MIN_INSTANCE_TAG:
        raise f.error("the instance tag must be at least 0x100", f.parts[b"instance-tag"])
    dsa_key = _read_key(f.parts[b"private-key"], source) if b"private-key" in f else None
    v4 = _read_v4(f)
    profile: ClientProfile | None = None
    if b"client-profile" in f:
        where = f.parts[b"client-profile"]
        if v4 is None:
            raise f.error("(client-profile ...) without the OTRv4 keys", where)
        try:
            profile = ClientProfile.decode(f.atom(b"client-profile"))
        except ProfileError as exc:
            raise f.error(f"unreadable Client Profile: {exc}", where) from None
    previous: list[ClientProfile] = []
    if b"previous-client-profiles" in f:
        where = f.parts[b"previous-client-profiles"]
        values = where[1:]
        if profile is None or not values or not all(isinstance(v, bytes) for v in values):
            raise f.error(
                "(previous-client-profiles ...) needs (client-profile ...) and one or more values",
                where,
            )
        try:
            previous = [ClientProfile.decode(v) for v in values if isinstance(v, bytes)]
        except ProfileError as exc:
            raise f.error(f"unreadable previous Client Profile: {exc}", where) from None
    if dsa_key is None and v4 is None:
        raise f.error("(identity ...) has neither a DSA key nor OTRv4 keys")
    try:
        return Identity(account, protocol, tag, dsa_key, v4, profile, previous)
    except ValueError as exc:
        culprit = f.parts.get(b"previous-client-profiles") or f.parts.get(b"client-profile")
        raise f.error(str(exc), culprit) from None


def _read_v4(f: _Fields) -> V4Keys | None:
    forging_fields = [n for n in (b"ed448-forging", b"ed448-forging-public") if n in f]
    if b"ed448-long-term" not in f:
        if forging_fields:
            raise f.error("a forging key without (ed448-long-term ...)", f.parts[forging_fields[0]])
        return None
    if len(forging_fields) != 1:
        raise f.error(
            "(ed448-long-term ...) needs exactly one of (ed448-forging ...) and "
            "(ed448-forging-public ...)"
        )
    long_term = Ed448KeyPair.from_symmetric_key(f.atom(b"ed448-long-term", SYMMETRIC_KEY_BYTES))
    if forging_fields[0] == b"ed448-forging":
        kp = Ed448KeyPair.from_symmetric_key(f.atom(b"ed448-forging", SYMMETRIC_KEY_BYTES))
        return V4Keys(long_term, ForgingKey(kp.public, kp))
    raw = f.atom(b"ed448-forging-public", ed448.POINT_BYTES)
    try:
        point = ed448.decode_point(raw)
    except (InvalidGroupElement, DecodeError):
        raise f.error(
            "the forging key is not a valid point", f.parts[b"ed448-forging-public"]
        ) from None
    return V4Keys(long_term, ForgingKey(point))


_Store = TypeVar("_Store", bound=KeyFile)


class IdentityStore(KeyFile):
    """Our identities, one per (account, protocol), in ``otr.identities`` (module doc).

    Works from memory (:meth:`from_bytes` / :meth:`to_bytes`) or on a file
    (:meth:`from_file` / :meth:`save`, atomic and mode 0600).
    """

    def __init__(self) -> None:
        self._identities: dict[tuple[str, str], Identity] = {}

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str | None = None) -> IdentityStore:
        """Parse the contents of an ``otr.identities`` file (strictly)."""
        try:
            top = parse(data)
        except KeyFileError as e:
            raise e.with_source(source) if source is not None else e from None
        if top.head() != b"otr-identities":
            raise _error("not an identity file: expected (otr-identities ...)", top, source)
        version = top[1] if len(top) > 1 else None
        if not isinstance(version, SList) or version.head() != b"version":
            raise _error("(otr-identities ...) must start with (version ...)", top, source)
        if _single_atom(version, "version", source) != str(FORMAT_VERSION).encode():
            raise _error("unsupported identity file version", version, source)
        store = cls()
        for item in top[2:]:
            if not isinstance(item, SList) or item.head() != b"identity":
                where = item if isinstance(item, SList) else top
                raise _error("expected (identity ...)", where, source)
            identity = _read_identity(item, source)
            key = (identity.account, identity.protocol)
            if key in store._identities:
                raise _error("a second identity for the same account and protocol", item, source)
            store._identities[key] = identity
        return store

    def to_bytes(self) -> bytes:
        """The file contents (version 1)."""
        version = encode_atom(str(FORMAT_VERSION).encode())
        out = [b"(otr-identities\n", b" (version " + version + b")\n"]
        out += [_encode_identity(i) for i in self._identities.values()]
        out.append(b")\n")
        return b"".join(out)

    def get(self, account: str, protocol: str) -> Identity | None:
        """The identity of (account, protocol), or None."""
        return self._identities.get((account, protocol))

    def set(self, identity: Identity) -> None:
        """Store ``identity``, replacing the account's previous one (keeping its place)."""
        text_to_bytes(identity.account, "account")
        text_to_bytes(identity.protocol, "protocol")
        self._identities[(identity.account, identity.protocol)] = identity

    def remove(self, account: str, protocol: str) -> bool:
        """Forget the account's identity; True if there was one."""
        return self._identities.pop((account, protocol), None) is not None

    def accounts(self) -> list[tuple[str, str]]:
        """(account, protocol) pairs in file order."""
        return list(self._identities)

    def identities(self) -> list[Identity]:
        return list(self._identities.values())

    def __len__(self) -> int:
        return len(self._identities)

    def __repr__(self) -> str:
        return f"<IdentityStore {self.accounts()!r}>"


def load_identity(
    directory: str | os.PathLike[str], account: str, protocol: str
) -> Identity | None:
    """Our identity for (account, protocol) from a key directory as ``otr keys`` keeps it
    (:mod:`otr.cli.keys`): the OTRv4 part from ``otr.identities`` and the DSA key from
    libotr's ``otr.private_key`` (unless the identity holds one itself); for an account
    with only a DSA key, the instance tag comes from ``otr.instance_tags``.  None when
    the directory has no identity for the account.  Missing files count as empty;
    malformed ones raise :class:`KeyFileError`."""
    base = os.fspath(directory)

    def load(name: str, cls: type[_Store]) -> _Store:
        path = os.path.join(base, name)
        return cls.from_file(path) if os.path.exists(path) else cls()

    identity = load(IDENTITY_FILE, IdentityStore).get(account, protocol)
    dsa_key = load(PRIVKEY_FILE, PrivateKeyStore).get(account, protocol)
    if identity is not None:
        if identity.dsa_key is None and dsa_key is not None:
            identity = dataclasses.replace(identity, dsa_key=dsa_key)
        return identity
    tag = load(INSTAG_FILE, InstanceTagStore).get(account, protocol)
    if dsa_key is None or tag is None:
        return None
    return Identity(account, protocol, tag, dsa_key)
