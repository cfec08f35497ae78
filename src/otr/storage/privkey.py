"""Our long-term DSA keys in libotr's ``otr.private_key`` format.

The file is one S-expression (libotr 4.1.1 ``privkey.c``; syntax in
:mod:`otr.storage.sexp`)::

    (privkeys
     (account
    (name "alice@example.org")
    (protocol prpl-jabber)
    (private-key
     (dsa
      (p #00FC...#)
      (q #00E4...#)
      (g #2F3A...#)
      (y #09B1...#)
      (x #3C21...#)
      )
     )
     )
    )

Bytes libotr writes (``otrl_privkey_generate_finish_FILEp`` / ``account_write``):
the literal line ``(privkeys``; for each account the literal line `` (account``,
then ``(name N)``, ``(protocol P)`` and the ``(private-key ...)`` expression
each printed by libgcrypt's advanced printer (which adds the final newline, a
space after an atom that precedes a sub-list, and its own indentation), then
the literal line `` )``; finally ``)``.  N and P are atoms, so they print as a
bare token (``prpl-jabber``, ``xmpp``), a quoted string
(``"alice@example.org"``: ``@`` is not a token character, nor is a leading
digit) or ``#hex#`` (binary, e.g. a name starting with a non-ASCII byte).  The
numbers are libgcrypt's signed ("STD") MPI encoding: big-endian, with a leading
00 byte when the top bit is set; libotr reads them back as unsigned.

libotr keeps the ``(private-key ...)`` expression it read and prints it back
as is, and so does :class:`PrivateKeyStore`: a file libotr wrote comes back
byte for byte.  libotr reads accounts by pushing each on the front of a list,
so when an account appears twice the *last* one wins; :meth:`get` agrees.
When libotr adds a key it rewrites the other accounts in reverse order and the
new one last; we keep the order of the file and put a new or replaced key last
(the same bytes for the usual one- or two-account file).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto.dsa import DSAPrivateKey, DSAPublicKey
from ..errors import DecodeError
from .keyfile import KeyFile
from .sexp import (
    KeyFileError,
    SExp,
    SList,
    bytes_to_text,
    parse,
    sprint_advanced,
    text_to_bytes,
)

__all__ = ["PrivateKeyStore"]

_DSA_PARAMS = (b"p", b"q", b"g", b"y", b"x")


@dataclass
class _Account:
    name: bytes
    protocol: bytes
    private_key: SList  # the (private-key ...) expression, printed back unchanged
    key: DSAPrivateKey


def _mpi_std(n: int) -> bytes:
    """libgcrypt's GCRYMPI_FMT_STD for n >= 0: big-endian, a 00 byte when the top bit is set."""
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if raw and raw[0] & 0x80:
        raw = b"\x00" + raw
    return raw


def _key_sexp(key: DSAPrivateKey) -> SList:
    pub = key.public
    values = (pub.p, pub.q, pub.g, pub.y, key.x)
    params = [SList([n, _mpi_std(v)]) for n, v in zip(_DSA_PARAMS, values, strict=True)]
    dsa = SList([b"dsa", *params])
    return SList([b"private-key", dsa])


def _error(message: str, node: SList, source: str | None) -> KeyFileError:
    return KeyFileError(message, source=source, line=node.line or None, column=node.column or None)


def _single_atom(node: SList, what: str, source: str | None) -> bytes:
    """The value of ``(what VALUE)``."""
    if len(node) != 2 or not isinstance(node[1], bytes):
        raise _error(f"({what} ...) must hold exactly one value", node, source)
    return node[1]


def _read_key(node: SList, source: str | None) -> DSAPrivateKey:
    """Validate ``(private-key (dsa (p ..) (q ..) (g ..) (y ..) (x ..)))``."""
    if len(node) != 2 or not isinstance(node[1], SList) or node[1].head() != b"dsa":
        raise _error("(private-key ...) must hold exactly one (dsa ...) key", node, source)
    dsa = node[1]
    found: dict[bytes, int] = {}
    for item in dsa[1:]:
        if not isinstance(item, SList):
            raise _error("unexpected value in (dsa ...)", dsa, source)
        name = item.head()
        if name not in _DSA_PARAMS:
            shown = "a list" if name is None else repr(bytes_to_text(name))
            raise _error(f"unexpected {shown} in (dsa ...)", item, source)
        if name in found:
            raise _error(f"({name.decode()} ...) appears twice in (dsa ...)", item, source)
        found[name] = int.from_bytes(_single_atom(item, name.decode(), source), "big")
    missing = [n.decode() for n in _DSA_PARAMS if n not in found]
    if missing:
        raise _error(f"(dsa ...) lacks {', '.join(missing)}", dsa, source)
    p, q, g, y, x = (found[n] for n in _DSA_PARAMS)
    try:
        DSAPublicKey(p, q, g, y).check()
    except DecodeError:
        raise _error("unacceptable DSA parameters", dsa, source) from None
    if not 0 < x < q:
        raise _error("DSA private value x out of range", dsa, source)
    try:
        return DSAPrivateKey.from_numbers(p, q, g, y, x)
    except ValueError:
        raise _error("DSA key is inconsistent (y != g^x mod p)", dsa, source) from None


