"""``otr inspect``: arguments, transcript files and stdin, --json, redaction, key options."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conftest import SPEC_VECTORS
from otr.cli import main
from otr.wire.envelope import format_query
from tools_util import make_pair


@pytest.fixture(scope="module")
def transcript() -> tuple[list[str], list[int]]:
    pair = make_pair((3,), fragment=250, seed="cli")
    pair.pump(pair.alice, pair.alice.start(pair.now))
    pair.pump(pair.alice, pair.alice.send("hello from the cli test", pair.now))
    pair.pump(pair.bob, pair.bob.send("and back", pair.now))
    return pair.wire, list(pair.bob_rng.dh_secrets)


def test_messages_as_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "?OTRv3?", "?OTR Error: ERROR_1: oops", "hi"]) == 0
    out = capsys.readouterr().out
    assert "#1 [query] Query Message" in out and "versions: [3]" in out
    assert "error_code: 'ERROR_1'" in out and "#3 [plaintext]" in out


def test_transcript_file_json_and_keys(
    tmp_path: Path, transcript: tuple[list[str], list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    wire, secrets = transcript
    path = tmp_path / "t.txt"
    path.write_text("\n".join(wire) + "\n")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"dh_secrets": [f"{x:x}" for x in secrets]}))
    assert main(["inspect", "-f", str(path), "--json", "--keys-file", str(keys)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(wire)
    whole = [r.get("reassembled", r) for r in rows]
    texts = [r["decrypted"]["message"] for r in whole if "decrypted" in r]
    assert [t for t in texts if t] == ["hello from the cli test", "and back"]
    keyed = next(r for r in whole if "decrypted" in r)["decrypted"]
    assert keyed["aes_key"].startswith("<redacted")
    secret = f"{secrets[0]:x}"
    argv = ["inspect", "-f", str(path), "--json", "--show-secrets", "--dh-secret", secret]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    shown = next(r.get("reassembled", r) for r in rows if "decrypted" in r.get("reassembled", r))
    assert len(shown["decrypted"]["aes_key"]) == 32


def test_stdin_and_bad_keys(
    monkeypatch: pytest.MonkeyPatch,
    transcript: tuple[list[str], list[int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    wire, _ = transcript
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(wire[:3]) + "\n"))
    assert main(["inspect"]) == 0
    out = capsys.readouterr().out
    assert "#2 [fragment] v3 fragment 1/2" in out and "#3 [encoded] v3 D-H Commit" in out
    assert main(["inspect", "--keys-file", "/nonexistent/keys.json", "x"]) == 2
    assert "otr inspect:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["inspect", "--aes-key", "zz", "x"])


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import otr

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"otr {otr.__version__}"


def test_jsonl_input_keeps_multiline_texts(
    tmp_path: Path, transcript: tuple[list[str], list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    wire = [format_query({2, 3}, "alice@example.org"), transcript[0][1]]
    assert "\n" in wire[0]  # libotr's default Query Message has newlines
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(w) + "\n" for w in wire) + '{"text": "hi"}\n')
    assert main(["inspect", "--jsonl", "-f", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["query", "fragment", "plaintext"]
    assert rows[0]["fields"]["text"] == wire[0]
    path.write_text('{"no text": 1}\n')
    assert main(["inspect", "--jsonl", "-f", str(path)]) == 2


def test_now_validates_v4_profiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())
    t1 = next(t for t in data["transcripts"] if t["id"] == "T1")
    identity = next(
        s["wire"] for s in t1["steps"] if s["kind"] == "deliver" and "?OTR:" in s["wire"]
    )
    assert main(["inspect", "--json", "--now", str(t1["now_unix"]), identity]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["title"] == "v4 Identity Message"
    assert row["fields"]["client_profile"]["validation"] == "valid"
    assert main(["inspect", "--now", "now", identity]) == 0
    assert "validation=" in capsys.readouterr().out  # expired by now, or valid: either way shown
    assert main(["inspect", "--now", "yesterday", identity]) == 2


@pytest.mark.parametrize(
    "content",
    [
        '{"aes_keys": [5]}',
        '["not", "an", "object"]',
        '{"dh_secrets": "ab"}',
        "{nope",
        '{"aes_keys": ["zz"]}',
    ],
)
def test_bad_keys_files(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(content)
    assert main(["inspect", "--keys-file", str(keys), "hi"]) == 2
    assert capsys.readouterr().err.startswith("otr inspect: ")


def test_unreadable_transcript(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["inspect", "-f", str(path)]) == 2
    assert main(["inspect", "-f", str(tmp_path / "missing")]) == 2
