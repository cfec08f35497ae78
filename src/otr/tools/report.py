"""What :mod:`otr.tools.inspect` finds, and how it is shown.

A :class:`Report` per text; its values are plain Python values plus two markers:
:class:`Mpi` (a big number, shortened in human output) and :class:`Secret` (key material,
redacted by :func:`report_to_json` and :func:`format_report` unless ``show_secrets``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Mpi", "Report", "Secret", "Value", "format_report", "plain_value", "report_to_json"]


class Mpi(int):
    """An MPI (a D-H public key, an SMP group element): shortened in human output."""


class Secret(bytes):
    """Key material: redacted unless asked for (never logged)."""

    def __repr__(self) -> str:
        return f"Secret(<{len(self)} bytes>)"


Value = Any
"""A report value: int, str, bytes (hex), :class:`Mpi`, :class:`Secret`, bool, None, or a
list / dict of those."""


@dataclass
class Report:
    """What one text was.  ``kind`` is a :class:`~otr.wire.envelope.MessageKind` value (or
    ``"invalid"`` for a text that looked like OTR but did not decode); ``fields`` are the
    message's fields by the spec's names; ``sections`` hold what keys revealed (``"decrypted"``,
    ``"signed_part"``); ``inner`` is the reassembled message of a completing fragment."""

    index: int
    kind: str
    title: str
    fields: dict[str, Value] = field(default_factory=dict)
    sections: dict[str, dict[str, Value]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    inner: Report | None = None
    error: str | None = None
    version: int | None = None
    message_type: int | None = None


def plain_value(value: Value, show_secrets: bool) -> Value:
    """``value`` for JSON: bytes and MPIs as lowercase hex, secrets redacted unless
    ``show_secrets``."""
    if isinstance(value, Secret):
        return value.hex() if show_secrets else f"<redacted: {len(value)} bytes>"
    if isinstance(value, Mpi):
        return f"{int(value):x}"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [plain_value(v, show_secrets) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v, show_secrets) for k, v in value.items()}
    return value


def report_to_json(report: Report, show_secrets: bool = False) -> dict[str, Value]:
    """A JSON-serialisable dict: bytes and MPIs as lowercase hex, secrets redacted unless
    ``show_secrets``."""
    out: dict[str, Value] = {
        "index": report.index,
        "kind": report.kind,
        "title": report.title,
        "fields": plain_value(report.fields, show_secrets),
    }
    for name, section in report.sections.items():
        out[name] = plain_value(section, show_secrets)
    if report.notes:
        out["notes"] = list(report.notes)
    if report.error is not None:
        out["error"] = report.error
    if report.inner is not None:
        out["reassembled"] = report_to_json(report.inner, show_secrets)
    return out


def _short(value: Value, show_secrets: bool, full: bool) -> str:
    if isinstance(value, Secret):
        return value.hex() if show_secrets else f"<redacted: {len(value)} bytes>"
    if isinstance(value, Mpi):
        digits = f"{int(value):x}"
        if full or len(digits) <= 24:
            return f"0x{digits}"
        return f"0x{digits[:12]}…{digits[-8:]} ({int(value).bit_length()} bits)"
    if isinstance(value, bytes):
        if full or len(value) <= 24:
            return value.hex() or "(empty)"
        return f"{value[:12].hex()}…{value[-4:].hex()} ({len(value)} bytes)"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{k}={_short(v, show_secrets, full)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "; ".join(_short(item, show_secrets, full) for item in value)
    if isinstance(value, list):
        return "[" + ", ".join(_short(v, show_secrets, full) for v in value) + "]"
    return str(value)


def format_report(
    report: Report, show_secrets: bool = False, full: bool = False, indent: str = ""
) -> str:
    """Human-readable report: one line per field; long MPIs and byte strings shortened unless
    ``full``; secrets redacted unless ``show_secrets``."""
    lines = [f"{indent}#{report.index} [{report.kind}] {report.title}"]
    pad = indent + "  "
    for name, value in report.fields.items():
        lines.append(f"{pad}{name}: {_short(value, show_secrets, full)}")
    for section_name, section in report.sections.items():
        lines.append(f"{pad}{section_name}:")
        for name, value in section.items():
            lines.append(f"{pad}  {name}: {_short(value, show_secrets, full)}")
    lines.extend(f"{pad}note: {note}" for note in report.notes)
    if report.error is not None:
        lines.append(f"{pad}error: {report.error}")
    if report.inner is not None:
        lines.append(format_report(report.inner, show_secrets, full, pad))
    return "\n".join(lines)
