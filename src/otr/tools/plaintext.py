"""Decrypted Data Message plaintexts: the message and its TLV records (OTRv3 spec "Data
Message", TLV types 0-8; otr-v4.md "Data Message", "TLV Record Types"), decoded with
:mod:`otr.wire.tlv` and, for OTRv4 SMP, :mod:`otr.smp.v4_messages`."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields

from ..crypto.ed448 import Point, encode_scalar
from ..errors import DecodeError, RemoteProtocolError
from ..smp.v4_messages import SmpMessage, SmpMessage1, SmpMessage2, SmpMessage3, SmpMessage4
from ..wire import tlv
from ..wire.buffer import Reader
from .report import Mpi, Value

__all__ = ["TLV_NAMES", "TLV_NAMES_V4", "describe_plaintext"]

TLV_NAMES = {
    tlv.PADDING: "Padding",
    tlv.DISCONNECTED: "Disconnected",
    tlv.SMP1: "SMP Message 1",
    tlv.SMP2: "SMP Message 2",
    tlv.SMP3: "SMP Message 3",
    tlv.SMP4: "SMP Message 4",
    tlv.SMP_ABORT: "SMP Abort Message",
    tlv.SMP1Q: "SMP Message 1Q",
    tlv.EXTRA_SYMMETRIC_KEY: "Extra symmetric key",
}
"""OTRv3 spec "Data Message", TLV types 0-8."""

TLV_NAMES_V4 = {
    0: "Padding",
    1: "Disconnected",
    2: "SMP Message 1",
    3: "SMP Message 2",
    4: "SMP Message 3",
    5: "SMP Message 4",
    6: "SMP Abort Message",
    7: "Extra symmetric key",
}
"""otr-v4.md "TLV Record Types" (no SMP1Q; type 7 is the extra symmetric key)."""


def describe_plaintext(plaintext: bytes, version: int = 3) -> dict[str, Value]:
    """A decrypted plaintext: the message and its TLVs (spec "Data Message": message, then
    optionally NUL and TLV records; ``version`` 4 names the TLVs after otr-v4.md)."""
    message, tlv_bytes = tlv.split_plaintext(plaintext)
    out: dict[str, Value] = {"message": message.decode("utf-8", errors="replace")}
    try:
        records = tlv.decode_tlvs(tlv_bytes)
    except DecodeError as exc:
        out["tlv_error"] = str(exc)
        records = []
    out["tlvs"] = [_describe_tlv(r.type, r.value, version) for r in records]
    return out


_SMP_TLVS = {tlv.SMP1, tlv.SMP2, tlv.SMP3, tlv.SMP4, tlv.SMP1Q}
_SMP_V4: dict[int, type[SmpMessage]] = {
    m.TLV_TYPE: m for m in (SmpMessage1, SmpMessage2, SmpMessage3, SmpMessage4)
}
"""otr-v4.md "SMP Message 1" ... "SMP Message 4": TLV types 2-5."""


def _describe_tlv(tlv_type: int, value: bytes, version: int) -> dict[str, Value]:
    names = TLV_NAMES_V4 if version == 4 else TLV_NAMES
    out: dict[str, Value] = {
        "type": tlv_type,
        "name": names.get(tlv_type, "unknown"),
        "length": len(value),
    }
    if version == 4:
        smp = _SMP_V4.get(tlv_type)
        if smp is not None:
            try:
                decoded = smp.decode(value)
            except RemoteProtocolError as exc:
                out["error"] = str(exc)
                return out
            for f in dataclass_fields(decoded):
                v = getattr(decoded, f.name)
                if f.name == "question":
                    out["question"] = v.decode("utf-8", errors="replace")
                else:
                    out[f.name] = v.encode() if isinstance(v, Point) else encode_scalar(v)
        elif tlv_type == 7 and len(value) >= 4:
            out["use"] = int.from_bytes(value[:4], "big")
            out["usedata"] = value[4:]
        elif value:
            out["value"] = value
    elif tlv_type in _SMP_TLVS:
        body = value
        if tlv_type == tlv.SMP1Q:
            question, nul, body = value.partition(b"\0")
            out["question"] = question.decode("utf-8", errors="replace")
            if not nul:
                out["error"] = "question not NUL-terminated"
                return out
        try:
            r = Reader(body)
            count = r.get_int()
            if count > 16:
                raise DecodeError("too many MPIs")
            out["mpis"] = [Mpi(r.get_mpi()) for _ in range(count)]
            r.finish()
        except DecodeError as exc:
            out["error"] = f"malformed SMP payload: {exc}"
    elif tlv_type == tlv.EXTRA_SYMMETRIC_KEY and len(value) >= 4:
        out["use"] = int.from_bytes(value[:4], "big")
        out["usedata"] = value[4:]
    elif tlv_type != tlv.PADDING and value:
        out["value"] = value
    return out
