"""Issue 10, item 8 and its "Done when": mutated files next to valid ones never stop a run.

Two tests:
- a seeded property-based test (hypothesis, derandomised): batches of mutated xlsx workbooks, CSV
  bundles and claims files (tests/mutations.py) beside valid ones, each batch through the real
  ingest (`ingest_landing` on a DuckDB file, Great Expectations suites included) and every file
  through `ntm validate`, in a worker process (tests/fuzz_harness.py) so that a reader's abort is
  a reported failure, not a dead test run. Every failure of every batch is listed at the end, each
  with the `mutation:seed` that reproduces it (`benchmarks/fuzz.py --replay mutation:seed`);
- THE EXPENSIVE ONE, the acceptance: several hundred mutated files and a handful of valid ones in
  one landing folder, one real `ntm run`.
"""

from __future__ import annotations

import collections
import itertools
import os
import resource
import subprocess

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipelines.settings import HomePaths
from tests.conftest import NTM
from tests.fuzz_harness import Failure, Worker, check_batch, check_outcome, write_landing
from tests.fuzz_support import valid_case
from tests.mutations import MUTATIONS, make_case

CASES_PER_BATCH = 10  # mutated files per landing folder, beside VALID_PER_BATCH valid ones
VALID_PER_BATCH = 2
BATCHES = int(os.environ.get("NTM_FUZZ_BATCHES", "20"))  # 200 mutated + 40 valid files in CI


def report(failures: list[Failure], limit: int = 40) -> str:
    failures = list({(f.case.key, f.kind): f for f in failures}.values())  # a case drawn twice counts once
    by_class = collections.Counter((f.case.mutation, f.kind) for f in failures)
    lines = [f"{len(failures)} failure(s):"]
    lines += [f"  {mutation:16} {kind:20} {count}" for (mutation, kind), count in sorted(by_class.items())]
    lines += [f.describe() for f in failures[:limit]]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def worker():
    with Worker() as running:
        yield running


def test_mutated_files_are_loaded_or_quarantined_and_never_stop_their_valid_neighbours(worker, tmp_path):
    """For every file of every batch: no exception and no dead process, in the ingest or in `ntm
    validate`; loaded, or quarantined beside reasons naming an error; valid neighbours loaded;
    landing/ empty; validate's exit 0 exactly when the ingest accepted it; the contract's verdict
    where it leaves no doubt. Failures are collected over all batches and listed together."""
    failures: list[Failure] = []
    exercised = collections.Counter()
    numbering = itertools.count()

    @settings(max_examples=BATCHES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(classes=st.permutations(sorted(MUTATIONS)),
           seeds=st.lists(st.integers(0, 2**32 - 1), min_size=CASES_PER_BATCH, max_size=CASES_PER_BATCH),
           valid_seed=st.integers(0, 2**32 - 1))
    def one_batch(classes, seeds, valid_seed):
        number = next(numbering)
        # Salted by the batch's number: derandomised draws repeat small seeds, which would test one file twice.
        cases = [make_case(mutation, (seed + 7919 * number) % 2**32) for mutation, seed in zip(classes, seeds)]
        valids = [valid_case(valid_seed + i) for i in range(VALID_PER_BATCH)]
        exercised.update(case.mutation for case in cases)
        failures.extend(check_batch(worker, tmp_path / f"batch{number}", cases, valids))

    one_batch()
    assert set(exercised) == set(MUTATIONS), exercised  # every class drawn: the harness itself is sound
    assert not failures, report(failures) + f"\nslowest: {worker.slowest()}"


def test_round_trip_of_valid_files_keeps_them_valid(worker, tmp_path):
    """The harness's own guard: a valid file read into a Doc and written again still loads, so a
    mutation's outcome is the mutation's, not the rewriting's."""
    from tests.fuzz_support import EXTENSIONS, Case, read_doc, write_doc

    cases = []
    for seed in range(8):
        case = valid_case(seed)
        rewritten = write_doc(read_doc(case.note, case.data))
        cases.append(Case("valid", seed, f"rewritten_{seed}{EXTENSIONS[case.note]}", rewritten, case.note))
    failures = check_batch(worker, tmp_path / "home", [], cases)
    assert not failures, report(failures)


def _memory_limit():
    """The run's address space bounded, so a reader that would take the machine's memory dies instead."""
    limit = 12 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


ACCEPTANCE_FILES = 300


@pytest.mark.expensive
def test_acceptance_one_run_over_several_hundred_mutated_files_and_a_handful_of_valid_ones(tmp_path):
    """Issue 10, "Done when": one `ntm run` (the console script, the real pipeline) over a landing
    folder of 300 mutated files and 6 valid ones exits 0 or 2; every valid file is loaded, every
    other one loaded or quarantined beside its reasons, and landing/ is empty."""
    paths = HomePaths(tmp_path / "home").ensure()
    classes = sorted(MUTATIONS)
    cases = [make_case(classes[i % len(classes)], 10_000 + i // len(classes)) for i in range(ACCEPTANCE_FILES)]
    valids = [valid_case(20_000 + i) for i in range(6)]
    write_landing(paths, cases + valids)
    completed = subprocess.run([NTM, "--home", str(paths.home), "run"], capture_output=True, text=True,
                               timeout=1800, preexec_fn=_memory_limit)
    output = (completed.stdout[-3000:] + completed.stderr[-5000:])
    assert completed.returncode in (0, 2), f"exit {completed.returncode}\n{output}"
    failures = check_outcome(paths, cases + valids, None, expected=False)  # the criteria, no more
    assert not failures, report(failures) + "\n" + output
