"""Driving the real ingest and `ntm validate` on mutated files, and judging the outcome.

The ingest and `ntm validate` run in a worker process with a memory limit, so a file that aborts
its reader (a Rust abort, an allocation of hundreds of GB) is reported as that file's failure
instead of taking the test process down; a dead or stuck worker is replaced. The outcome is read
from the home afterwards: `raw.files`, `archive/`, `quarantine/` and the reasons files.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import resource
import signal
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.settings import HomePaths
from tests.fuzz_support import Case

MEMORY_LIMIT = 4 << 30  # address space of the worker and its children: a runaway reader dies, the machine lives
TIMEOUT_S = 120  # one validate or one ingest of a batch


@dataclass
class Failure:
    case: Case
    kind: str  # validate_crash|validate_died|validate_timeout|ingest_crash|ingest_died|ingest_timeout|
    #            lost|no_reasons|neighbour_rejected|wrong_verdict|validate_disagrees|left_in_landing
    detail: str

    def describe(self) -> str:
        return (f"[{self.case.mutation}] {self.kind}: {self.case.name[:80]} (replay {self.case.key}; "
                f"{self.case.note[:160]}): {self.detail[:600]}")


# --- the worker ----------------------------------------------------------------------------------

def _serve(conn, memory_limit: int | None, with_suites: bool) -> None:
    os.setpgrp()  # a group of its own: a stuck worker is killed with the processes it started
    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    suites = None
    while True:
        try:
            op, home, *args = conn.recv()
        except EOFError:
            break
        try:
            if op == "validate":
                result = _validate(home, *args)
            else:
                if with_suites and suites is None:
                    from pipelines.quality.expectations import SuitesProcess

                    suites = SuitesProcess()
                result = _ingest(home, suites)
            conn.send(("ok", result))
        except BaseException:  # a Rust panic arrives as a BaseException; anything that escapes is a crash
            trace = traceback.format_exc()
            if suites is not None and "process ended before answering" in trace:  # the suites' process died
                suites.close()
                suites = None
            conn.send(("raised", trace))
    if suites is not None:
        suites.close()


def _validate(home: str, path: str) -> tuple[int, str]:
    """`ntm --home HOME validate PATH` as the console script runs it, its output captured."""
    from pipelines.cli import main

    output = io.StringIO()
    with redirect_stdout(output), redirect_stderr(output):
        code = main(["--home", home, "validate", path])
    return code, output.getvalue()


def _ingest(home: str, suites) -> dict:
    """The ingest as the `raw_files` asset runs it: every file in landing/ as one batch, with the
    Great Expectations suites in their own process."""
    from pipelines.ingest.store import ingest_landing

    paths = HomePaths(Path(home)).ensure()
    with duckdb.connect(str(paths.warehouse)) as conn:
        return ingest_landing(paths, conn, validate_batch=suites).summary()


class Worker:
    def __init__(self, memory_limit: int | None = MEMORY_LIMIT, timeout: float = TIMEOUT_S, suites: bool = True):
        self.memory_limit, self.timeout, self.suites = memory_limit, timeout, suites
        self.process = None
        self.restarts = 0
        self.timings: list[tuple[float, str, str]] = []  # (seconds, op, file or home): the slow cases

    def slowest(self, count: int = 5) -> str:
        return ", ".join(f"{op} {Path(target).name[:60]} {seconds:.1f} s"
                         for seconds, op, target in sorted(self.timings, reverse=True)[:count])

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # nothing of the test process's state is copied
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.memory_limit, self.suites), name="fuzz-worker")
        self.process.start()
        child.close()

    def call(self, op: str, home: Path, *args) -> tuple[str, object]:
        """("ok", result) | ("raised", traceback) | ("died", exit code) | ("timeout", seconds)."""
        if self.process is None:
            self._start()
        started = time.monotonic()
        try:
            self.conn.send((op, str(home), *map(str, args)))
            if not self.conn.poll(self.timeout):
                self._kill()
                return "timeout", self.timeout
            return self.conn.recv()
        except (EOFError, OSError):
            self.process.join(10)
            code = self.process.exitcode
            self._kill()
            return "died", code
        finally:
            self.timings.append((time.monotonic() - started, op, str(args[0] if args else home)))

    def _kill(self) -> None:
        if self.process.is_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the worker's own group (setpgrp above)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.join(10)
        self.conn.close()
        self.process = None
        self.restarts += 1

    def close(self) -> None:
        if self.process is not None:
            self.conn.close()
            self.process.join(30)
            if self.process.is_alive():
                self._kill()
            self.process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- one batch -----------------------------------------------------------------------------------

def _first_lines(text: str, count: int = 3) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-count:])


def write_landing(paths: HomePaths, cases: list[Case]) -> None:
    names = [case.name for case in cases]
    assert len(set(names)) == len(names), "two cases share a file name: one would overwrite the other"
    paths.ensure()
    for case in cases:
        (paths.landing / case.name).write_bytes(case.data)


def validate_all(worker: Worker, paths: HomePaths, cases: list[Case]) -> tuple[dict, list[Failure]]:
    """`ntm validate` on each file where it waits in landing/: {name: (exit, output)} and failures."""
    verdicts, failures = {}, []
    for case in cases:
        status, value = worker.call("validate", paths.home, paths.landing / case.name)
        if status == "ok" and value[0] in (0, 1):
            verdicts[case.name] = value
        elif status == "ok":
            failures.append(Failure(case, "validate_exit", f"exit {value[0]}: {_first_lines(value[1])}"))
        else:
            failures.append(Failure(case, f"validate_{'crash' if status == 'raised' else status}",
                                    _first_lines(str(value))))
    return verdicts, failures


def check_batch(worker: Worker, root: Path, cases: list[Case], valids: list[Case]) -> list[Failure]:
    """Mutated cases and valid neighbours in one landing folder: validate each, ingest them as one
    batch, judge every file. When the ingest itself fails, each case is tried alone beside the
    valid files to name the one that breaks it."""
    paths = HomePaths(root)
    write_landing(paths, cases + valids)
    verdicts, failures = validate_all(worker, paths, cases + valids)
    status, value = worker.call("ingest", paths.home)
    if status == "ok":
        return failures + check_outcome(paths, cases + valids, verdicts)
    kind = f"ingest_{'crash' if status == 'raised' else status}"
    blamed = []
    for index, case in enumerate(cases):
        alone = HomePaths(root.with_name(f"{root.name}_alone{index}"))
        write_landing(alone, [case] + valids)
        alone_status, alone_value = worker.call("ingest", alone.home)
        if alone_status != "ok":
            blamed.append(Failure(case, f"ingest_{'crash' if alone_status == 'raised' else alone_status}",
                                  f"alone beside the valid files: {_first_lines(str(alone_value))}"))
    if not blamed:
        blamed = [Failure(case, kind, f"only together with {len(cases) - 1} other case(s): {_first_lines(str(value))}")
                  for case in cases]
    return failures + blamed


def file_status(paths: HomePaths) -> dict[str, tuple[str, str]]:
    if not paths.warehouse.exists():
        return {}
    with duckdb.connect(str(paths.warehouse), read_only=True) as conn:
        return {sha: (status, stored) for sha, status, stored in
                conn.execute("select file_sha256, status, stored_path from raw.files").fetchall()}


def _reasons(stored: Path) -> list[dict] | None:
    path = Path(f"{stored}.reasons.json")
    if not path.exists():
        return None
    return json.loads(path.read_text("utf-8")).get("problems", [])


def _summary(problems: list[dict] | None) -> str:
    if not problems:
        return "no reasons"
    return "; ".join(f"{p['rule']} {p.get('sheet')}/{p.get('row')}/{p.get('column')}: {p['message'][:100]}"
                     for p in problems[:3])


def check_outcome(paths: HomePaths, cases: list[Case], verdicts: dict | None, expected: bool = True) -> list[Failure]:
    """Every file loaded (accepted, archived) or quarantined beside reasons naming an error; valid
    files loaded; landing/ empty; `ntm validate`'s verdict (when given) the ingest's; with `expected`,
    each case's expected verdict where it has one."""
    known = file_status(paths)
    failures = []
    for case in cases:
        sha = hashlib.sha256(case.data).hexdigest()
        if sha not in known:
            where = "still in landing/" if (paths.landing / case.name).exists() else "nowhere"
            failures.append(Failure(case, "lost", f"not in raw.files; the file is {where}"))
            continue
        status, stored = known[sha]
        stored = paths.home / stored
        problems = _reasons(stored) if status == "rejected" else None
        if status == "accepted" and not stored.exists():
            failures.append(Failure(case, "lost", f"accepted but {stored} is missing"))
        elif status == "rejected" and not (stored.exists() and problems and
                                           any(p.get("severity") == "error" for p in problems)):
            failures.append(Failure(case, "no_reasons", f"rejected; kept {stored.exists()}; reasons {problems!r:.200}"))
        elif status not in ("accepted", "rejected"):
            failures.append(Failure(case, "lost", f"status {status!r}"))
        if case.mutation == "valid" and status != "accepted":
            failures.append(Failure(case, "neighbour_rejected", _summary(problems)))
        elif expected and case.expect and status != case.expect:
            failures.append(Failure(case, "wrong_verdict", f"{status}, expected {case.expect}: {_summary(problems)}"))
        if verdicts and case.name in verdicts:
            code, output = verdicts[case.name]
            if (code == 0) != (status == "accepted"):
                failures.append(Failure(case, "validate_disagrees", (
                    f"validate exit {code} ({_first_lines(output, 2)}), ingest {status} ({_summary(problems)})")))
    names = {case.name: case for case in cases}
    for left in sorted(paths.landing.iterdir()) if paths.landing.exists() else []:
        case = names.get(left.name, Case("unknown", 0, left.name, b""))
        failures.append(Failure(case, "left_in_landing", f"{left.name} still in landing/"))
    return failures
