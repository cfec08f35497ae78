"""The shared fuzz harness: run one target under atheris (libFuzzer), or replay inputs.

A *target* is a module ``fuzz/fuzz_<name>.py`` that defines

* ``one_input(data: bytes) -> None`` - feed one input to the parser under test and check
  its invariant; it returns normally for accepted and for cleanly rejected input;
* ``ALLOWED: tuple[type[BaseException], ...]`` - the documented exceptions
  (:mod:`otr.errors`) the parser may raise on hostile input; any other exception
  escaping ``one_input`` is a finding (atheris stops and writes the input to
  ``fuzz/.crashes/``);
* ``SEEDS: tuple[str, ...]`` - names of seed corpora: ours, written by
  :mod:`seeds` from real conversations, and ``otr4j:<dir>`` for
  ``shared/spec/vectors/otr4j-fuzz-seeds/<dir>``.

Adding a parser later (v4 messages, SMP v4, prekey server) is one such file plus its
seeds in :mod:`seeds`; :mod:`run_all` discovers ``fuzz_*.py`` by name.

Usage::

    python fuzz/harness.py NAME [libFuzzer flags] [CORPUS_DIR ...]   # fuzz (atheris)
    python fuzz/harness.py --replay NAME FILE_OR_DIR ...             # run inputs once

Under atheris the ``otr`` package is imported with coverage instrumentation (it must
not have been imported before :func:`load_target`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

FUZZ_DIR = Path(__file__).resolve().parent
REPO = FUZZ_DIR.parent
CORPUS_DIR = Path(os.environ.get("OTR_FUZZ_WORKDIR") or FUZZ_DIR / ".corpus")
"""Where :mod:`seeds` writes our seed corpora and libFuzzer adds what it finds
($OTR_FUZZ_WORKDIR, else fuzz/.corpus, ignored by git: seeds are regenerated
deterministically)."""
CRASH_DIR = FUZZ_DIR / ".crashes"


def shared_dir() -> Path:
    """The team's shared folder: $OTR_SHARED_DIR, else ``shared`` beside the checkout,
    else /work/shared (as tests/conftest.py finds it)."""
    env = os.environ.get("OTR_SHARED_DIR")
    if env:
        return Path(env)
    for candidate in (REPO.parent / "shared", Path("/work/shared")):
        if (candidate / "spec").is_dir():
            return candidate
    return REPO.parent / "shared"


OTR4J_SEEDS = shared_dir() / "spec" / "vectors" / "otr4j-fuzz-seeds"


class DeterministicRng:
    """Byte source for targets: SHA-256 in counter mode over a fixed seed, so that a
    crashing input replays exactly (``rng: Callable[[int], bytes]``)."""

    def __init__(self, seed: bytes = b"fuzz") -> None:
        self.seed = seed
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            self.counter += 1
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
        return bytes(out[:n])


def target_names() -> list[str]:
    """Every target in fuzz/, by name (``fuzz_<name>.py``)."""
    return sorted(p.stem[len("fuzz_") :] for p in FUZZ_DIR.glob("fuzz_*.py"))


def load_target(name: str) -> ModuleType:
    """Import ``fuzz_<name>`` (fuzz/ is put on sys.path)."""
    if str(FUZZ_DIR) not in sys.path:
        sys.path.insert(0, str(FUZZ_DIR))
    module = importlib.import_module(f"fuzz_{name}")
    for attr in ("one_input", "ALLOWED", "SEEDS"):
        if not hasattr(module, attr):
            raise AttributeError(f"fuzz target {name} lacks {attr}")
    return module


def checked(module: ModuleType) -> Callable[[bytes], None]:
    """``one_input`` with the target's documented exceptions swallowed: whatever else
    escapes is a finding."""
    one_input: Callable[[bytes], None] = module.one_input
    allowed: tuple[type[BaseException], ...] = module.ALLOWED

    def run(data: bytes) -> None:
        with contextlib.suppress(*allowed):
            one_input(data)

    return run


def seed_dirs(module: ModuleType, root: Path = CORPUS_DIR / "seeds") -> list[Path]:
    """The existing seed directories of a target: ours (under ``root``, written by
    :mod:`seeds`) first, then otr4j's."""
    out: list[Path] = []
    for seed in module.SEEDS:
        otr4j = seed.removeprefix("otr4j:")
        path = OTR4J_SEEDS / otr4j if otr4j != seed else root / seed
        if path.is_dir():
            out.append(path)
    return out


def iter_inputs(paths: list[Path]) -> Iterator[tuple[Path, bytes]]:
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            yield f, f.read_bytes()


def replay(name: str, paths: list[Path]) -> int:
    """Run the inputs once each (no atheris); the number of inputs run.  A finding
    propagates with the file named on stderr."""
    run = checked(load_target(name))
    count = 0
    for path, data in iter_inputs(paths):
        try:
            run(data)
        except BaseException:
            print(f"fuzz target {name}: finding on {path}", file=sys.stderr)
            raise
        count += 1
    return count


def fuzz(name: str, argv: list[str]) -> None:
    """Run target ``name`` under atheris with libFuzzer flags and corpus dirs ``argv``."""
    import atheris

    with atheris.instrument_imports(include=["otr"]):
        module = load_target(name)
    atheris.Setup([sys.argv[0], *argv], checked(module))
    atheris.Fuzz()


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--replay":
        n = replay(argv[1], [Path(a) for a in argv[2:]])
        print(f"{argv[1]}: {n} inputs replayed, no finding")
        return 0
    if not argv or argv[0] not in target_names():
        print(f"usage: harness.py NAME|--replay NAME PATH...; NAME in {target_names()}")
        return 2
    fuzz(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
