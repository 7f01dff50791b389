"""Publication: a read-only copy of the warehouse's published tables, swapped in atomically.

The new database and Parquet files are written beside the old ones and renamed over them, so a
reader sees the old state or the new one, never half of either, and a reader holding the old file
open keeps reading it undisturbed (the rename leaves its open file intact).

The copy also holds the `analytics` views (recreated from the warehouse's, so they read the copy's
own tables) and the descriptions of every table, view and column as comments; the dbt catalogue page
is published beside it (catalogue.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from pathlib import Path

import duckdb

from pipelines.publish import delta
from pipelines.publish.catalogue import Docs, descriptions_from_manifest, write_comments
from pipelines.settings import HomePaths

KEEP_PARQUET_VERSIONS = 2
MANIFEST_TABLE = "publication_manifest"
VIEW_SCHEMA = "analytics"
CATALOGUE_PAGE = "catalogue.html"


class PublishFailed(Exception):
    pass


def published_tables(conn: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    """Every table of the `main` schema: dimensions, facts, marts, reconciliation, quality issues."""
    return [name for (name,) in conn.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = 'main' "
        "order by table_name", [database]).fetchall()]


def _copy_views(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Recreate the warehouse's analytics views in the new copy. Their SQL names no database (dbt
    writes `main.mart_unit_month`, not `warehouse.main...`), so inside the copy they read the copy's
    own tables. A view may read another: create in rounds until none is left."""
    pending = dict(conn.execute(
        "select view_name, sql from duckdb_views() where database_name = 'src' and schema_name = ? "
        "and not internal order by view_name", [VIEW_SCHEMA]).fetchall())
    if not pending:
        return []
    conn.execute(f"create schema pub.{VIEW_SCHEMA}")
    conn.execute("use pub")  # the views' statements create `analytics.x` in the default catalog
    try:
        created, errors = [], {}
        while pending:
            before, errors = len(pending), {}
            for name, sql in list(pending.items()):
                try:
                    conn.execute(sql)
                except duckdb.Error as error:  # reads a view not created yet, or something unpublished
                    errors[name] = str(error).splitlines()[0]
                else:
                    created.append(name)
                    del pending[name]
            if len(pending) == before:  # no progress: what is left never resolves
                break
    finally:
        conn.execute("use memory")
    if pending:
        raise PublishFailed("analytics views that do not resolve in the published copy (they may read only "
                            "the tables of main and each other): "
                            + "; ".join(f"{VIEW_SCHEMA}.{name}: {errors.get(name)}" for name in sorted(pending)))
    return sorted(created)


def _project_descriptions() -> dict:
    """Descriptions from the dbt project's own parsed manifest (lib.dbt.ensure_manifest), for a
    publication made without a docs build (benchmarks)."""
    from pipelines.settings import DBT_PROJECT_DIR

    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    return descriptions_from_manifest(json.loads(manifest.read_text("utf-8")) if manifest.exists() else {})


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _base_copy(paths: HomePaths, new_db: Path, previous: dict) -> bool:
    """Start the new copy as a file copy of the published database, to be patched (delta.py); False
    when there is none to start from, or it has grown past `delta.MAX_GROWTH` of its last whole copy
    (`previous`: the published manifest.json): then every table is copied anew."""
    if not paths.published_db.exists():
        return False
    whole = previous.get("whole_copy_bytes")
    if not whole or paths.published_db.stat().st_size > delta.MAX_GROWTH * whole:
        return False
    shutil.copyfile(paths.published_db, new_db)  # a new file: writable, unlike the published one
    return True


def _read_manifest(paths: HomePaths) -> dict:
    path = paths.published / "manifest.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def _previous_parquet(paths: HomePaths, previous: dict, run_id: str | None) -> Path | None:
    """The Parquet folder of the publication `run_id` (the one the new copy started from), if the
    published manifest (`previous`) is its and the `parquet` link still points at its folder: its
    unchanged tables' files are linked, not rewritten."""
    link = paths.published / "parquet"
    if run_id is None or previous.get("run_id") != run_id or not link.is_symlink():
        return None
    folder = link.resolve()
    return folder if folder == (paths.home / previous.get("parquet_version", "")).resolve() else None


def _write_parquet(conn: duckdb.DuckDBPyConnection, table: str, parquet_dir: Path, previous: Path | None,
                   unchanged: bool) -> None:
    target = parquet_dir / f"{table}.parquet"
    if unchanged and previous is not None and (previous / target.name).exists():
        try:
            os.link(previous / target.name, target)  # the same bytes: Parquet files are never modified
            return
        except OSError:
            pass
    conn.execute(f"copy pub.main.\"{table}\" to '{target}' (format parquet)")


