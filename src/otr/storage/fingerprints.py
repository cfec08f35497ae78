"""Known fingerprints and their trust, in libotr's ``otr.fingerprints`` format.

One line per fingerprint (libotr 4.1.1 ``otrl_privkey_write_fingerprints``)::

    username<TAB>accountname<TAB>protocol<TAB>40 lower-case hex digits<TAB>trust<LF>

OTRv4 fingerprints (56 bytes, 112 hex digits, :func:`otr.v4.keys.fingerprint`) are
kept beside libotr's 20-byte ones, on lines of the same layout.  libotr 4.1.1
(``otrl_privkey_read_fingerprints_FILEp``) skips any line whose fingerprint is not 40
hex digits, so it still reads what it understands in such a file -- but when it writes
the file back it keeps only its own lines.  So on disk they are kept apart:
:meth:`FingerprintStore.save` writes the 20-byte fingerprints to the given path
(libotr's file, unchanged) and the 56-byte ones to the sibling file with
:data:`V4_SUFFIX` appended (``otr.fingerprints.v4``), which :meth:`~FingerprintStore.from_file`
reads back when it exists.  In memory, :meth:`~FingerprintStore.to_bytes` gives every
line (v4 lines are then skipped by libotr, read by us); :meth:`~FingerprintStore.libotr_bytes`
and :meth:`~FingerprintStore.v4_bytes` give the two files' contents.

``trust`` is free text: libotr writes what the application set (Pidgin uses
``verified`` for a manual check and ``smp`` after a successful SMP) and treats
any non-empty string as verified; an empty field means "seen, not verified".
On reading, libotr also accepts a line without the trust field, upper-case hex
and a CR before the LF, and silently skips any line it cannot parse -- we
raise :class:`~otr.storage.KeyFileError` with the line number instead (only
blank lines are allowed and dropped).  The trust field is everything after the
fourth tab, so it may itself contain tabs.

Order: libotr keeps one context per (username, accountname, protocol), sorted
by those three strings (``strcmp``), and pushes a newly seen fingerprint on the
front of its context's list, then writes contexts and fingerprints in that
order.  (So libotr itself reverses each context's fingerprints every time it
reads and rewrites the file.)  :class:`FingerprintStore` keeps the order of the
file -- a file libotr wrote comes back byte for byte -- and places a new
fingerprint where libotr would: before the first one of its context, or for a
new context at its sorted position.  A fingerprint listed twice is one
fingerprint for libotr, with the later line's trust; :meth:`get_trust` agrees.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from ..events import Trust
from .atomic import atomic_write
from .keyfile import KeyFile, reject_stray_bytes, text_lines
from .sexp import KeyFileError, bytes_to_text, text_to_bytes

__all__ = ["V4_SUFFIX", "FingerprintEntry", "FingerprintStore", "v4_path"]

V3_FINGERPRINT_BYTES = 20
"""libotr's (OTRv3) fingerprints: SHA-1 of the DSA public key."""
V4_FINGERPRINT_BYTES = 56
"""OTRv4 fingerprints (spec "Public keys, ... and Fingerprints")."""
V4_SUFFIX = ".v4"
"""Appended to the file name for the sibling file of the OTRv4 fingerprints."""
_LENGTHS = (V3_FINGERPRINT_BYTES, V4_FINGERPRINT_BYTES)

_HEX = frozenset(b"0123456789abcdefABCDEF")
_NAME_FORBIDDEN = b"\t\r\n"
_TRUST_FORBIDDEN = b"\r\n"

# (username, accountname, protocol, fingerprint, trust) as stored in the file
_Row = tuple[bytes, bytes, bytes, bytes, bytes]


@dataclass(frozen=True)
class FingerprintEntry:
    """One line of ``otr.fingerprints``."""

    username: str
    account: str
    protocol: str
    fingerprint: bytes
    trust: str = ""

    @property
    def verified(self) -> bool:
        """libotr's rule: any non-empty trust string means verified."""
        return bool(self.trust)


def _fp(fingerprint: bytes) -> bytes:
    if not isinstance(fingerprint, bytes | bytearray) or len(fingerprint) not in _LENGTHS:
        raise ValueError("a fingerprint is 20 (OTRv3) or 56 (OTRv4) bytes")
    return bytes(fingerprint)