def _read_account(node: SExp, source: str | None) -> _Account:
    if not isinstance(node, SList) or node.head() != b"account":
        if isinstance(node, SList):
            raise _error("expected (account ...)", node, source)
        raise KeyFileError("expected (account ...), found a bare value", source=source)
    parts: dict[bytes, SList] = {}
    for item in node[1:]:
        name = item.head() if isinstance(item, SList) else None
        if (
            not isinstance(item, SList)
            or name is None
            or name not in (b"name", b"protocol", b"private-key")
        ):
            raise _error(
                "(account ...) may only hold (name ...), (protocol ...) and (private-key ...)",
                item if isinstance(item, SList) else node,
                source,
            )
        if name in parts:
            raise _error(f"({name.decode()} ...) appears twice in (account ...)", item, source)
        parts[name] = item
    for required in (b"name", b"protocol", b"private-key"):
        if required not in parts:
            raise _error(f"(account ...) lacks ({required.decode()} ...)", node, source)
    account = _single_atom(parts[b"name"], "name", source)
    protocol = _single_atom(parts[b"protocol"], "protocol", source)
    for value, what in ((account, "name"), (protocol, "protocol")):
        if b"\x00" in value:
            raise _error(f"({what} ...) contains a NUL byte", parts[what.encode()], source)
    key = _read_key(parts[b"private-key"], source)
    return _Account(account, protocol, parts[b"private-key"], key)


class PrivateKeyStore(KeyFile):
    """Our DSA keys, one per (account, protocol), as libotr's ``otr.private_key``.

    Works from memory (:meth:`from_bytes` / :meth:`to_bytes`) or on a file
    (:meth:`from_file` / :meth:`save`, atomic and mode 0600).  Malformed input
    raises :class:`~otr.storage.KeyFileError` with the line and column.
    """

    def __init__(self) -> None:
        self._accounts: list[_Account] = []

    # -- serialisation ---------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, source: str | None = None) -> PrivateKeyStore:
        """Parse the contents of an ``otr.private_key`` file."""
        try:
            top = parse(data)
        except KeyFileError as e:
            raise e.with_source(source) if source is not None else e from None
        if top.head() != b"privkeys":
            raise _error("not a libotr key file: expected (privkeys ...)", top, source)
        store = cls()
        store._accounts = [_read_account(item, source) for item in top[1:]]
        return store

    def to_bytes(self) -> bytes:
        """The file contents, exactly as libotr writes them."""
        out = [b"(privkeys\n"]
        for acct in self._accounts:
            out.append(b" (account\n")
            out.append(sprint_advanced(SList([b"name", acct.name])))
            out.append(sprint_advanced(SList([b"protocol", acct.protocol])))
            out.append(sprint_advanced(acct.private_key))
            out.append(b" )\n")
        out.append(b")\n")
        return b"".join(out)

    # -- keys --------------------------------------------------------------------
    def get(self, account: str, protocol: str) -> DSAPrivateKey | None:
        """Our key for the account, or None (the last entry wins, as in libotr)."""
        name = text_to_bytes(account, "account")
        proto = text_to_bytes(protocol, "protocol")
        for acct in reversed(self._accounts):
            if acct.name == name and acct.protocol == proto:
                return acct.key
        return None

    def set(self, account: str, protocol: str, key: DSAPrivateKey) -> None:
        """Store ``key`` for the account, replacing any other; it goes last in the file."""
        if not isinstance(key, DSAPrivateKey):
            raise TypeError("key must be a DSAPrivateKey")
        name = text_to_bytes(account, "account")
        proto = text_to_bytes(protocol, "protocol")
        self._drop(name, proto)
        self._accounts.append(_Account(name, proto, _key_sexp(key), key))

    def remove(self, account: str, protocol: str) -> bool:
        """Forget the account's key; True if there was one."""
        return self._drop(text_to_bytes(account, "account"), text_to_bytes(protocol, "protocol"))

    def _drop(self, name: bytes, proto: bytes) -> bool:
        before = len(self._accounts)
        self._accounts = [a for a in self._accounts if not (a.name == name and a.protocol == proto)]
        return len(self._accounts) != before

    def accounts(self) -> list[tuple[str, str]]:
        """(account, protocol) pairs in file order, each once."""
        seen: dict[tuple[bytes, bytes], None] = {}
        for acct in self._accounts:
            seen.setdefault((acct.name, acct.protocol), None)
        return [(bytes_to_text(n), bytes_to_text(p)) for n, p in seen]

    def fingerprint(self, account: str, protocol: str) -> bytes | None:
        """The 20-byte OTR fingerprint of the account's key, or None."""
        key = self.get(account, protocol)
        return None if key is None else key.public.fingerprint()

    def __len__(self) -> int:
        return len(self.accounts())

    def __contains__(self, item: object) -> bool:
        if not (isinstance(item, tuple) and len(item) == 2):
            return False
        account, protocol = item
        if not (isinstance(account, str) and isinstance(protocol, str)):
            return False
        try:
            return self.get(account, protocol) is not None
        except ValueError:
            return False

    def __repr__(self) -> str:
        return f"<PrivateKeyStore {self.accounts()!r}>"
