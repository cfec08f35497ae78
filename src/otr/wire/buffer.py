"""Strict readers and writers for OTR's data types (spec "Data types").

BYTE, SHORT, INT (big-endian), MPI (4-byte length + minimal big-endian
magnitude), DATA (4-byte length + bytes), CTR (8 bytes), MAC (20 bytes).
A short read, a non-minimal MPI or (with :meth:`Reader.finish`) trailing bytes
raise :class:`~otr.errors.DecodeError`; nothing is ever silently truncated.
"""

from __future__ import annotations

import struct

from ..errors import DecodeError

__all__ = ["MAX_DATA_LEN", "Reader", "Writer", "encode_data", "encode_int", "encode_mpi"]

MAX_DATA_LEN = 1 << 24
"""Upper bound on any DATA/MPI length we accept (16 MiB); larger is a decode error."""

_INT = struct.Struct(">I")
_SHORT = struct.Struct(">H")


def encode_mpi(value: int) -> bytes:
    """MPI: 4-byte big-endian length, then the minimal big-endian magnitude."""
    v = int(value)
    if v < 0:
        raise ValueError("MPI must be non-negative")
    n = (v.bit_length() + 7) // 8
    return _INT.pack(n) + v.to_bytes(n, "big")


def encode_data(value: bytes) -> bytes:
    """DATA: 4-byte big-endian length, then the bytes."""
    return _INT.pack(len(value)) + value


def encode_int(value: int) -> bytes:
    return _INT.pack(value)


class Writer:
    """Accumulates an encoding; every ``put_*`` returns ``self``."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def put_byte(self, v: int) -> Writer:
        self._parts.append(bytes((v,)))
        return self

    def put_short(self, v: int) -> Writer:
        self._parts.append(_SHORT.pack(v))
        return self

    def put_int(self, v: int) -> Writer:
        self._parts.append(_INT.pack(v))
        return self

    def put_mpi(self, v: int) -> Writer:
        self._parts.append(encode_mpi(v))
        return self

    def put_data(self, v: bytes) -> Writer:
        self._parts.append(encode_data(v))
        return self

    def put_raw(self, v: bytes) -> Writer:
        self._parts.append(bytes(v))
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads OTR data types from a buffer, strictly."""

    __slots__ = ("_buf", "_pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self._buf = memoryview(buf)
        self._pos = pos

    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._buf) - self._pos

    def get_raw(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._buf):
            raise DecodeError("truncated input")
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        return out

    def get_byte(self) -> int:
        return self.get_raw(1)[0]

    def get_short(self) -> int:
        v: int = _SHORT.unpack(self.get_raw(2))[0]
        return v

    def get_int(self) -> int:
        v: int = _INT.unpack(self.get_raw(4))[0]
        return v

    def _get_length(self) -> int:
        n = self.get_int()
        if n > MAX_DATA_LEN or n > self.remaining():
            raise DecodeError("length field exceeds input")
        return n

    def get_data(self) -> bytes:
        return self.get_raw(self._get_length())

    def get_mpi(self) -> int:
        raw = self.get_raw(self._get_length())
        if raw[:1] == b"\x00":
            raise DecodeError("non-minimal MPI")
        return int.from_bytes(raw, "big")

    def get_rest(self) -> bytes:
        return self.get_raw(self.remaining())

    def finish(self) -> None:
        """Require that the whole input was consumed."""
        if self._pos != len(self._buf):
            raise DecodeError("trailing bytes")
