"""otr.private_key: libotr's S-expression key file, read and written byte for byte."""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LibotrUserState, load_libotr_so
from otr.crypto.dsa import DSAPrivateKey, generate_dsa_key
from otr.storage import KeyFileError, PrivateKeyStore

# Written by libotr 4.1.1 (otrl_privkey_generate, twice) with libgcrypt 1.10: note the
# space before the newline after "private-key" and "dsa", and the quoting of the name.
LIBOTR_FILE = (
    b"(privkeys\n"
    b" (account\n"
    b'(name "bob@example.org")\n'
    b"(protocol prpl-jabber)\n"
    b"(private-key \n"
    b" (dsa \n"
    b"  (p #"
    b"00C704A98E13812EBAA4836D5BFA091532A473A850A0E735502C93A134169F386C3F365A"
    b"DD6E676970801200203523D117CD6FF124751A4CFC51D65CD685C5640DE33CEFA0D54822"
    b"A89FD1C14A8DBE9F7B6CCA368F7AD52F15C388A8F97060F1EA3740725A54314D1BB669FC"
    b"AD922E5EDF025455A95FFCC9A1407B2F94E0B32A5F"
    b"#)\n"
    b"  (q #00E84A68964A7A3F5788E94EE1422145F31593D907#)\n"
    b"  (g #"
    b"6B28820E2280C99982B9D24EC0B77F416C5C58AF5590BED9897B8DFDCE8495A64A359CAE"
    b"A01DE6E8470EABB971022F131960CA45422F7B19A00CE65DE34E0FDA60A2259FB00C4E8C"
    b"2DB0AE69D772DA50DBC521E48309C45CCB520390C909C2C8F3453DD8956BB06BB1D59C71"
    b"FFB0E69F4D9920888DB429E2D1E8AE0394906205"
    b"#)\n"
    b"  (y #"
    b"041894C3FDE44F9339DA38F30C8CE5DE34255C476B6BEABE3032687A61128B0D79E8C039"
    b"46212D2436CA607C828475955A62DFEA301BBEC00C258C47C14642FD15D0B1A86D63DDAF"
    b"8F46AAA2B6E8B9E05D4956B6F6EDAEFCB1E291DF3C660CB6416671D8687CC8ED5881998E"
    b"DEDB0B72794C310741680BE91A7369BA490479F9"
    b"#)\n"
    b"  (x #00DE917DB134ECFF12FA9CD23407C331AB457749E9#)\n"
    b"  )\n"
    b" )\n"
    b" )\n"
    b" (account\n"
    b"(name alice)\n"
    b"(protocol xmpp)\n"
    b"(private-key \n"
    b" (dsa \n"
    b"  (p #"
    b"00E93F45BFCC9D212C4C9C79560080DDEC8A80A324C8839A40B09200461DEDEDF0D6F6EB"
    b"030FCA438D500654B856DE5D9F6BA362627E0A032EB45252B8C027A2911650B41731A738"
    b"CD085523ADC74FA11A298629E60809E10796E8FEED2FF9FE72DB99AEC97D8E557AC90925"
    b"DE80B0AA76C0272694EEAEC77A351B9240560409FB"
    b"#)\n"
    b"  (q #00F9172EBBB29C392D4A8D103CF2D66FFAD0E2B897#)\n"
    b"  (g #"
    b"3A132A1D780BB527E3E474B2947DB7CFA9BB9B41B23EDC76BF5C55752BE979D8F1EB5AA6"
    b"A0171D5857973CE03CC1E3933C4990363E8AF3C157E0478E9136017227EE1DA1118CF93A"
    b"A903607BDCC7CC80D0CDF149EB7F88E8F52016260E456C583C2D844138C3F3CAF25B2551"
    b"E7D260DCC752D6D656C9384AB65F368EA07B803E"
    b"#)\n"
    b"  (y #"
    b"00E06D34CF740D6685DF3290374F7B22482200A24E683ACA64BBABDD87ED1DBAE0D02411"
    b"3F6ED47D227FC1CE1498E64DF20CB3215E7051BA8A676E6290F7C0A2FFF6F97587CA1703"
    b"B7FA88BFCB18C7F0BC028E24204E48844990D592BFF62FC9C81D76B896EBD78028F9887D"
    b"BAF3D7CA6C548F54132A10BD694DF7E9DCA58DB226"
    b"#)\n"
    b"  (x #2E3FF3879F2F6C923B835068FBECC733BA9B5526#)\n"
    b"  )\n"
    b" )\n"
    b" )\n"
    b")\n"
)
LIBOTR_FPS = {
    ("bob@example.org", "prpl-jabber"): "41298c16bf621871660ce91d1be9082b5e79969a",
    ("alice", "xmpp"): "4cf901176ffb307c223e085185836123c8521bad",
}

