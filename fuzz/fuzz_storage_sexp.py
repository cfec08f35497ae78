"""Fuzz target: the S-expression reader of libotr's key files (otr.storage.sexp).

Invariants: rejections are SExpError (a KeyFileError with line and column); what
parses prints (libgcrypt's advanced format) to text that parses to the same tree.
"""

from __future__ import annotations

from otr.storage.sexp import SExpError, parse, sprint_advanced

ALLOWED = (SExpError,)
SEEDS = ("storage_sexp", "storage_privkey")


def one_input(data: bytes) -> None:
    tree = parse(data)
    assert parse(sprint_advanced(tree)) == tree, "printed S-expression reads back differently"
