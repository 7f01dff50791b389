"""One DuckDB transaction around a block of statements: the warehouse's writes that must land
together or not at all (a chunk's rows and its files' records, a step's test results and the delete
they replace, the month ledger, the issue history)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection, keep: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Committed at the block's end, or rolled back with `keep=False` (a trial); rolled back on any
    error, which is raised again."""
    conn.execute("begin transaction")
    try:
        yield conn
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit" if keep else "rollback")
