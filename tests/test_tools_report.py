"""otr.tools.report: JSON and human rendering, shortening, redaction."""

from __future__ import annotations

import json

from otr.tools.report import Mpi, Report, Secret, format_report, plain_value, report_to_json

BIG = Mpi(int("c0ffee" * 64, 16))


def _report() -> Report:
    inner = Report(3, "encoded", "v3 D-H Key Message", {"gy": BIG})
    return Report(
        3,
        "fragment",
        "v3 fragment 2/2",
        {"k": 2, "raw": bytes(range(40)), "tiny": b"\x01", "empty": b"", "names": ["A"]},
        sections={"decrypted": {"aes_key": Secret(b"\xaa" * 16), "message": "hi"}},
        notes=["completes a message of 9 characters"],
        inner=inner,
        error=None,
    )


def test_plain_value() -> None:
    assert plain_value(Secret(b"\x01\x02"), False) == "<redacted: 2 bytes>"
    assert plain_value(Secret(b"\x01\x02"), True) == "0102"
    assert plain_value(Mpi(255), False) == "ff"
    assert plain_value({"a": [b"\x00", 7, None]}, False) == {"a": ["00", 7, None]}


def test_json_rendering() -> None:
    out = report_to_json(_report())
    json.dumps(out)
    assert out["decrypted"] == {"aes_key": "<redacted: 16 bytes>", "message": "hi"}
    assert out["reassembled"]["fields"]["gy"] == f"{int(BIG):x}"
    assert out["notes"] == ["completes a message of 9 characters"] and "error" not in out
    assert report_to_json(_report(), show_secrets=True)["decrypted"]["aes_key"] == "aa" * 16
    assert report_to_json(Report(1, "invalid", "x", error="bad"))["error"] == "bad"


def test_human_rendering() -> None:
    text = format_report(_report())
    assert text.splitlines()[0] == "#3 [fragment] v3 fragment 2/2"
    assert f"0x{int(BIG):x}"[:14] + "…" in text and f"({int(BIG).bit_length()} bits)" in text
    assert "(40 bytes)" in text and "tiny: 01" in text and "empty: (empty)" in text
    assert "aes_key: <redacted: 16 bytes>" in text and "message: 'hi'" in text
    assert "\n  #3 [encoded] v3 D-H Key Message\n    gy: " in text  # the inner report, indented
    full = format_report(_report(), show_secrets=True, full=True)
    assert bytes(range(40)).hex() in full and f"0x{int(BIG):x}" in full and "aa" * 16 in full
    assert repr(Secret(b"\xaa" * 16)) == "Secret(<16 bytes>)"
