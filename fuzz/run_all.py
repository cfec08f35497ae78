"""Run every fuzz target under atheris for a time budget and report executions and findings.

    python fuzz/run_all.py [SECONDS] [--runs N] [--jobs N] [--only a,b] [--json FILE]

(``./run fuzz [SECONDS]``; ``./run test`` runs a short pass.)  Seeds are (re)written
first (:mod:`seeds`); ``--runs N`` stops each target after N executions (SECONDS is
then the cap); each target keeps what libFuzzer finds in ``fuzz/.corpus/<name>``
and writes a finding to ``fuzz/.crashes/<name>-*``, replayable with
``python fuzz/harness.py --replay NAME FILE``.  Exit status 1 if any target found
something (or failed to run).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import harness

_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


@dataclass
class Outcome:
    target: str
    executions: int
    seconds: float
    returncode: int
    corpus: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_target(name: str, seconds: int, runs: int, seed_root: Path) -> Outcome:
    """One atheris run of ``name`` for ``seconds`` (plus start-up and the corpus pass)."""
    corpus = harness.CORPUS_DIR / name
    corpus.mkdir(parents=True, exist_ok=True)
    harness.CRASH_DIR.mkdir(parents=True, exist_ok=True)
    seeds = [str(p) for p in harness.seed_dirs(harness.load_target(name), seed_root)]
    # (the targets were imported once in the main thread by ``main``: concurrent first
    # imports of the same package from the pool's threads can deadlock on module locks)
    cmd = [
        sys.executable,
        str(harness.FUZZ_DIR / "harness.py"),
        name,
        f"-max_total_time={seconds}",
        f"-runs={runs}",
        "-timeout=30",
        "-rss_limit_mb=2560",
        "-max_len=16384",
        "-print_final_stats=1",
        f"-artifact_prefix={harness.CRASH_DIR}/{name}-",
        str(corpus),
        *seeds,
    ]
    t0 = time.monotonic()
    log_path = harness.CORPUS_DIR / f"{name}.log"
    with log_path.open("w") as log_file:  # streamed, so a long run can be watched
        proc = subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - t0
    log = log_path.read_text(errors="replace")
    m = _EXECUTED.search(log) or _DONE.search(log)
    executions = int(m.group(1)) if m else 0
    if proc.returncode != 0:
        sys.stderr.write(f"--- {name}: finding or failure (exit {proc.returncode}) ---\n")
        sys.stderr.write("\n".join(log.splitlines()[-40:]) + "\n")
    size = sum(1 for _ in corpus.iterdir())
    return Outcome(name, executions, round(elapsed, 1), proc.returncode, size)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", nargs="?", type=int, default=60, help="per target")
    parser.add_argument("--runs", type=int, default=-1, help="executions per target (-1: no limit)")
    parser.add_argument("--jobs", type=int, default=1, help="targets run at once")
    parser.add_argument("--only", default="", help="comma-separated target names")
    parser.add_argument("--json", type=Path, help="write the outcomes here")
    args = parser.parse_args(argv)
    names = harness.target_names()
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - set(names)
        if unknown:
            parser.error(f"unknown targets {sorted(unknown)}; known: {names}")
        names = wanted
    seed_root = harness.CORPUS_DIR / "seeds"
    subprocess.run(
        [sys.executable, str(harness.FUZZ_DIR / "seeds.py"), str(seed_root)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for name in names:  # import every target here, before the threads use them
        harness.load_target(name)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(
            pool.map(lambda n: run_target(n, args.seconds, args.runs, seed_root), names)
        )
    print(f"{'target':<22} {'executions':>11} {'exec/s':>8} {'corpus':>7}  result")
    for o in outcomes:
        rate = o.executions / max(o.seconds, 1e-9)
        result = "ok" if o.ok else f"FINDING (exit {o.returncode})"
        print(f"{o.target:<22} {o.executions:>11} {rate:>8.0f} {o.corpus:>7}  {result}")
    total = sum(o.executions for o in outcomes)
    bad = [o.target for o in outcomes if not o.ok]
    print(f"{len(outcomes)} targets, {total} executions, {len(bad)} with findings")
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
