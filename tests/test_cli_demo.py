"""``otr demo``: the default (OTRv3 and OTRv4 allowed) negotiates OTRv4, ``--v4``
(OTRv4 only), ``--v3`` and ``--v2`` keep the older versions; what the receivers
got is printed beside the wire messages."""

from __future__ import annotations

import pytest

from otr.cli import main

TEXTS = ("Hello Bob, this is private.", "Let's rotate some keys.")


def demo(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["demo", *args]) == 0
    return capsys.readouterr().out


def test_default_negotiates_v4(capsys: pytest.CaptureFixture[str]) -> None:
    out = demo(capsys, "--smp")
    assert "?OTRv34?" in out
    for label in ("[v4 Identity]", "[v4 Auth-R]", "[v4 Auth-I]", "[v4 Data]"):
        assert label in out
    assert out.count("SECURE (OTRv4)") == 2 and "D-H Commit" not in out
    assert all(repr(t) in out for t in TEXTS)
    assert "a new ECDH key" in out
    assert out.count("SmpSucceeded") == 2
    assert out.rstrip().endswith("alice: plaintext, bob: finished")


def test_v4_only_with_fragments(capsys: pytest.CaptureFixture[str]) -> None:
    out = demo(capsys, "--v4", "--fragment", "300")
    assert "?OTRv4?" in out and "[fragment] ?OTR|" in out
    assert out.count("SECURE (OTRv4)") == 2
    assert all(repr(t) in out for t in TEXTS)


@pytest.mark.parametrize(("flag", "version"), [("--v3", 3), ("--v2", 2)])
def test_older_versions(capsys: pytest.CaptureFixture[str], flag: str, version: int) -> None:
    out = demo(capsys, flag)
    assert f"[v{version} D-H Commit]" in out and f"[v{version} Data]" in out
    # (not a bare "v4" substring: base 64 in the wire column can contain one)
    assert out.count(f"SECURE (OTRv{version})") == 2
    assert "[v4 " not in out and "OTRv4" not in out
    assert all(repr(t) in out for t in TEXTS)
    assert "fresh D-H key" in out


def test_version_flags_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--v3", "--v4"])