KEY = generate_dsa_key()
OTHER_KEY = generate_dsa_key()


def _hexmpi(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if raw[0] & 0x80:
        raw = b"\x00" + raw
    return raw.hex().upper().encode()


def key_sexp(key: DSAPrivateKey = KEY, **override: bytes) -> bytes:
    pub = key.public
    values = {"p": pub.p, "q": pub.q, "g": pub.g, "y": pub.y, "x": key.x}
    parts = {k: override.get(k, b"(%s #%s#)" % (k.encode(), _hexmpi(v))) for k, v in values.items()}
    return b"(private-key (dsa " + b" ".join(parts.values()) + b"))"


def one_account(name: bytes = b"bob", protocol: bytes = b"xmpp", key: bytes | None = None) -> bytes:
    return b"(privkeys (account (name %s) (protocol %s) %s))" % (
        name,
        protocol,
        key_sexp() if key is None else key,
    )


# -- libotr itself, through ctypes, when available (conftest.load_libotr_so) ---------


def _load_libotr() -> Any:
    lib = load_libotr_so()
    if lib is None:
        return None
    lib.otrl_privkey_read.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.otrl_privkey_generate.argtypes = [ctypes.c_void_p, ctypes.c_char_p] + [ctypes.c_char_p] * 2
    lib.otrl_privkey_fingerprint_raw.argtypes = [ctypes.c_void_p, ctypes.c_char_p] + [
        ctypes.c_char_p
    ] * 2
    lib.otrl_privkey_fingerprint_raw.restype = ctypes.c_void_p
    return lib


LIBOTR = _load_libotr()
needs_libotr = pytest.mark.skipif(LIBOTR is None, reason="libotr (libotr.so.5) not available")


class Libotr(LibotrUserState):
    """One OtrlUserState."""

    def __init__(self) -> None:
        super().__init__(LIBOTR)

    def read(self, path: Path) -> None:
        assert LIBOTR.otrl_privkey_read(self.us, os.fsencode(path)) == 0

    def generate(self, path: Path, account: bytes, protocol: bytes) -> None:
        assert LIBOTR.otrl_privkey_generate(self.us, os.fsencode(path), account, protocol) == 0

    def fingerprint(self, account: bytes, protocol: bytes) -> str | None:
        buf = ctypes.create_string_buffer(20)
        if not LIBOTR.otrl_privkey_fingerprint_raw(self.us, buf, account, protocol):
            return None
        return buf.raw.hex()


# -- reading libotr's file ----------------------------------------------------------------


def test_libotr_file_round_trips_byte_for_byte() -> None:
    store = PrivateKeyStore.from_bytes(LIBOTR_FILE)
    assert store.accounts() == [("bob@example.org", "prpl-jabber"), ("alice", "xmpp")]
    for (account, protocol), fp in LIBOTR_FPS.items():
        assert store.fingerprint(account, protocol) == bytes.fromhex(fp)
        key = store.get(account, protocol)
        assert key is not None and key.public.q.bit_length() == 160
    assert store.to_bytes() == LIBOTR_FILE
    assert len(store) == 2 and ("alice", "xmpp") in store and ("alice", "irc") not in store


def test_we_write_libotr_layout_for_a_new_key() -> None:
    store = PrivateKeyStore.from_bytes(LIBOTR_FILE)
    key = store.get("alice", "xmpp")
    assert key is not None
    fresh = PrivateKeyStore()
    fresh.set("bob@example.org", "prpl-jabber", store.get("bob@example.org", "prpl-jabber"))  # type: ignore[arg-type]
    fresh.set("alice", "xmpp", key)
    assert fresh.to_bytes() == LIBOTR_FILE


def test_empty_store() -> None:
    assert PrivateKeyStore().to_bytes() == b"(privkeys\n)\n"
    store = PrivateKeyStore.from_bytes(b"(privkeys\n)\n")
    assert store.accounts() == [] and store.get("a", "b") is None


def test_set_get_remove_and_order() -> None:
    store = PrivateKeyStore.from_bytes(LIBOTR_FILE)
    store.set("bob@example.org", "prpl-jabber", KEY)  # replaced: goes last, as in libotr
    assert store.accounts() == [("alice", "xmpp"), ("bob@example.org", "prpl-jabber")]
    assert store.get("bob@example.org", "prpl-jabber") == KEY
    assert store.remove("alice", "xmpp") and not store.remove("alice", "xmpp")
    again = PrivateKeyStore.from_bytes(store.to_bytes())
    assert again.accounts() == [("bob@example.org", "prpl-jabber")]
    assert again.get("bob@example.org", "prpl-jabber") == KEY
    assert repr(again) == "<PrivateKeyStore [('bob@example.org', 'prpl-jabber')]>"


def test_duplicate_account_last_wins_like_libotr() -> None:
    data = b"(privkeys (account (name a) (protocol p) %s) (account (name a) (protocol p) %s))" % (
        key_sexp(KEY),
        key_sexp(OTHER_KEY),
    )
    store = PrivateKeyStore.from_bytes(data)
    assert store.get("a", "p") == OTHER_KEY
    assert store.accounts() == [("a", "p")]
    assert PrivateKeyStore.from_bytes(store.to_bytes()).get("a", "p") == OTHER_KEY


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("xmpp-user", b"(name xmpp-user)\n"),
        ("alice@example.org", b'(name "alice@example.org")\n'),
        ("42", b'(name "42")\n'),
        ('say "hi"', b'(name "say \\"hi\\"")\n'),
        ("café", b'(name "caf\xc3\xa9")\n'),
        ("été", b"(name #C3A974C3A9#)\n"),
        ("\udcff", b"(name #FF#)\n"),  # a non-UTF-8 byte survives (surrogateescape)
    ],
)
def test_names_are_printed_like_libgcrypt(name: str, printed: bytes) -> None:
    store = PrivateKeyStore()
    store.set(name, "prpl-jabber", KEY)
    data = store.to_bytes()
    assert b" (account\n" + printed + b"(protocol prpl-jabber)\n" in data
    assert PrivateKeyStore.from_bytes(data).get(name, "prpl-jabber") == KEY


def test_other_atom_syntaxes_are_accepted() -> None:
    # hand-written: canonical lengths, hex names, base64 -- libgcrypt reads all of these
    data = one_account(name=b"3:bob", protocol=b"|eG1wcA==|")
    store = PrivateKeyStore.from_bytes(data)
    assert store.get("bob", "xmpp") == KEY


def test_names_that_cannot_be_stored() -> None:
    store = PrivateKeyStore()
    with pytest.raises(ValueError, match="NUL"):
        store.set("a\x00b", "xmpp", KEY)
    with pytest.raises(ValueError, match="surrogate"):
        store.set("a\ud800", "xmpp", KEY)
    with pytest.raises(TypeError):
        store.set("a", "xmpp", "not a key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.get(b"a", "xmpp")  # type: ignore[arg-type]


_X_ZERO = b"(x ##)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"(privkey)", "expected (privkeys ...)"),
        (b"((privkeys))", "expected (privkeys ...)"),
        (b"(privkeys bar)", "bare value"),
        (b"(privkeys (acount))", "expected (account ...)"),
        (b"(privkeys (account (protocol p) %s))" % key_sexp(), "lacks (name ...)"),
        (b"(privkeys (account (name n) %s))" % key_sexp(), "lacks (protocol ...)"),
        (b"(privkeys (account (name n) (protocol p)))", "lacks (private-key ...)"),
        (b"(privkeys (account (name n) (name m) (protocol p) %s))" % key_sexp(), "twice"),
        (b"(privkeys (account (name n) (protocol p) (comment c) %s))" % key_sexp(), "may only"),
        (b"(privkeys (account (name n) (protocol p) x %s))" % key_sexp(), "may only"),
        (one_account(name=b"a b"), "exactly one value"),
        (one_account(name=b"(a)"), "exactly one value"),
        (one_account(name=b'"a\\000b"'), "NUL"),
        (one_account(key=b"(private-key (rsa (n #01#)))"), "exactly one (dsa ...)"),
        (one_account(key=b"(private-key)"), "exactly one (dsa ...)"),
        (one_account(key=key_sexp(x=b"")), "lacks x"),
        (one_account(key=key_sexp(x=b"(x #01#) (x #02#)")), "appears twice"),
        (one_account(key=key_sexp(x=b"(x #01#) (z #02#)")), "unexpected 'z'"),
        (one_account(key=key_sexp(x=b"(x #01#) z")), "unexpected value"),
        (one_account(key=key_sexp(x=b"(x)")), "exactly one value"),
        (one_account(key=key_sexp(x=_X_ZERO)), "out of range"),
        (one_account(key=key_sexp(x=b"(x #01#)")), "inconsistent"),
        (one_account(key=key_sexp(p=b"(p #0B#)")), "unacceptable DSA parameters"),
    ],
)
def test_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PrivateKeyStore.from_bytes(data)


def test_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "otr.private_key"
    bad = LIBOTR_FILE.replace(b"(x #2E3F", b"(x #2E3E")
    path.write_bytes(bad)
    with pytest.raises(KeyFileError) as info:
        PrivateKeyStore.from_file(path)
    e = info.value
    assert e.source == str(path)
    assert (e.line, e.column) == (19, 2)  # the (dsa ...) of the second account
    assert str(e).startswith(f"{path}: line 19, column 2: ")
    path.write_bytes(b"(privkeys\n (account\n")
    with pytest.raises(KeyFileError, match=r"line 3, column 1: unexpected end of input"):
        PrivateKeyStore.from_file(path)


def test_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        PrivateKeyStore.from_file(tmp_path / "nope")


def test_save_is_0600_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "otr.private_key"
    store = PrivateKeyStore()
    store.set("alice@example.org", "prpl-jabber", KEY)
    store.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == store.to_bytes()
    assert PrivateKeyStore.from_file(path).get("alice@example.org", "prpl-jabber") == KEY
    assert os.listdir(tmp_path) == ["otr.private_key"]


# -- properties ------------------------------------------------------------------------

names = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12
)


@given(st.lists(st.tuples(names, names, st.booleans()), max_size=4))
def test_round_trip(accounts: list[tuple[str, str, bool]]) -> None:
    store = PrivateKeyStore()
    expected = {}
    for account, protocol, other in accounts:
        key = OTHER_KEY if other else KEY
        store.set(account, protocol, key)
        expected[(account, protocol)] = key
    data = store.to_bytes()
    again = PrivateKeyStore.from_bytes(data)
    assert again.to_bytes() == data
    assert sorted(again.accounts()) == sorted(expected)
    for (account, protocol), key in expected.items():
        assert again.get(account, protocol) == key


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_key_file_error(data: bytes) -> None:
    with contextlib.suppress(KeyFileError):
        PrivateKeyStore.from_bytes(data)


@given(st.data())
def test_mutated_libotr_file_only_raises_key_file_error(data: st.DataObject) -> None:
    buf = bytearray(LIBOTR_FILE)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = data.draw(st.sampled_from(b'()"#|\\ \n0aF:9x\x00\xff'))
        if op == "replace":
            buf[pos] = byte
        elif op == "delete":
            del buf[pos]
        else:
            buf.insert(pos, byte)
    try:
        store = PrivateKeyStore.from_bytes(bytes(buf))
    except KeyFileError:
        return
    for account, protocol in store.accounts():
        assert store.get(account, protocol) is not None


