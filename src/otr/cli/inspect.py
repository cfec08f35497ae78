"""``otr inspect``: decode OTR wire text, a fragment or a whole transcript, and decrypt it
when keys are given (see :mod:`otr.tools.inspect`).

Input: the messages given as arguments, else the lines of ``--file`` (``-`` or nothing:
stdin), one wire text per line.  A text with newlines in it (libotr's Query Message has
some) spans several lines there, the later ones reading as plaintext; ``--jsonl`` reads one
JSON string (or an object with a ``"text"``) per line instead, which keeps any text whole.
Output: a human-readable report per message, or with
``--json`` one JSON object per line.  Key material is redacted unless ``--show-secrets``.

Keys (each option may be repeated; hex, an optional ``0x`` prefix): OTRv3 ``--aes-key``,
``--mac-key``, ``--secret`` (a D-H shared secret s), ``--dh-secret`` (a D-H private key x);
OTRv4 ``--mk-enc``, ``--chain-key``.  ``--keys-file FILE`` reads the same from a JSON object
``{"aes_keys": [...], "mac_keys": [...], "shared_secrets": [...], "dh_secrets": [...],
"mk_enc": [...], "chain_keys": [...]}``, which keeps them off the command line (other users
can read a process's arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..tools.inspect import KeyRing, format_report, inspect_transcript, report_to_json

__all__ = ["add_arguments", "add_key_arguments", "keyring_from_args", "parse_hex", "run"]


def parse_hex(text: str) -> bytes:
    """Bytes from hex (``0x`` prefix, spaces and colons allowed)."""
    digits = text.strip().removeprefix("0x").replace(" ", "").replace(":", "")
    try:
        return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not hex: {text[:16]!r}...") from None


def _hex_int(text: str) -> int:
    return int.from_bytes(parse_hex(text), "big")


def add_key_arguments(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_argument_group("keys")
    keys.add_argument("--aes-key", action="append", type=parse_hex, default=[], metavar="HEX")
    keys.add_argument("--mac-key", action="append", type=parse_hex, default=[], metavar="HEX")
    keys.add_argument(
        "--secret", action="append", type=_hex_int, default=[], metavar="HEX", help="D-H s"
    )
    keys.add_argument(
        "--dh-secret", action="append", type=_hex_int, default=[], metavar="HEX", help="D-H x"
    )
    keys.add_argument(
        "--mk-enc", action="append", type=parse_hex, default=[], metavar="HEX", help="v4 MKenc"
    )
    keys.add_argument(
        "--chain-key", action="append", type=parse_hex, default=[], metavar="HEX", help="v4"
    )
    keys.add_argument("--keys-file", type=Path, metavar="FILE", help="the keys as JSON")


def keyring_from_args(args: argparse.Namespace) -> KeyRing:
    """The :class:`KeyRing` of the key options (and ``--keys-file``)."""
    aes, mac = list(args.aes_key), list(args.mac_key)
    shared, dh = list(args.secret), list(args.dh_secret)
    mk_enc, chain = list(args.mk_enc), list(args.chain_key)
    if args.keys_file is not None:
        data: Any = json.loads(args.keys_file.read_text())
        if not isinstance(data, dict):
            raise ValueError("the keys file must hold a JSON object")

        def hex_list(name: str) -> list[str]:
            values = data.get(name, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"{name} must be a list of hex strings")
            return values

        aes += [parse_hex(v) for v in hex_list("aes_keys")]
        mac += [parse_hex(v) for v in hex_list("mac_keys")]
        shared += [_hex_int(v) for v in hex_list("shared_secrets")]
        dh += [_hex_int(v) for v in hex_list("dh_secrets")]
        mk_enc += [parse_hex(v) for v in hex_list("mk_enc")]
        chain += [parse_hex(v) for v in hex_list("chain_keys")]
    return KeyRing(tuple(aes), tuple(mac), tuple(shared), tuple(dh), tuple(mk_enc), tuple(chain))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("messages", nargs="*", metavar="MESSAGE", help="wire text to decode")
    parser.add_argument("-f", "--file", default="-", help="a transcript, one message a line")
    parser.add_argument("--jsonl", action="store_true", help="input: one JSON string a line")
    parser.add_argument("--json", action="store_true", help="one JSON object per message")
    parser.add_argument("--show-secrets", action="store_true", help="print key material")
    parser.add_argument("--full", action="store_true", help="do not shorten long values")
    parser.add_argument(
        "--now",
        metavar="UNIX",
        help="validate OTRv4 Client Profiles at this time (Unix seconds, or 'now')",
    )
    add_key_arguments(parser)


def read_lines(args: argparse.Namespace) -> Iterable[str]:
    """The messages to read: the arguments, else the file's (or stdin's) lines."""
    if args.messages:
        return list(args.messages)
    if args.file == "-":
        lines = [line.rstrip("\r\n") for line in sys.stdin]
    else:
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
    if not getattr(args, "jsonl", False):
        return lines
    out = []
    for line in lines:
        if line.strip():
            item = json.loads(line)
            out.append(str(item["text"] if isinstance(item, dict) else item))
    return out


def run(args: argparse.Namespace) -> int:
    try:
        keys = keyring_from_args(args)
        lines = read_lines(args)
        now = None if args.now is None else time.time() if args.now == "now" else float(args.now)
    except (OSError, ValueError, KeyError, argparse.ArgumentTypeError) as exc:
        print(f"otr inspect: {exc}", file=sys.stderr)
        return 2
    for report in inspect_transcript(lines, keys, now):
        if args.json:
            print(json.dumps(report_to_json(report, args.show_secrets), ensure_ascii=False))
        else:
            print(format_report(report, args.show_secrets, args.full))
    return 0
