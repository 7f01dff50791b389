"""Parsing in worker processes, so that one file cannot take a run (or `ntm validate`) down.

A reader that aborts (python-calamine is Rust: an allocation it cannot make aborts the process) or
exhausts memory kills only its worker. Each worker has an address-space limit (RLIMIT_AS,
`Limits.worker_memory_mb`) and each file a time limit (`Limits.file_timeout_s`). The pool hands
files out in chunks, and a worker writes the index of the file it is on to shared memory, so the
parent knows which file a dead worker was on: that file gets the problem `reader_crashed` (or
`reader_timeout`), the rest of its chunk goes back in the queue and a fresh worker takes over.

The pool lives as long as the process: its workers are forked from a forkserver that has already
imported the readers, so a batch of a few files pays no start-up beyond the first. A run ends the
workers after its ingest (`release_workers`), since its dbt steps are its peak of memory; the next
parse forks new ones. Forkserver rather than fork: the parent holds DuckDB threads.
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

from pipelines.ingest.grids import sha256_of_file
from pipelines.ingest.readers import ParsedFile, parse_path
from pipelines.settings import Limits

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["pipelines.ingest.readers", "pipelines.ingest.bundle_columns",
                                  "pipelines.ingest.raw_schema"])


def default_workers() -> int:
    """Parsing processes: `$NTM_INGEST_WORKERS`, else up to 2 (the machines this runs on are small)."""
    configured = os.environ.get("NTM_INGEST_WORKERS")
    return max(1, int(configured)) if configured else min(2, os.cpu_count() or 1)


def _as_arrow(parsed: ParsedFile) -> ParsedFile:
    """The file's rows as Arrow tables of the raw tables' columns (raw_schema.py): compact to send
    and to hold. Rows that do not fit their columns (a reader's bug) would fail every load: the file
    gets `load_failed` instead."""
    from pipelines.ingest.raw_schema import ROW_ERRORS, file_tables

    if not parsed.rows:  # read as Arrow already (bundle_columns.py), or nothing read
        return parsed
    try:
        parsed.tables = file_tables(parsed.rows)
    except ROW_ERRORS as error:
        parsed.tables = {}
        parsed.problem(None, None, None, "load_failed",
                       f"không chuyển được các dòng của tệp (the file's rows do not fit their columns: {error})")
    parsed.rows.clear()
    return parsed


def _release_arrow_memory() -> None:
    """Hand a chunk's Arrow buffers back to the system: Arrow's allocator keeps freed memory."""
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def _packed(answers: list[ParsedFile], retry: bool = True) -> tuple[list[ParsedFile], dict]:
    """A chunk's files with their rows moved into one Arrow table per raw table: {table: (rows,
    [(offset, length) per file])}. One conversion and one message for the chunk, not one per file:
    a commune workbook's few dozen rows cost more to convert and send alone than to read."""
    import pyarrow as pa

    from pipelines.ingest.raw_schema import FILE_COLUMNS, ROW_ERRORS, records_table

    try:
        tables = {}
        for table in {name for parsed in answers for name in (*parsed.rows, *parsed.tables)}:
            pieces, pending, spans, offset = [], [], [], 0
            for parsed in answers:
                found = parsed.rows.get(table) or []
                arrow = parsed.tables.get(table)
                length = len(found) + (arrow.num_rows if arrow is not None else 0)
                if arrow is not None:
                    if pending:
                        pieces.append(records_table(table, pending, FILE_COLUMNS))
                        pending = []
                    pieces.append(arrow)
                else:
                    pending.extend(found)
                spans.append((offset, length))
                offset += length
            if pending:
                pieces.append(records_table(table, pending, FILE_COLUMNS))
            if offset:
                tables[table] = (_for_the_pipe(pa.concat_tables(pieces)), spans)
    except ROW_ERRORS:  # a reader's rows that do not fit: the file is found file by file (load_failed)
        if not retry:
            raise
        for parsed in answers:
            _as_arrow(parsed)
        return _packed(answers, retry=False)
    for parsed in answers:
        parsed.rows.clear()
        parsed.tables = {}
    return answers, tables


def _for_the_pipe(rows):
    """Text columns as dictionaries while they cross the pipe: a chunk's codes, periods, submission
    ids and sheet names repeat row after row, so a national chunk of 1.4 M rows crosses as 51 MB,
    not 155 MB (pickling it took a sixth of a worker's time). `_unpacked` turns them back."""
    import pyarrow as pa

    rows = rows.combine_chunks()
    return pa.table([column.dictionary_encode() if pa.types.is_string(column.type) else column
                     for column in rows.columns], names=rows.column_names)


def _unpacked(answers: list[ParsedFile], tables: dict) -> list[ParsedFile]:
    """The files of a chunk, each with its rows as slices (no copy) of the chunk's tables, text as
    text again (`_for_the_pipe`)."""
    import pyarrow as pa

    for table, (rows, spans) in tables.items():
        rows = pa.table([column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
                         for column in rows.columns], names=rows.column_names)
        for parsed, (offset, length) in zip(answers, spans):
            if length:
                parsed.tables[table] = rows.slice(offset, length)
    return answers