# -- against libotr (ctypes) -------------------------------------------------------------


@pytest.mark.interop
@needs_libotr
def test_libotr_reads_our_file(tmp_path: Path) -> None:
    path = tmp_path / "otr.private_key"
    store = PrivateKeyStore()
    store.set("alice@example.org", "prpl-jabber", KEY)
    store.set('say "hi" 42', "été", OTHER_KEY)
    store.save(path)
    lib = Libotr()
    try:
        lib.read(path)
        assert (
            lib.fingerprint(b"alice@example.org", b"prpl-jabber") == KEY.public.fingerprint().hex()
        )
        assert lib.fingerprint(b'say "hi" 42', "été".encode()) == (
            OTHER_KEY.public.fingerprint().hex()
        )
        # libotr adding a key rewrites the others from what it read: ours come back unchanged
        lib.generate(path, b"new", b"irc")
    finally:
        lib.close()
    rewritten = path.read_bytes()

    def block(account: str, protocol: str, key: DSAPrivateKey) -> bytes:
        single = PrivateKeyStore()
        single.set(account, protocol, key)
        return single.to_bytes()[len(b"(privkeys\n") : -len(b")\n")]

    # libotr writes the accounts it read in reverse order, then the new one
    expected = b"(privkeys\n" + block('say "hi" 42', "été", OTHER_KEY)
    expected += block("alice@example.org", "prpl-jabber", KEY)
    assert rewritten.startswith(expected)
    again = PrivateKeyStore.from_bytes(rewritten)
    assert again.to_bytes() == rewritten
    assert again.get("alice@example.org", "prpl-jabber") == KEY


@pytest.mark.interop
@needs_libotr
@settings(max_examples=8, deadline=None)
@given(names.filter(bool), names.filter(bool))
def test_libotr_generated_files_round_trip(
    tmp_path_factory: Any, account: str, protocol: str
) -> None:
    path = tmp_path_factory.mktemp("k") / "otr.private_key"
    a, p = account.encode("utf-8", "surrogateescape"), protocol.encode("utf-8", "surrogateescape")
    lib = Libotr()
    try:
        lib.generate(path, a, p)
        fp = lib.fingerprint(a, p)
    finally:
        lib.close()
    data = path.read_bytes()
    store = PrivateKeyStore.from_bytes(data)
    assert store.accounts() == [(account, protocol)]
    assert store.fingerprint(account, protocol) == bytes.fromhex(fp or "")
    assert store.to_bytes() == data
    key = store.get(account, protocol)
    assert key is not None
    fresh = PrivateKeyStore()
    fresh.set(account, protocol, key)
    assert fresh.to_bytes() == data


# -- against the otrpeer interop process ---------------------------------------------------


@pytest.mark.interop
def test_key_file_written_by_libotr_peer(tmp_path: Path, peer_module: Any) -> None:
    path = tmp_path / "otr.private_key"
    with peer_module.OtrPeer(
        account="alice@example.org", protocol="prpl-jabber", privkey_file=str(path)
    ) as peer:
        fingerprint = peer.fingerprint
    data = path.read_bytes()
    store = PrivateKeyStore.from_file(path)
    assert store.fingerprint("alice@example.org", "prpl-jabber") == bytes.fromhex(fingerprint)
    assert store.to_bytes() == data


@pytest.mark.interop
def test_key_file_written_by_us_loads_in_libotr_peer(tmp_path: Path, peer_module: Any) -> None:
    path = tmp_path / "otr.private_key"
    key = generate_dsa_key()
    store = PrivateKeyStore()
    store.set("someone@else", "xmpp", OTHER_KEY)
    store.set("bob@example.org", "prpl-jabber", key)
    store.save(path)
    written = path.read_bytes()
    with peer_module.OtrPeer(
        account="bob@example.org", protocol="prpl-jabber", privkey_file=str(path)
    ) as peer:
        assert peer.fingerprint == key.public.fingerprint().hex()
    assert path.read_bytes() == written  # libotr found the key: it did not generate one
