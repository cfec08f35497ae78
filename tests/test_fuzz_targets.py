"""The fuzz harness (fuzz/): every target runs its seed corpora cleanly in-process, the
seeds exist for every target, and the harness reports what a target does not allow.

(The atheris runs themselves are ``./run fuzz``; ``./run test`` does a short pass.)"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))

import harness  # noqa: E402
import seeds  # noqa: E402

from otr.errors import DecodeError  # noqa: E402

TARGETS = harness.target_names()


@pytest.fixture(scope="module")
def seed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seeds")
    seeds.write(root)
    return root


def test_the_targets_the_brief_lists_exist() -> None:
    assert {
        "envelope",
        "base64",
        "datacrypt",
        "fragment",
        "wire_v3",
        "tlv",
        "smp_v3",
        "client_profile",
        "prekey_profile",
        "storage_sexp",
        "storage_privkey",
        "storage_fingerprints",
        "storage_instags",
        "conversation",
        "wire_v4_dake",
        "wire_v4_data",
        "fragment_v4",
        "smp_v4",
        "v4_session",
    } <= set(TARGETS)


@pytest.mark.parametrize("name", TARGETS)
def test_target_replays_its_seeds(name: str, seed_root: Path) -> None:
    module = harness.load_target(name)
    dirs = harness.seed_dirs(module, seed_root)
    assert dirs and any(any(d.iterdir()) for d in dirs), f"{name} has no seeds"
    run = harness.checked(module)
    count = 0
    for _, data in harness.iter_inputs(dirs):
        run(data)
        count += 1
    assert count > 0


def test_seeds_are_deterministic(tmp_path: Path, seed_root: Path) -> None:
    seeds.write(tmp_path)
    for folder in seed_root.iterdir():
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            p.name for p in (tmp_path / folder.name).iterdir()
        )


def _fake_target(exc: BaseException) -> types.ModuleType:
    module = types.ModuleType("fuzz_fake")

    def one_input(data: bytes) -> None:
        raise exc

    module.one_input = one_input  # type: ignore[attr-defined]
    module.ALLOWED = (DecodeError,)  # type: ignore[attr-defined]
    module.SEEDS = ()  # type: ignore[attr-defined]
    return module


def test_harness_swallows_documented_exceptions_only() -> None:
    harness.checked(_fake_target(DecodeError("bad")))(b"x")
    with pytest.raises(KeyError):
        harness.checked(_fake_target(KeyError(3)))(b"x")
    with pytest.raises(AssertionError):
        harness.checked(_fake_target(AssertionError("invariant")))(b"x")


def test_deterministic_rng_replays() -> None:
    a, b = harness.DeterministicRng(b"s"), harness.DeterministicRng(b"s")
    assert a(70) == b(70) and len(a(5)) == 5 and a(5) != harness.DeterministicRng(b"t")(5)


def test_conversation_targets_work_without_the_accelerator(seed_root: Path) -> None:
    """The per-input copies must also work on the pure-Python twins (no C accelerator
    built), in a process of their own."""
    for name in ("conversation", "v4_session"):
        dirs = [str(d) for d in harness.seed_dirs(harness.load_target(name), seed_root)]
        proc = subprocess.run(
            [sys.executable, str(FUZZ / "harness.py"), "--replay", name, *dirs],
            env=dict(os.environ, OTR_PURE_PYTHON="1"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
