"""The ``otr`` command line: ``otr demo``, ``otr keys ...``, ``otr interop-peer``,
``otr prekey-server``."""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main"]

# subcommand name -> module under otr.cli exposing add_arguments(parser) and run(args) -> int
_COMMANDS = {
    "demo": ("demo", "two local parties run the AKE and exchange messages"),
    "keys": ("keys", "manage long-term keys, fingerprints and trust (libotr's files)"),
    "interop-peer": ("interop_peer", "speak the JSON-lines interop protocol on stdio"),
    "prekey-server": ("prekey_server", "run the OTRv4 prekey server as an XMPP component"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otr", description="Off-the-Record messaging")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (modname, help_text) in _COMMANDS.items():
        mod = importlib.import_module(f"otr.cli.{modname}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        modules[name] = mod
    args = parser.parse_args(argv)
    code: int = modules[args.command].run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
