"""``otr keys``: generate, list, fingerprint, trust, import -- on libotr's files."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import otr.cli.keys as keys_cli
from otr.cli import main
from otr.crypto.dsa import DSAPrivateKey, generate_dsa_key, human_fingerprint
from otr.storage import FingerprintStore, InstanceTagStore, PrivateKeyStore
from otr.storage.identity import load_identity
from test_storage_fingerprints import LIBOTR_FILE as LIBOTR_FINGERPRINTS
from test_storage_instags import LIBOTR_FILE as LIBOTR_INSTAGS
from test_storage_privkey import LIBOTR_FILE as LIBOTR_PRIVKEYS

KEY = generate_dsa_key()
FP = human_fingerprint(KEY.public.fingerprint())
PEER_FP = "0123456789abcdef0123456789abcdef01234567"
PEER_HUMAN = "01234567 89ABCDEF 01234567 89ABCDEF 01234567"

REPO_SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty key directory (via $OTR_DIR) and a fast, fixed key generator."""
    directory = tmp_path / "otr"
    monkeypatch.setenv("OTR_DIR", str(directory))
    monkeypatch.setattr(keys_cli, "generate_dsa_key", lambda: KEY)
    return directory


def otr_keys(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["keys", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, text: str) -> None:
    assert code == 1
    assert err.startswith("otr keys: error: ") and err.count("\n") == 1, err
    assert text in err
    assert "Traceback" not in err


# -- generate ------------------------------------------------------------------------


def test_generate(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = otr_keys(capsys, "generate", "alice@example.org", "prpl-jabber")
    assert code == 0
    identity = load_identity(home, "alice@example.org", "prpl-jabber")
    assert identity is not None and identity.fingerprint is not None  # OTRv4 by default
    v4_line = f"alice@example.org (prpl-jabber): OTRv4 {human_fingerprint(identity.fingerprint)}"
    assert out == f"alice@example.org (prpl-jabber): {FP}\n{v4_line}\n"
    assert err.startswith("Generating a DSA key for alice@example.org (prpl-jabber)...")
    assert err.endswith(" done\n")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("otr.private_key", "otr.instance_tags", "otr.identities"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    store = PrivateKeyStore.from_file(home / "otr.private_key")
    assert store.get("alice@example.org", "prpl-jabber") == KEY
    tags = InstanceTagStore.from_file(home / "otr.instance_tags")
    tag = tags.get("alice@example.org", "prpl-jabber")
    assert tag is not None and tag >= 0x100

    # a second key for the same account needs --force; the instance tag is kept
    code, out, err = otr_keys(capsys, "generate", "alice@example.org", "prpl-jabber")
    assert_one_line_error(code, err, "already has a key")
    other = generate_dsa_key()
    monkeypatch.setattr(keys_cli, "generate_dsa_key", lambda: other)
    code, out, err = otr_keys(capsys, "generate", "--force", "alice@example.org", "prpl-jabber")
    assert code == 0
    assert PrivateKeyStore.from_file(home / "otr.private_key").accounts() == [
        ("alice@example.org", "prpl-jabber")
    ]
    assert (
        PrivateKeyStore.from_file(home / "otr.private_key").get("alice@example.org", "prpl-jabber")
        == other
    )
    assert InstanceTagStore.from_file(home / "otr.instance_tags").entries() == [
        ("alice@example.org", "prpl-jabber", tag)
    ]


def test_generate_real_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = otr_keys(
        capsys, "generate", "--v3-only", "--dir", str(tmp_path), "bob", "xmpp"
    )
    assert code == 0 and "done" in err
    key = PrivateKeyStore.from_file(tmp_path / "otr.private_key").get("bob", "xmpp")
    assert key is not None
    assert (key.public.p.bit_length(), key.public.q.bit_length()) == (1024, 160)
    assert out == f"bob (xmpp): {human_fingerprint(key.public.fingerprint())}\n"


def test_generate_rejects_bad_input(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = otr_keys(capsys, "generate", "", "xmpp")
    assert_one_line_error(code, err, "must not be empty")
    home.parent.mkdir(exist_ok=True)
    (home.parent / "file").write_text("x")
    code, _, err = otr_keys(capsys, "generate", "-d", str(home.parent / "file"), "a", "b")
    assert_one_line_error(code, err, "not a directory")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_spinner(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow() -> DSAPrivateKey:
        time.sleep(0.25)
        return KEY

    monkeypatch.setattr(keys_cli, "generate_dsa_key", slow)
    tty = _Tty()
    assert keys_cli._generate_with_progress("x...", tty) is KEY
    text = tty.getvalue()
    assert text.startswith("Generating a DSA key for x... ")
    assert "|\b" in text and "/\b" in text and text.endswith(" done\n")
    pipe = io.StringIO()
    assert keys_cli._generate_with_progress("x...", pipe) is KEY
    assert "." in pipe.getvalue() and "\b" not in pipe.getvalue()

    def broken() -> DSAPrivateKey:
        raise RuntimeError("no entropy")

    monkeypatch.setattr(keys_cli, "generate_dsa_key", broken)
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        keys_cli._generate_with_progress("x...", out)
    assert out.getvalue().endswith(" failed\n")


# -- list / fingerprint ----------------------------------------------------------------


def test_list_empty(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = otr_keys(capsys, "list")
    assert code == 0
    assert out == (
        f"Our keys ({home / 'otr.private_key'}):\n  (none)\n"
        f"Known fingerprints ({home / 'otr.fingerprints'}):\n  (none)\n"
    )


def test_list_and_fingerprint(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = otr_keys(capsys, "fingerprint")
    assert_one_line_error(code, err, "otr.private_key: no such file")
    otr_keys(capsys, "generate", "--v3-only", "alice@example.org", "prpl-jabber")
    otr_keys(capsys, "trust", "-a", "alice@example.org", "-p", "prpl-jabber", "bob", PEER_FP)
    code, out, _ = otr_keys(capsys, "list")
    assert code == 0
    tag = InstanceTagStore.from_file(home / "otr.instance_tags").get(
        "alice@example.org", "prpl-jabber"
    )
    assert f"  alice@example.org (prpl-jabber)  {FP}  instance tag {tag:08x}\n" in out
    assert f"  bob  to alice@example.org (prpl-jabber)  {PEER_HUMAN}  verified\n" in out

    assert otr_keys(capsys, "fingerprint") == (0, FP + "\n", "")
    assert otr_keys(capsys, "fingerprint", "--hex", "alice@example.org") == (
        0,
        KEY.public.fingerprint().hex() + "\n",
        "",
    )
    code, _, err = otr_keys(capsys, "fingerprint", "alice@example.org", "irc")
    assert_one_line_error(code, err, "no key for alice@example.org (irc)")
    otr_keys(capsys, "generate", "--v3-only", "alice@example.org", "irc")
    code, out, _ = otr_keys(capsys, "fingerprint", "alice@example.org")
    assert out == f"alice@example.org\tprpl-jabber\t{FP}\nalice@example.org\tirc\t{FP}\n"


# -- trust ---------------------------------------------------------------------------


def test_trust(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = otr_keys(capsys, "trust", "bob", PEER_FP)
    assert_one_line_error(code, err, "give our --account and --protocol")
    code, _, err = otr_keys(capsys, "trust", "bob", "12345")
    assert_one_line_error(code, err, "is not a fingerprint")

    code, out, _ = otr_keys(capsys, "trust", "-a", "me", "-p", "xmpp", "bob", PEER_HUMAN)
    assert code == 0
    assert out == f"bob to me (xmpp): {PEER_HUMAN}: verified\n"
    path = home / "otr.fingerprints"
    assert path.read_bytes() == b"bob\tme\txmpp\t" + PEER_FP.encode() + b"\tverified\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # known now: account and protocol are found from the store
    code, out, _ = otr_keys(capsys, "trust", "bob", PEER_FP, "--unverified")
    assert out.endswith(": unverified\n")
    assert path.read_bytes() == b"bob\tme\txmpp\t" + PEER_FP.encode() + b"\t\n"
    code, out, _ = otr_keys(capsys, "trust", "bob", PEER_FP.upper(), "--trust-string", "smp")
    assert out.endswith(": verified (smp)\n")
    code, _, err = otr_keys(capsys, "trust", "bob", PEER_FP, "--trust-string", "")
    assert_one_line_error(code, err, "must not be empty")

    # the same fingerprint on two of our accounts is ambiguous without -a/-p
    otr_keys(capsys, "trust", "-a", "me2", "-p", "xmpp", "bob", PEER_FP)
    code, _, err = otr_keys(capsys, "trust", "bob", PEER_FP)
    assert_one_line_error(code, err, "choose with -a and -p")
    code, out, _ = otr_keys(capsys, "trust", "-a", "me2", "-p", "xmpp", "bob", PEER_FP, "--forget")
    assert code == 0 and out.endswith(": forgotten\n")
    store = FingerprintStore.from_file(path)
    assert [(e.account, e.trust) for e in store.entries()] == [("me", "smp")]
    code, _, err = otr_keys(capsys, "trust", "carl", PEER_FP, "--forget")
    assert_one_line_error(code, err, "has no such fingerprint")


def test_trust_rejects_unstorable_names(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = otr_keys(capsys, "trust", "-a", "me", "-p", "xmpp", "b\tob", PEER_FP)
    assert_one_line_error(code, err, "must not contain a tab")


# -- import ----------------------------------------------------------------------------


@pytest.fixture
def purple(tmp_path: Path) -> Path:
    """A Pidgin profile with the three files exactly as libotr wrote them."""
    directory = tmp_path / "purple"
    directory.mkdir()
    (directory / "otr.private_key").write_bytes(LIBOTR_PRIVKEYS)
    (directory / "otr.fingerprints").write_bytes(LIBOTR_FINGERPRINTS)
    (directory / "otr.instance_tags").write_bytes(LIBOTR_INSTAGS)
    return directory


def test_import_into_empty_directory_is_byte_identical(
    home: Path, purple: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = otr_keys(capsys, "import", str(purple))
    assert (code, err) == (0, "")
    assert out == (
        f"Imported from {purple} into {home}: 2 key(s), 6 fingerprint(s), 2 instance tag(s)\n"
    )
    for name in ("otr.private_key", "otr.fingerprints", "otr.instance_tags"):
        assert (home / name).read_bytes() == (purple / name).read_bytes()
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600
    code, out, _ = otr_keys(capsys, "import", str(purple))
    assert code == 0 and "0 key(s), 0 fingerprint(s), 0 instance tag(s)" in out


def test_import_merges_and_detects_conflicts(
    home: Path, purple: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    otr_keys(capsys, "generate", "bob@example.org", "prpl-jabber")  # a different key
    otr_keys(capsys, "trust", "-a", "me@x", "-p", "irc", "amy", "e" * 40)
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    code, _, err = otr_keys(capsys, "import", str(purple))
    assert_one_line_error(code, err, "different key for bob@example.org (prpl-jabber)")
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before  # nothing written

    code, out, err = otr_keys(capsys, "import", "--force", str(purple))
    assert code == 0
    assert "2 key(s), 5 fingerprint(s), 2 instance tag(s)" in out
    keys = PrivateKeyStore.from_file(home / "otr.private_key")
    theirs = PrivateKeyStore.from_bytes(LIBOTR_PRIVKEYS)
    for account, protocol in theirs.accounts():
        assert keys.get(account, protocol) == theirs.get(account, protocol)
    fps = FingerprintStore.from_file(home / "otr.fingerprints")
    imported = FingerprintStore.from_bytes(LIBOTR_FINGERPRINTS).entries()
    assert [e.fingerprint for e in fps.entries()] == [e.fingerprint for e in imported]
    # amy's fingerprint was verified here and stays so; the others come with their trust
    assert [e.trust for e in fps.entries()] == ["verified"] + [e.trust for e in imported[1:]]


def test_import_keeps_our_instance_tag(
    home: Path, purple: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home.mkdir()
    tags = InstanceTagStore()
    tags.set("bob", "xmpp", 0x1234)
    tags.save(home / "otr.instance_tags")
    code, _, err = otr_keys(capsys, "import", str(purple))
    assert code == 0
    assert err == "note: kept our own instance tag for bob (xmpp)\n"
    assert InstanceTagStore.from_file(home / "otr.instance_tags").get("bob", "xmpp") == 0x1234


def test_import_errors(
    home: Path, purple: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = otr_keys(capsys, "import", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err, "no such directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = otr_keys(capsys, "import", str(empty))
    assert_one_line_error(code, err, "no libotr files")

    (purple / "otr.fingerprints").write_bytes(b"bob\tme\txmpp\tnot-hex\n")
    code, _, err = otr_keys(capsys, "import", str(purple))
    assert_one_line_error(
        code, err, f"malformed file: {purple / 'otr.fingerprints'}: line 1, column 13:"
    )
    assert not home.exists()  # nothing written

    (purple / "otr.fingerprints").unlink()
    (purple / "otr.private_key").write_bytes(LIBOTR_PRIVKEYS[:-3])
    code, _, err = otr_keys(capsys, "import", str(purple))
    assert_one_line_error(code, err, "is never closed")

    code, _, err = otr_keys(capsys, "import", "-d", str(purple), str(purple))
    assert_one_line_error(code, err, "is already the key directory")


def test_import_defaults_to_dot_purple(
    home: Path, purple: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_home = purple.parent / "user"
    fake_home.mkdir()
    (fake_home / ".purple").symlink_to(purple)
    monkeypatch.setenv("HOME", str(fake_home))
    code, out, _ = otr_keys(capsys, "import")
    assert code == 0 and "2 key(s)" in out


# -- process level ---------------------------------------------------------------------


def test_malformed_key_file_exits_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "otr.private_key").write_bytes(b"(privkeys\n (account\n  (name bob)\n")
    env = dict(os.environ, OTR_DIR=str(tmp_path), PYTHONPATH=str(REPO_SRC))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from otr.cli import main; sys.exit(main())",
            "keys",
            "list",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"otr keys: error: malformed file: {tmp_path / 'otr.private_key'}: line 4, column 1: "
        "unexpected end of input: '(' at line 2, column 2 is never closed\n"
    )


def test_default_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OTR_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert keys_cli.default_dir() == tmp_path / "otr"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keys_cli.default_dir() == tmp_path / ".local" / "share" / "otr"


# -- OTRv4 ---------------------------------------------------------------------------


def test_generate_v4_identity(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = otr_keys(capsys, "generate", "--v4", "alice@example.org", "xmpp")
    assert code == 0 and err.endswith(" done\n")
    identity = load_identity(home, "alice@example.org", "xmpp")
    assert identity is not None and identity.dsa_key == KEY and identity.fingerprint is not None
    v4_human = human_fingerprint(identity.fingerprint)
    assert len(v4_human.split()) == 14
    assert out == (f"alice@example.org (xmpp): {FP}\nalice@example.org (xmpp): OTRv4 {v4_human}\n")
    path = home / "otr.identities"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"(private-key" not in path.read_bytes()  # the DSA key stays in libotr's file
    tag = InstanceTagStore.from_file(home / "otr.instance_tags").get("alice@example.org", "xmpp")
    assert identity.instance_tag == tag
    profile = identity.client_profile
    assert profile is not None and profile.versions == b"34"
    assert profile.dsa_public_key == KEY.public
    profile.validate(time.time())
    assert identity.renew_profile(time.time(), os.urandom) is False

    # list and fingerprint show it
    code, out, _ = otr_keys(capsys, "list")
    assert f"Our OTRv4 identities ({path}):\n" in out
    assert f"  alice@example.org (xmpp)  {v4_human}  instance tag {tag:08x}  profile expires" in out
    code, out, _ = otr_keys(capsys, "fingerprint")
    assert out == f"alice@example.org\txmpp\t{FP}\nalice@example.org\txmpp\t{v4_human}\n"
    code, out, _ = otr_keys(capsys, "fingerprint", "--hex")
    assert identity.fingerprint.hex() in out

    # a second OTRv4 identity needs --force
    code, _, err = otr_keys(capsys, "generate", "--v4-only", "alice@example.org", "xmpp")
    assert_one_line_error(code, err, "already has an OTRv4 identity")
    code, out, err = otr_keys(
        capsys, "generate", "--v4-only", "--force", "alice@example.org", "xmpp"
    )
    assert code == 0 and err == "" and out.startswith("alice@example.org (xmpp): OTRv4 ")
    again = load_identity(home, "alice@example.org", "xmpp")
    assert again is not None and again.fingerprint != identity.fingerprint
    assert again.instance_tag == tag


def test_generate_v4_only(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = otr_keys(capsys, "generate", "--v4-only", "bob", "xmpp")
    assert code == 0 and err == ""
    assert not (home / "otr.private_key").exists()
    identity = load_identity(home, "bob", "xmpp")
    assert identity is not None and identity.dsa_key is None
    assert identity.client_profile is not None and identity.client_profile.versions == b"4"
    assert identity.fingerprint is not None
    assert otr_keys(capsys, "fingerprint") == (
        0,
        human_fingerprint(identity.fingerprint) + "\n",
        "",
    )
    code, out, _ = otr_keys(capsys, "list")
    assert "Our keys" in out and "  (none)\n" in out and "OTRv4 identities" in out


def test_trust_v4_fingerprint(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v4 = bytes(range(56))
    code, out, _ = otr_keys(capsys, "trust", "-a", "me", "-p", "xmpp", "bob", v4.hex().upper())
    assert code == 0 and out == f"bob to me (xmpp): {human_fingerprint(v4)}: verified\n"
    assert (home / "otr.fingerprints").read_bytes() == b""
    sibling = home / "otr.fingerprints.v4"
    assert sibling.read_bytes() == b"bob\tme\txmpp\t" + v4.hex().encode() + b"\tverified\n"
    code, out, _ = otr_keys(capsys, "list")
    assert f"  bob  to me (xmpp)  {human_fingerprint(v4)}  verified\n" in out
    code, _, err = otr_keys(capsys, "trust", "bob", v4.hex()[:-2])
    assert_one_line_error(code, err, "40 or 112 hexadecimal digits")


def test_load_identity_of_a_v3_only_account(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load_identity(home, "carol", "xmpp") is None
    otr_keys(capsys, "generate", "--v3-only", "carol", "xmpp")
    identity = load_identity(home, "carol", "xmpp")
    assert identity is not None and identity.v4 is None and identity.dsa_key == KEY
    assert identity.instance_tag == InstanceTagStore.from_file(home / "otr.instance_tags").get(
        "carol", "xmpp"
    )


def test_import_brings_v4_fingerprints_along(
    home: Path, purple: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v4_line = b"amy\tme@x\txmpp\t" + bytes(range(56)).hex().encode() + b"\tsmp\n"
    (purple / "otr.fingerprints.v4").write_bytes(v4_line)
    code, out, _ = otr_keys(capsys, "import", str(purple))
    assert code == 0 and "7 fingerprint(s)" in out
    assert (home / "otr.fingerprints").read_bytes() == LIBOTR_FINGERPRINTS
    assert (home / "otr.fingerprints.v4").read_bytes() == v4_line
