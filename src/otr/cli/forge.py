"""``otr forge``: the deniability toolkit for OTRv2/v3 Data Messages (see
:mod:`otr.tools.forge`).

* ``otr forge sesskeys OUR_PRIVATE THEIR_PUBLIC``: the keys of a D-H key pair;
* ``otr forge mackey AES_KEY``: a direction's MAC key;
* ``otr forge read AES_KEY [MESSAGE]``: decrypt a Data Message, check its MAC;
* ``otr forge replace AES_KEY NEW_TEXT [MESSAGE]``: the message with a new plaintext;
* ``otr forge modify MAC_KEY OLD NEW OFFSET [MESSAGE]``: change known plaintext without the
  AES key, re-MAC with MAC_KEY (a revealed one will do);
  (``read``, ``replace`` and ``modify`` also take OTRv4 Data Messages, with MKenc for the
  AES key and MKmac for the MAC key: :mod:`otr.tools.forge_v4`);
* ``otr forge remac MAC_KEY [MESSAGE] [--flags N ...]``: change fields, re-MAC;
* ``otr forge transcript [--file F] --replace N=TEXT ... (keys)``: rewrite a transcript.

Keys and D-H values are hex; a MESSAGE that is not given is read from stdin.  The forged
message or transcript is printed on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import RemoteProtocolError
from ..tools import forge, forge_v4
from ..tools.plaintext import describe_plaintext
from ..tools.report import plain_value
from ..wire import envelope
from ..wire.v4.data import encode_plaintext
from .inspect import add_key_arguments, keyring_from_args, parse_hex, read_lines

__all__ = ["add_arguments", "run"]


def _int(text: str) -> int:
    return int(text, 0)


def _hex_int(text: str) -> int:
    return int.from_bytes(parse_hex(text), "big")


def _replacement(text: str) -> tuple[int, str]:
    number, sep, new = text.partition("=")
    if not sep or not number.isdigit():
        raise argparse.ArgumentTypeError("expected N=TEXT")
    return int(number), new


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="forge_command", required=True)
    p = sub.add_parser("sesskeys", help="the keys of a D-H key pair")
    p.add_argument("our_private", type=_hex_int, metavar="OUR_PRIVATE")
    p.add_argument("their_public", type=_hex_int, metavar="THEIR_PUBLIC")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("mackey", help="the MAC key of an AES key")
    p.add_argument("aes_key", type=parse_hex, metavar="AES_KEY")
    key_help = "the AES key (OTRv3) or MKenc (OTRv4)"
    p = sub.add_parser("read", help="decrypt a Data Message")
    p.add_argument("aes_key", type=parse_hex, metavar="KEY", help=key_help)
    p.add_argument("message", nargs="?", metavar="MESSAGE")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("replace", help="the Data Message with a new plaintext")
    p.add_argument("aes_key", type=parse_hex, metavar="KEY", help=key_help)
    p.add_argument("new_text", metavar="NEW_TEXT")
    p.add_argument("message", nargs="?", metavar="MESSAGE")
    p = sub.add_parser("modify", help="change known plaintext at an offset, re-MAC")
    p.add_argument(
        "mac_key", type=parse_hex, metavar="MAC_KEY", help="the MAC key (OTRv3) or MKmac (OTRv4)"
    )
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("offset", type=int, metavar="OFFSET")
    p.add_argument("message", nargs="?", metavar="MESSAGE")
    p = sub.add_parser("remac", help="change fields of a Data Message, re-MAC")
    p.add_argument("mac_key", type=parse_hex, metavar="MAC_KEY")
    p.add_argument("message", nargs="?", metavar="MESSAGE")
    for name in ("flags", "sender-keyid", "recipient-keyid", "sender-instance"):
        p.add_argument(f"--{name}", type=_int)
    p.add_argument("--receiver-instance", type=_int)
    p.add_argument("--next-dh", type=_hex_int, metavar="HEX")
    p.add_argument("--ctr", type=parse_hex, metavar="HEX")
    p.add_argument("--encrypted", type=parse_hex, metavar="HEX")
    p.add_argument("--old-mac-keys", type=parse_hex, metavar="HEX")
    p = sub.add_parser("transcript", help="rewrite Data Messages of a transcript")
    p.add_argument("-f", "--file", default="-", help="the transcript (default: stdin)")
    p.add_argument("--jsonl", action="store_true", help="one JSON string a line, in and out")
    p.add_argument("--replace", action="append", type=_replacement, default=[], metavar="N=TEXT")
    add_key_arguments(p)


def _message(args: argparse.Namespace) -> str:
    return str(args.message) if args.message is not None else sys.stdin.read().strip()


def _sesskeys(args: argparse.Namespace) -> None:
    keys = forge.session_keys(args.our_private, args.their_public)
    rows = {
        "ssid": keys.ake.ssid.hex(),
        "high_end": keys.high,
        "sending_aes_key": keys.sending_aes.hex(),
        "sending_mac_key": keys.sending_mac.hex(),
        "receiving_aes_key": keys.receiving_aes.hex(),
        "receiving_mac_key": keys.receiving_mac.hex(),
        "extra_symmetric_key": keys.extra_symmetric_key.hex(),
        "ake_c": keys.ake.c.hex(),
        "ake_c_prime": keys.ake.c_prime.hex(),
        "ake_m1": keys.ake.m1.hex(),
        "ake_m2": keys.ake.m2.hex(),
        "ake_m1_prime": keys.ake.m1_prime.hex(),
        "ake_m2_prime": keys.ake.m2_prime.hex(),
    }
    if args.json:
        print(json.dumps(rows))
    else:
        for name, value in rows.items():
            print(f"{name}: {value}")


def _is_v4(text: str) -> bool:
    """Whether ``text`` is an OTRv4 encoded message (then the keys are MKenc / MKmac)."""
    return envelope.decode_otr_message(text)[:2] == b"\x00\x04"


def _read(args: argparse.Namespace) -> int:
    text = _message(args)
    if _is_v4(text):
        plaintext, mac_ok = forge_v4.read_data_message_v4(text, args.aes_key)
        described = describe_plaintext(plaintext, 4)
    else:
        result = forge.read_data_message(text, args.aes_key)
        plaintext, mac_ok, described = result.plaintext, result.mac_ok, result.describe()
    if args.json:
        out = {"mac_ok": mac_ok, "plaintext": plaintext.hex(), **described}
        print(json.dumps(plain_value(out, True), ensure_ascii=False))
    else:
        print(f"MAC: {'verifies' if mac_ok else 'DOES NOT VERIFY'}")
        print(f"message: {described['message']!r}")
        for t in described["tlvs"]:
            print(f"tlv: type {t['type']} ({t['name']}), {t['length']} bytes")
    return 0 if mac_ok else 1


def _forge(args: argparse.Namespace) -> int:
    command = args.forge_command
    if command == "sesskeys":
        _sesskeys(args)
    elif command == "mackey":
        print(forge.mac_key(args.aes_key).hex())
    elif command == "read":
        return _read(args)
    elif command == "replace":
        text = _message(args)
        if _is_v4(text):
            new = encode_plaintext(args.new_text)
            print(forge_v4.replace_plaintext_v4(text, args.aes_key, new))
        else:
            print(forge.replace_plaintext(text, args.aes_key, args.new_text.encode()))
    elif command == "modify":
        text = _message(args)
        modify = forge_v4.modify_data_message_v4 if _is_v4(text) else forge.modify_data_message
        print(modify(text, args.mac_key, args.old.encode(), args.new.encode(), args.offset))
    elif command == "remac":
        names = (
            "flags",
            "sender_keyid",
            "recipient_keyid",
            "sender_instance",
            "receiver_instance",
            "next_dh",
            "ctr",
            "encrypted",
            "old_mac_keys",
        )
        changes = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
        print(forge.remac_data_message(_message(args), args.mac_key, **changes))
    else:
        lines = read_lines(argparse.Namespace(messages=[], file=args.file, jsonl=args.jsonl))
        forged = forge.forge_transcript(lines, keyring_from_args(args), dict(args.replace))
        for line in forged:
            print(json.dumps(line, ensure_ascii=False) if args.jsonl else line)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _forge(args)
    except (OSError, ValueError, KeyError, RemoteProtocolError, argparse.ArgumentTypeError) as exc:
        print(f"otr forge: {exc}", file=sys.stderr)
        return 2