def v4_path(path: str | os.PathLike[str]) -> str:
    """The sibling file of ``path`` that holds the OTRv4 fingerprints."""
    return os.fspath(path) + V4_SUFFIX


class FingerprintStore(KeyFile):
    """The fingerprint/trust store; implements :class:`otr.conversation.TrustStore`.

    Usable from memory (:meth:`from_bytes` / :meth:`to_bytes`) or on a file
    (:meth:`from_file` / :meth:`save`, atomic, mode 0600).
    """

    def __init__(self) -> None:
        self._rows: list[_Row] = []

    # -- serialisation ---------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, source: str | None = None) -> FingerprintStore:
        """Parse the contents of an ``otr.fingerprints`` file (strictly); lines with
        OTRv4 fingerprints are accepted too."""
        store = cls()
        store._parse_into(data, source, _LENGTHS)
        return store

    def _parse_into(self, data: bytes, source: str | None, lengths: tuple[int, ...]) -> None:
        for number, line in text_lines(data, source):
            self._rows.append(self._parse_line(line, number, source, lengths))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> FingerprintStore:
        """Read ``path`` and, when it exists, its OTRv4 sibling (:func:`v4_path`, only
        56-byte fingerprints); OSError when ``path`` cannot be read, KeyFileError when
        either file is malformed."""
        store = super().from_file(path)
        sibling = v4_path(path)
        if os.path.exists(sibling):
            with open(sibling, "rb") as f:
                store._parse_into(f.read(), sibling, (V4_FINGERPRINT_BYTES,))
        return store

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write libotr's file to ``path`` and the OTRv4 fingerprints to its sibling
        (:func:`v4_path`; only when there are any or the sibling exists), each atomically
        with mode 0600."""
        atomic_write(path, self.libotr_bytes(), 0o600)
        sibling = v4_path(path)
        v4 = self.v4_bytes()
        if v4 or os.path.exists(sibling):
            atomic_write(sibling, v4, 0o600)

    @staticmethod
    def _parse_line(line: bytes, number: int, source: str | None, lengths: tuple[int, ...]) -> _Row:
        def fail(message: str, column: int | None = None) -> KeyFileError:
            return KeyFileError(message, source=source, line=number, column=column)

        reject_stray_bytes(line, source, number)
        fields = line.split(b"\t", 4)
        if len(fields) < 4:
            raise fail(
                "expected username, account, protocol, fingerprint and trust separated by tabs"
            )
        username, account, protocol, hexfp = fields[:4]
        trust = fields[4] if len(fields) == 5 else b""
        column = len(username) + len(account) + len(protocol) + 4
        if len(hexfp) not in [2 * n for n in lengths] or not all(c in _HEX for c in hexfp):
            digits = " or ".join(str(2 * n) for n in lengths)
            raise fail(f"the fingerprint must be {digits} hexadecimal digits", column)
        return (username, account, protocol, bytes.fromhex(hexfp.decode("ascii")), trust)

    def to_bytes(self) -> bytes:
        """Every line, as libotr writes them (OTRv4 lines have 112 hex digits)."""
        return self._lines(_LENGTHS)

    def libotr_bytes(self) -> bytes:
        """The lines of the 20-byte fingerprints: libotr's ``otr.fingerprints``."""
        return self._lines((V3_FINGERPRINT_BYTES,))

    def v4_bytes(self) -> bytes:
        """The lines of the 56-byte OTRv4 fingerprints (the sibling file)."""
        return self._lines((V4_FINGERPRINT_BYTES,))

    def _lines(self, lengths: tuple[int, ...]) -> bytes:
        return b"".join(
            b"%s\t%s\t%s\t%s\t%s\n" % (u, a, p, fp.hex().encode("ascii"), t)
            for u, a, p, fp, t in self._rows
            if len(fp) in lengths
        )

    # -- queries -------------------------------------------------------------------
    @staticmethod
    def _context(account: str, protocol: str, username: str) -> tuple[bytes, bytes, bytes]:
        return (
            text_to_bytes(username, "username", _NAME_FORBIDDEN),
            text_to_bytes(account, "account", _NAME_FORBIDDEN),
            text_to_bytes(protocol, "protocol", _NAME_FORBIDDEN),
        )

    def entries(self) -> list[FingerprintEntry]:
        """Every line, in file order."""
        return [
            FingerprintEntry(
                bytes_to_text(u), bytes_to_text(a), bytes_to_text(p), fp, bytes_to_text(t)
            )
            for u, a, p, fp, t in self._rows
        ]

    def find(
        self, account: str, protocol: str, username: str, fingerprint: bytes
    ) -> FingerprintEntry | None:
        """The entry for this fingerprint (the last line when listed twice), or None."""
        ctx = self._context(account, protocol, username)
        fp = _fp(fingerprint)
        for u, a, p, f, t in reversed(self._rows):
            if (u, a, p) == ctx and f == fp:
                return FingerprintEntry(username, account, protocol, fp, bytes_to_text(t))
        return None

    def get_trust(self, account: str, protocol: str, username: str, fingerprint: bytes) -> Trust:
        """NEW if unknown, VERIFIED if its trust string is non-empty, else UNVERIFIED."""
        entry = self.find(account, protocol, username, fingerprint)
        if entry is None:
            return Trust.NEW
        return Trust.VERIFIED if entry.trust else Trust.UNVERIFIED

    def known_fingerprints(self, account: str, protocol: str, username: str) -> list[bytes]:
        """The peer's fingerprints, in file order, each once."""
        ctx = self._context(account, protocol, username)
        seen: dict[bytes, None] = {}
        for u, a, p, fp, _ in self._rows:
            if (u, a, p) == ctx:
                seen.setdefault(fp, None)
        return list(seen)

    # -- updates -------------------------------------------------------------------
    def add(self, account: str, protocol: str, username: str, fingerprint: bytes) -> None:
        """Remember a fingerprint (untrusted) if it is not known yet, where libotr would."""
        ctx = self._context(account, protocol, username)
        fp = _fp(fingerprint)
        if any((u, a, p) == ctx and f == fp for u, a, p, f, _ in self._rows):
            return
        self._insert((*ctx, fp, b""))

    def _insert(self, row: _Row) -> None:
        ctx = row[:3]
        index = next((i for i, r in enumerate(self._rows) if r[:3] == ctx), None)
        if index is None:
            index = next((i for i, r in enumerate(self._rows) if r[:3] > ctx), len(self._rows))
        self._rows.insert(index, row)

    def set_trust(
        self, account: str, protocol: str, username: str, fingerprint: bytes, trust: str
    ) -> None:
        """Set the trust string ("" = unverified), adding the fingerprint if unknown."""
        raw = text_to_bytes(trust, "trust", _TRUST_FORBIDDEN)
        ctx = self._context(account, protocol, username)
        fp = _fp(fingerprint)
        self.add(account, protocol, username, fp)
        self._rows = [
            (u, a, p, f, raw) if (u, a, p) == ctx and f == fp else (u, a, p, f, t)
            for u, a, p, f, t in self._rows
        ]

    def remove(self, account: str, protocol: str, username: str, fingerprint: bytes) -> bool:
        """Forget a fingerprint; True if it was known."""
        ctx = self._context(account, protocol, username)
        fp = _fp(fingerprint)
        before = len(self._rows)
        self._rows = [r for r in self._rows if not (r[:3] == ctx and r[3] == fp)]
        return len(self._rows) != before

    def add_entries(self, entries: Iterable[FingerprintEntry]) -> int:
        """Merge entries (e.g. from another store): unknown fingerprints are added with their
        trust, known ones gain it if they were unverified.  Returns how many lines changed."""
        changed = 0
        for e in entries:
            current = self.find(e.account, e.protocol, e.username, e.fingerprint)
            if current is None:
                raw = text_to_bytes(e.trust, "trust", _TRUST_FORBIDDEN)
                ctx = self._context(e.account, e.protocol, e.username)
                # appended, so that merging into an empty store copies the order exactly
                self._rows.append((*ctx, _fp(e.fingerprint), raw))
                changed += 1
            elif e.trust and not current.trust:
                self.set_trust(e.account, e.protocol, e.username, e.fingerprint, e.trust)
                changed += 1
        return changed

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"<FingerprintStore {len(self._rows)} fingerprints>"