def _serve(conn, limits: Limits, current) -> None:
    """A worker: parse the files of each chunk it receives and answer the chunk's ParsedFiles, rows
    as Arrow, in one message. Before each file it writes the file's index to `current`, shared
    memory the parent reads when the worker dies or stalls."""
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
        answers = []
        for index, path in chunk:
            current.value = index
            try:
                parsed = parse_path(path, limits)
            except OSError as error:  # gone, unreadable: parse_bytes itself never raises
                parsed = ParsedFile(name=path.name, sha256=_sha256_of_file(path))
                parsed.problem(None, None, None, "unreadable_file", f"không mở được tệp (cannot open: {error})")
            answers.append(parsed)
        conn.send(_packed(answers))
        del answers
        _release_arrow_memory()


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: object
    current: object  # shared index of the file being parsed
    chunks: deque = field(default_factory=deque)  # chunks of (index, path) sent and not answered, in order
    seen: int = -1  # `current` at the last look
    since: float = 0.0  # when `current` was last seen to change

    @property
    def busy(self) -> bool:
        return bool(self.chunks)


def _sha256_of_file(path: Path) -> str:
    """The file's hash, or, for a file that cannot be read any more, its path's: still one identity."""
    try:
        return sha256_of_file(path)
    except OSError:
        return hashlib.sha256(str(path).encode()).hexdigest()


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
        current = _CONTEXT.RawValue("q", -1)
        process = _CONTEXT.Process(target=_serve, args=(theirs, self.limits, current), name="ntm-parse",
                                   daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, mine, current)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
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
        # Chunks big enough to share a pickle, small enough to spread the batch over the workers.
        size = max(1, min(256, len(paths) // (wanted * 8)))
        queue = deque([(i, path) for i, path in enumerate(paths)][start:start + size]
                      for start in range(0, len(paths), size))
        while queue or any(w.busy for w in active):
            for position, worker in enumerate(active):
                if not worker.busy and queue and not worker.process.is_alive():  # died between batches
                    worker = active[position] = self._replace(worker)
                # Two chunks in flight: the worker starts the next while its last answer is read.
                while len(worker.chunks) < 2 and queue:
                    if not worker.busy:
                        worker.seen, worker.since = -1, time.monotonic()
                    worker.chunks.append(queue.popleft())
                    try:
                        worker.conn.send(worker.chunks[-1])
                    except OSError:  # it died on its last chunk meanwhile: its sentinel says so below, and
                        break        # _lost puts this unsent chunk back in the queue with the rest
            busy = [w for w in active if w.busy]
            deadline = min(w.since for w in busy) + self.limits.file_timeout_s
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                         timeout=max(0.0, deadline - time.monotonic()))
            for position, worker in enumerate(active):
                if not worker.busy:
                    continue
                if worker.conn in ready or worker.process.sentinel in ready:
                    try:
                        while worker.busy and worker.conn.poll():
                            answers = _unpacked(*worker.conn.recv())
                            for (index, _), parsed in zip(worker.chunks.popleft(), answers):
                                results[index] = parsed
                    except (EOFError, OSError):
                        pass
                    if not worker.busy or worker.process.is_alive():
                        continue
                    code = worker.process.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                    self._lost(worker, queue, results, "reader_crashed", (
                        f"trình đọc tệp bị dừng đột ngột ({how}) (the reader crashed on this file, "
                        f"e.g. out of memory past worker_memory_mb = {self.limits.worker_memory_mb:g} MiB)"))
                    active[position] = self._replace(worker)
                    continue
                now = time.monotonic()
                if worker.current.value != worker.seen:
                    worker.seen, worker.since = worker.current.value, now
                elif now - worker.since > self.limits.file_timeout_s:
                    self._lost(worker, queue, results, "reader_timeout", (
                        f"đọc tệp quá {self.limits.file_timeout_s:g} giây (reading took longer than the limit "
                        f"file_timeout_s = {self.limits.file_timeout_s:g} s)"))
                    active[position] = self._replace(worker)
        return results  # type: ignore[return-value]

    @staticmethod
    def _lost(worker: _Worker, queue: deque, results: list, rule: str, message: str) -> None:
        """The worker died or stalled on the file `current` names: that file gets the problem, the
        rest of its chunk goes back to the front of the queue, one file per task."""
        culprit = worker.current.value
        lost = [item for chunk in worker.chunks for item in chunk]
        for index, path in lost:
            if index == culprit:
                results[index] = _failed(path, rule, message)
        queue.extendleft([(index, path)] for index, path in reversed(lost) if index != culprit)
        worker.chunks.clear()

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


def release_workers() -> None:
    """End the pool's workers; the next parse forks new ones from the forkserver (a moment each).
    A run parses nothing after its ingest, and its dbt steps are its peak of memory: a national
    history's two workers still hold about 140 MiB each after their last chunk."""
    if _POOL is not None:
        _POOL.close()


def live_workers() -> int:
    """Worker processes of this process's pool that are running."""
    return sum(worker.process.is_alive() for worker in _POOL._workers) if _POOL is not None else 0


atexit.register(release_workers)
