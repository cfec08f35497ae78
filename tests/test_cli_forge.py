"""``otr forge``: each subcommand through the command line, against coyim's known answers
and a real receiving Conversation."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conftest import SPEC_VECTORS
from otr import events as ev
from otr.cli import main
from otr.tools.inspect import Inspector, KeyRing
from tools_util import make_pair, received_texts

KAT = json.loads((SPEC_VECTORS / "otrv3-coyim-otr3-kat.json").read_text())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["forge", *argv]) == 0
    return capsys.readouterr().out.strip()


def test_sesskeys_and_mackey(capsys: pytest.CaptureFixture[str]) -> None:
    dm = KAT["data_message_keys"]
    out = _run(capsys, "sesskeys", "--json", dm["our_private_hex"], dm["their_public_hex"])
    rows = json.loads(out)
    assert rows["sending_aes_key"] == dm["sending_aes"]
    assert rows["receiving_mac_key"] == dm["receiving_mac"]
    assert rows["ssid"] == KAT["ake_shared_secret"]["ssid"]
    text = _run(capsys, "sesskeys", dm["our_private_hex"], dm["their_public_hex"])
    assert f"sending_mac_key: {dm['sending_mac']}" in text
    assert _run(capsys, "mackey", dm["receiving_aes"]) == dm["receiving_mac"]
    assert main(["forge", "sesskeys", "02", "01"]) == 2  # 1 is not a group element
    assert "otr forge:" in capsys.readouterr().err


@pytest.fixture
def captured() -> tuple[object, str, bytes, bytes]:
    pair = make_pair((3,), seed="cli-forge")
    pair.pump(pair.alice, pair.alice.start(pair.now))
    (wire,) = [
        e.text for e in pair.alice.send("pay 10 EUR", pair.now) if isinstance(e, ev.SendMessage)
    ]
    inspector = Inspector(KeyRing(dh_secrets=tuple(pair.alice_rng.dh_secrets)))
    for text in pair.wire:
        inspector.inspect(text)
    found = inspector.inspect(wire).sections["decrypted"]
    return pair, wire, bytes(found["aes_key"]), bytes(found["mac_key"])


def test_read_replace_modify_remac(
    captured: tuple[object, str, bytes, bytes],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair, wire, aes, mac = captured
    bob = pair.bob  # type: ignore[attr-defined]
    out = json.loads(_run(capsys, "read", "--json", aes.hex(), wire))
    assert out["mac_ok"] and out["message"] == "pay 10 EUR"
    monkeypatch.setattr("sys.stdin", io.StringIO(wire + "\n"))
    assert "message: 'pay 10 EUR'" in _run(capsys, "read", aes.hex())
    assert main(["forge", "read", bytes(16).hex(), wire]) == 1
    assert "DOES NOT VERIFY" in capsys.readouterr().out
    modified = _run(capsys, "modify", mac.hex(), "10", "99", "4", wire)
    remaced = _run(capsys, "remac", mac.hex(), modified, "--flags", "1")
    assert received_texts(bob.receive(remaced)) == ["pay 99 EUR"]
    (second,) = [e.text for e in pair.alice.send("second", 0.0) if isinstance(e, ev.SendMessage)]  # type: ignore[attr-defined]
    replaced = _run(capsys, "replace", aes.hex(), "something else", second)
    assert received_texts(bob.receive(replaced)) == ["something else"]


def test_transcript(
    tmp_path: Path, captured: tuple[object, str, bytes, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    pair, wire, aes, _ = captured
    path = tmp_path / "t.txt"
    path.write_text(wire + "\n")
    forged = _run(
        capsys, "transcript", "-f", str(path), "--aes-key", aes.hex(), "--replace", "1=pay 0 EUR"
    )
    assert received_texts(pair.bob.receive(forged)) == ["pay 0 EUR"]  # type: ignore[attr-defined]
    assert main(["forge", "transcript", "-f", str(path), "--replace", "1=x"]) == 2
    assert "no AES key" in capsys.readouterr().err


def test_transcript_jsonl(
    tmp_path: Path, captured: tuple[object, str, bytes, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    pair, wire, aes, _ = captured
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(wire) + "\n")
    argv = ["transcript", "--jsonl", "-f", str(path), "--aes-key", aes.hex()]
    out = _run(capsys, *argv, "--replace", "1=line\nbreak")
    forged = json.loads(out)
    assert received_texts(pair.bob.receive(forged)) == ["line\nbreak"]  # type: ignore[attr-defined]


def test_v4_read_modify_replace(capsys: pytest.CaptureFixture[str]) -> None:
    """OTRv4: T1's first Data Message with the MKenc / MKmac otr4j recorded."""
    data = json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())
    t1 = next(t for t in data["transcripts"] if t["id"] == "T1")
    step = next(s for s in t1["steps"] if s["kind"] == "deliver" and "mk_enc" in s.get("keys", {}))
    wire, mk_enc, mk_mac = step["wire"], step["keys"]["mk_enc"], step["keys"]["mk_mac"]
    text = step["keys"]["decoded"]["text"]
    out = json.loads(_run(capsys, "read", "--json", mk_enc, wire))
    assert out["mac_ok"] and out["message"] == text
    at = str(text.index("alice"))
    modified = _run(capsys, "modify", mk_mac, "alice", "mallo", at, wire)
    out = json.loads(_run(capsys, "read", "--json", mk_enc, modified))
    assert out["mac_ok"] and out["message"] == text.replace("alice", "mallo")
    replaced = _run(capsys, "replace", mk_enc, "new words", wire)
    out = json.loads(_run(capsys, "read", "--json", mk_enc, replaced))
    assert out["mac_ok"] and out["message"] == "new words"