def _write_copy(paths: HomePaths, run_id: str, published_at: dt.datetime, new_db: Path,
                parquet_dir: Path, descriptions: dict, previous: dict) -> tuple[dict, list[str], int, dict]:
    """The new database and Parquet files, beside the published ones; returns row counts, the views,
    the number of comments written and what was copied (`delta`: tables copied whole, months
    replaced). `previous` is the published manifest.json."""
    counts = {}
    patched = _base_copy(paths, new_db, previous)
    with duckdb.connect() as conn:
        # A published table's rows have no order (readers sort, in SQL); without one to keep, DuckDB
        # copies a table and writes its Parquet with every thread.
        conn.execute("set preserve_insertion_order = false")
        conn.execute(f"attach '{paths.warehouse}' as src (read_only)")
        conn.execute(f"attach '{new_db}' as pub")
        before = delta.recorded(conn, "pub") if patched else None
        if patched and before is None:  # published before fingerprints were kept: start afresh
            conn.execute("detach pub")
            new_db.unlink()
            conn.execute(f"attach '{new_db}' as pub")
        base_run = None
        if before is not None:
            base_run = conn.execute(f"select any_value(run_id) from pub.main.{MANIFEST_TABLE}").fetchone()[0]
        previous_parquet = _previous_parquet(paths, previous, base_run)
        tables = published_tables(conn, "src")
        for stale in set(published_tables(conn, "pub")) - set(tables) - {MANIFEST_TABLE, delta.FINGERPRINTS}:
            conn.execute(f'drop table pub.main."{stale}"')
        changes, now_columns, before_columns = [], delta.columns(conn, "src"), delta.columns(conn, "pub")
        for table in tables:
            change = delta.bring_up_to_date(conn, table, now_columns[table], before_columns.get(table),
                                            (before or {}).get(table))
            changes.append(change)
            _write_parquet(conn, table, parquet_dir, previous_parquet, change.unchanged)
            counts[table] = conn.execute(f'select count(*) from pub.main."{table}"').fetchone()[0]
            if counts[table] != change.rows:  # a patch that missed rows must not be published
                raise PublishFailed(f"{table}: the copy holds {counts[table]} rows, the warehouse {change.rows}")
        delta.record(conn, changes)
        # The manifest inside the database too: manifest.json is replaced a moment after the
        # database, so a reader checking what it reads against a manifest uses this one.
        conn.execute(f"create or replace table pub.main.{MANIFEST_TABLE} (run_id varchar, published_at timestamp, "
                     "table_name varchar, row_count bigint)")
        conn.execute(f"insert into pub.main.{MANIFEST_TABLE} select ?, ?, unnest(?::varchar[]), unnest(?::bigint[])",
                     [run_id, published_at, list(counts), list(counts.values())])
        conn.execute(f"drop schema if exists pub.{VIEW_SCHEMA} cascade")
        views = _copy_views(conn)
        comments = write_comments(conn, "pub", descriptions)
        conn.execute("detach pub")
        conn.execute("detach src")
    os.chmod(new_db, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # analysts read; only a publish replaces
    _fsync(new_db)  # on disk before the rename makes it the published copy
    summary = {"base": base_run, "whole": [c.table for c in changes if c.whole],
               "months": {c.table: [m and m.isoformat() for m in c.groups] for c in changes if c.groups}}
    return counts, views, comments, summary


def _publish_catalogue(paths: HomePaths, docs: Docs) -> Path:
    """The dbt catalogue page beside the database, replaced atomically like it."""
    page = paths.published / CATALOGUE_PAGE
    tmp = paths.published / f".{CATALOGUE_PAGE}.tmp"
    shutil.copyfile(docs.page, tmp)
    os.replace(tmp, page)
    return page


def publish(paths: HomePaths, run_id: str, checks_passed: list[str], docs: Docs | None = None) -> dict:
    """Publish the warehouse. `docs` (catalogue.generate_docs of this run) brings the descriptions and
    the catalogue page; without it, the descriptions come from the project's parsed manifest, if any,
    and the catalogue page is left as it was."""
    paths.published.mkdir(parents=True, exist_ok=True)
    published_at = dt.datetime.now().replace(microsecond=0)
    stamp = published_at.strftime("%Y%m%dT%H%M%S")
    tag = f"{stamp}-{run_id[:8]}"
    new_db = paths.published / f".ntm-{tag}.duckdb"
    parquet_dir = paths.published / f"parquet-{tag}"
    parquet_dir.mkdir()
    previous = _read_manifest(paths)
    try:
        counts, views, comments, copied = _write_copy(paths, run_id, published_at, new_db, parquet_dir,
                                                      docs.descriptions if docs else _project_descriptions(), previous)
    except BaseException:
        # a failed publish leaves the published copy as it was, and no half-written files beside it
        new_db.unlink(missing_ok=True)
        shutil.rmtree(parquet_dir, ignore_errors=True)
        raise
    os.replace(new_db, paths.published_db)

    link = paths.published / "parquet"
    tmp_link = paths.published / f".parquet-{tag}"
    tmp_link.symlink_to(parquet_dir.name)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    os.replace(tmp_link, link)
    # Oldest first by time written, not by name: two publications within one second have the same
    # stamp, and their names then sort by run id.
    versions = sorted(paths.published.glob("parquet-*"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    for old in versions[:-KEEP_PARQUET_VERSIONS]:
        if old != parquet_dir:
            shutil.rmtree(old, ignore_errors=True)
    catalogue = _publish_catalogue(paths, docs) if docs else paths.published / CATALOGUE_PAGE

    manifest = {
        "run_id": run_id,
        "published_at": published_at.isoformat(timespec="seconds"),
        "database": str(paths.published_db.relative_to(paths.home)),
        "parquet": str(link.relative_to(paths.home)),
        "parquet_version": str(parquet_dir.relative_to(paths.home)),  # kept while a newer one is read
        "checks_passed": checks_passed,
        "row_counts": counts,
        "views": [f"{VIEW_SCHEMA}.{name}" for name in views],
        "comments": comments,
        "catalogue": str(catalogue.relative_to(paths.home)) if catalogue.exists() else None,
        # What this publication copied (delta.py): from the publication `base` (None: every table
        # anew), the tables copied whole and the months replaced in the others.
        "copied": copied,
        "whole_copy_bytes": (paths.published_db.stat().st_size if copied["base"] is None
                             else previous.get("whole_copy_bytes")),
    }
    _atomic_write_text(paths.published / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest
