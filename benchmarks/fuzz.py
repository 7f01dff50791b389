"""Long fuzz runs: the test's mutations (tests/mutations.py) over as many cases as you like.

    .venv/bin/python benchmarks/fuzz.py --cases 2000 --seed 7 [--batch 8] [--classes far_cell,odd_number]
    .venv/bin/python benchmarks/fuzz.py --replay odd_number:123 far_cell:5      # one case at a time
    .venv/bin/python benchmarks/fuzz.py --cases 300 --run                      # plus one real `ntm run`

Each batch (mutated files beside valid ones) goes through `ntm validate` and the real ingest in a
worker process with a memory limit (tests/fuzz_harness.py), as in tests/test_fuzz.py. Prints how
many cases, the verdict counts by mutation class, the failures by class and kind, each with the
`mutation:seed` that reproduces it; every failing file is saved under `--out`/failures/.
Not a test: it prints figures and exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cases(count: int, seed: int, classes: list[str]):
    from tests.mutations import make_case

    rng = random.Random(seed)
    order = []
    while len(order) < count:
        round_ = list(classes)
        rng.shuffle(round_)
        order += round_
    for mutation in order[:count]:
        yield make_case(mutation, rng.getrandbits(32))


def _save(out: Path, failures) -> None:
    for failure in failures:
        folder = out / "failures" / failure.case.key.replace(":", "_")
        folder.mkdir(parents=True, exist_ok=True)
        if failure.case.data:
            (folder / (failure.case.name if len(failure.case.name.encode()) < 200 else
                       f"long_name{Path(failure.case.name).suffix}")).write_bytes(failure.case.data)
        with open(folder / "failure.txt", "a", encoding="utf-8") as note:
            note.write(failure.describe() + "\n")


def main(argv=None) -> int:
    from pipelines.settings import HomePaths
    from tests.fuzz_harness import Worker, check_batch, file_status
    from tests.fuzz_support import valid_case
    from tests.mutations import MUTATIONS, make_case

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=500, help="mutated files in all (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="the run's seed: same seed, same files")
    parser.add_argument("--batch", type=int, default=8, help="mutated files per landing folder (default 8)")
    parser.add_argument("--valid", type=int, default=2, help="valid files beside them (default 2)")
    parser.add_argument("--classes", default=",".join(sorted(MUTATIONS)), help="comma-separated mutation classes")
    parser.add_argument("--replay", nargs="*", metavar="MUTATION:SEED", help="only these cases, each in its own batch")
    parser.add_argument("--no-suites", action="store_true", help="skip the Great Expectations suites (faster)")
    parser.add_argument("--run", action="store_true", help="also one `ntm run` over every case in one landing folder")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ntm_fuzz"), help="work folder (emptied first)")
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    if args.replay:
        cases = [make_case(key.split(":")[0], int(key.split(":")[1])) for key in args.replay]
        batches = [[case] for case in cases]
    else:
        cases = list(_cases(args.cases, args.seed, args.classes.split(",")))
        batches = [cases[i:i + args.batch] for i in range(0, len(cases), args.batch)]
    started = time.monotonic()
    verdicts = collections.defaultdict(collections.Counter)  # mutation → status → count
    failures = []
    with Worker(suites=not args.no_suites) as worker:
        for number, batch in enumerate(batches):
            home = args.out / f"batch{number}"
            valids = [valid_case(args.seed * 100_000 + number * args.valid + i) for i in range(args.valid)]
            found = check_batch(worker, home, batch, valids)
            known = file_status(HomePaths(home))
            for case in batch:
                status = known.get(hashlib.sha256(case.data).hexdigest(), ("not recorded",))[0]
                verdicts[case.mutation][status] += 1
            failures += found
            _save(args.out, found)
            for failure in found:
                print(failure.describe(), flush=True)
            for folder in args.out.glob(f"batch{number}*"):
                shutil.rmtree(folder, ignore_errors=True)
        restarts, slowest = worker.restarts, worker.slowest(8)
    elapsed = time.monotonic() - started

    print(f"\n{len(cases)} mutated cases in {len(batches)} batches (+{args.valid} valid each), seed {args.seed}, "
          f"{elapsed:.0f} s, worker restarts {restarts}")
    print(f"slowest: {slowest}")
    print(f"{'mutation':16} {'accepted':>9} {'rejected':>9} {'other':>9}")
    for mutation, counts in sorted(verdicts.items()):
        other = sum(v for k, v in counts.items() if k not in ("accepted", "rejected"))
        print(f"{mutation:16} {counts['accepted']:9} {counts['rejected']:9} {other:9}")
    by_kind = collections.Counter((f.case.mutation, f.kind) for f in failures)
    print(f"\n{len(failures)} failure(s)" + (f", files saved under {args.out / 'failures'}" if failures else ""))
    for (mutation, kind), count in sorted(by_kind.items()):
        example = next(f for f in failures if (f.case.mutation, f.kind) == (mutation, kind))
        print(f"  {mutation:16} {kind:20} {count:5}   e.g. --replay {example.case.key}")

    if args.run:
        failures += _one_run(args.out, cases, args.seed)
    return 1 if failures else 0


def _one_run(out: Path, cases, seed: int) -> list:
    """Every case and six valid files in one landing folder, one `ntm run` (the acceptance)."""
    from pipelines.settings import HomePaths
    from tests.conftest import NTM
    from tests.fuzz_harness import check_outcome, write_landing
    from tests.fuzz_support import valid_case

    paths = HomePaths(out / "run").ensure()
    unique = list({case.name: case for case in cases}.values())
    valids = [valid_case(seed * 100_000 + 90_000 + i) for i in range(6)]
    write_landing(paths, unique + valids)
    started = time.monotonic()
    completed = subprocess.run([NTM, "--home", str(paths.home), "run"], capture_output=True, text=True)
    print(f"\nntm run over {len(unique)} mutated + {len(valids)} valid files: exit {completed.returncode} "
          f"in {time.monotonic() - started:.0f} s")
    print(completed.stdout[-1500:], completed.stderr[-3000:])
    failures = check_outcome(paths, unique + valids, None, expected=False)
    counts = collections.Counter((f.case.mutation, f.kind) for f in failures)
    for (mutation, kind), count in sorted(counts.items()):
        print(f"  {mutation:16} {kind:20} {count:5}")
    return failures + ([None] if completed.returncode not in (0, 2) else [])


if __name__ == "__main__":
    sys.exit(main())
