"""Parsing in worker processes, so that one file cannot take a run (or `ntm validate`) down.

A reader that aborts (python-calamine is Rust: an allocation it cannot make aborts the process) or
exhausts memory kills only its worker. Each worker has an address-space limit (RLIMIT_AS,
`Limits.worker_memory_mb`) and each file a time limit (`Limits.file_timeout_s`). The pool hands
files out in small chunks and workers answer file by file, so the parent always knows which file a
dead worker was on: that file gets the problem `reader_crashed` (or `reader_timeout`), the rest of
its chunk goes back in the queue and a fresh worker takes over.

The pool lives as long as the process (a Dagster run, the UI's code server): its workers are forked
from a forkserver that has already imported the readers, so a batch of a few files pays no start-up
beyond the first. Forkserver rather than fork: the parent holds DuckDB threads.
"""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from pipelines.ingest.readers import ParsedFile, parse_path
from pipelines.settings import Limits

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["pipelines.ingest.readers"])


def default_workers() -> int:
    """Parsing processes: `$NTM_INGEST_WORKERS`, else up to 2 (the machines this runs on are small)."""
    configured = os.environ.get("NTM_INGEST_WORKERS")
    return max(1, int(configured)) if configured else min(2, os.cpu_count() or 1)


def _serve(conn, limits: Limits) -> None:
    """A worker: parse the files of each chunk it receives, answering (index, ParsedFile) per file."""
    import resource

    os.environ["RUST_BACKTRACE"] = "0"  # an abort's backtrace would only fill the run's log
    limit = Limits.mib(limits.worker_memory_mb)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        if chunk is None:
            return
        for index, path in chunk:
            try:
                parsed = parse_path(path, limits)
            except OSError as error:  # gone, unreadable: parse_bytes itself never raises
                parsed = ParsedFile(name=path.name, sha256=_sha256_of_file(path))
                parsed.problem(None, None, None, "unreadable_file", f"không mở được tệp (cannot open: {error})")
            conn.send((index, parsed))


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: object
    pending: deque = field(default_factory=deque)  # (index, path) sent and not answered, in order
    since: float = 0.0  # when the file it is on began

    @property
    def busy(self) -> bool:
        return bool(self.pending)


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        digest.update(str(path).encode())
    return digest.hexdigest()


def _failed(path: Path, rule: str, message: str) -> ParsedFile:
    parsed = ParsedFile(name=path.name, sha256=_sha256_of_file(path))
    parsed.problem(None, None, None, rule, message)
    return parsed


class ParsePool:
    """Worker processes parsing files; `parse(paths)` returns one ParsedFile per path, in order."""

    def __init__(self, workers: int, limits: Limits):
        self.size, self.limits = max(1, workers), limits
        self._workers: list[_Worker] = []

    def _start(self) -> _Worker:
        mine, theirs = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(theirs, self.limits), name="ntm-parse", daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, mine)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.conn.close()
        replacement = self._start()
        self._workers[self._workers.index(worker)] = replacement
        return replacement

    def parse(self, paths: list[Path]) -> list[ParsedFile]:
        results: list[ParsedFile | None] = [None] * len(paths)
        if not paths:
            return []
        wanted = min(self.size, len(paths))
        while len(self._workers) < wanted:
            self._workers.append(self._start())
        active = self._workers[:wanted]
        # Small chunks: few messages for a national month, little requeued when a worker dies.
        size = max(1, min(16, len(paths) // (wanted * 8)))
        queue = deque([(i, path) for i, path in enumerate(paths)][start:start + size]
                      for start in range(0, len(paths), size))
        while queue or any(w.busy for w in active):
            for position, worker in enumerate(active):
                if not worker.busy and queue:
                    if not worker.process.is_alive():  # died between batches
                        worker = active[position] = self._replace(worker)
                    chunk = queue.popleft()
                    worker.pending.extend(chunk)
                    worker.since = time.monotonic()
                    worker.conn.send(chunk)
            busy = [w for w in active if w.busy]
            deadline = min(w.since for w in busy) + self.limits.file_timeout_s
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                         timeout=max(0.0, deadline - time.monotonic()))
            for position, worker in enumerate(active):
                if not worker.busy:
                    continue
                dead = False
                if worker.conn in ready or worker.process.sentinel in ready:
                    dead = self._drain(worker, results)
                if not dead and worker.busy and time.monotonic() - worker.since > self.limits.file_timeout_s:
                    worker.process.kill()
                    worker.process.join()
                    index, path = worker.pending.popleft()
                    results[index] = _failed(path, "reader_timeout", (
                        f"đọc tệp quá {self.limits.file_timeout_s:g} giây (reading took longer than the limit "
                        f"file_timeout_s = {self.limits.file_timeout_s:g} s)"))
                    dead = True
                elif dead:
                    worker.process.join()
                    index, path = worker.pending.popleft()
                    code = worker.process.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                    results[index] = _failed(path, "reader_crashed", (
                        f"trình đọc tệp bị dừng đột ngột ({how}) (the reader crashed on this file, "
                        f"e.g. out of memory past worker_memory_mb = {self.limits.worker_memory_mb:g} MiB)"))
                if dead:
                    queue.extendleft(reversed([[item] for item in worker.pending]))
                    active[position] = self._replace(worker)
        return results  # type: ignore[return-value]

    @staticmethod
    def _drain(worker: _Worker, results: list) -> bool:
        """Take every answer waiting; True when the worker has died."""
        try:
            while worker.busy and worker.conn.poll():
                index, parsed = worker.conn.recv()
                expected, _ = worker.pending.popleft()
                assert index == expected, (index, expected)
                results[index] = parsed
                worker.since = time.monotonic()
        except (EOFError, OSError):
            return True
        return worker.busy and not worker.process.is_alive()

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
                worker.conn.close()
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers = []


_POOL: ParsePool | None = None


def parse_files(paths: list[Path], limits: Limits | None = None, workers: int | None = None) -> list[ParsedFile]:
    """Parse files in the process's pool of workers (made, or remade when the settings change)."""
    global _POOL
    limits = limits or Limits.from_env()
    workers = default_workers() if workers is None else max(1, workers)
    if _POOL is None or _POOL.limits != limits or _POOL.size != workers:
        if _POOL is not None:
            _POOL.close()
        _POOL = ParsePool(workers, limits)
    return _POOL.parse(paths)


@atexit.register
def _close_pool() -> None:
    if _POOL is not None:
        _POOL.close()
