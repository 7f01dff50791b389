"""What analysts read beside the data: the dbt catalogue page and the descriptions of every table,
view and column, which publication writes into the published database as comments.

`dbt docs generate --static` runs in the run's process (`lib.dbt.run_dbt`, the parse the run's dbt
steps already made) and writes one self-contained page (`static_index.html`: manifest and catalog
inlined, no script, style or font fetched from elsewhere) and the manifest whose descriptions we read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Schemas of the published database (publisher.py): main's tables, the analytics views.
PUBLISHED_SCHEMAS = ("main", "analytics")

# Tables of `main` that Python writes, not dbt: described here since no dbt YAML describes them.
PYTHON_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "quality_issues": (
        "Every finding of the last run's audit as an issue (contract §5): check, severity from the policy, "
        "unit, period, message, and its history and waiver. Open errors withhold publication.",
        {
            "issue_id": "Stable key of the issue (check, unit, period, detail): what `ntm waive` takes.",
            "ma_kiem_tra": "Check code (mã kiểm tra), e.g. CLAIM_MISMATCH.",
            "muc_do": "Severity (mức độ): error or warning, from pipelines/quality/policy.toml.",
            "cap": "Level of the unit concerned: xa, huyen, tinh, toan_quoc (dbt for a failing dbt test).",
            "ma_don_vi": "Code of the unit concerned (the model, for a dbt test).",
            "ky": "Period or range concerned (kỳ).",
            "mo_ta": "Message (mô tả).",
            "trang_thai": "Status (trạng thái): open, waived or resolved.",
            "gia_tri_bao_cao": "Stated value, for a claim mismatch.",
            "gia_tri_tinh_toan": "Computed value, for a claim mismatch.",
            "first_seen": "When a run first found the issue.",
            "last_seen": "When a run last found it.",
            "resolved_at": "When a run no longer found it.",
            "waived_by": "Who waived it.",
            "waived_at": "When it was waived.",
            "waiver_reason": "Why it was waived.",
        },
    ),
    "publication_manifest": (
        "This publication: run id, time, and the row count of every table, as written by the publisher.",
        {
            "run_id": "Dagster run that published this copy.",
            "published_at": "When it was published (local time).",
            "table_name": "A published table of schema main.",
            "row_count": "Its rows in this copy.",
        },
    ),
    "publication_fingerprints": (
        "What each published table held when it was published, by month (thang_ky) or whole: the next "
        "publication copies only the months whose fingerprint changed (pipelines/publish/delta.py).",
        {
            "table_name": "A published table of schema main.",
            "thang_ky": "The month of the group (null: a table without months, or rows without a month).",
            "row_count": "Rows of the group (0 with no month: the table is empty).",
            "row_hash": "Sum of the group's row hashes (DuckDB hash of each row), as text.",
        },
    ),
}


class CatalogueFailed(Exception):
    pass


@dataclass(frozen=True)
class Docs:
    """What `dbt docs generate` wrote for this run, and how long it took."""

    manifest: Path
    page: Path
    seconds: float
    # (schema, relation) -> (relation description, {column: description})
    descriptions: dict[tuple[str, str], tuple[str, dict[str, str]]] = field(default_factory=dict)


def descriptions_from_manifest(manifest: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    """Model and seed descriptions of the published schemas, keyed by (schema, relation name)."""
    found: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed") or node.get("schema") not in PUBLISHED_SCHEMAS:
            continue
        columns = {name: col.get("description") or "" for name, col in node.get("columns", {}).items()}
        found[(node["schema"], node.get("alias") or node["name"])] = (
            node.get("description") or "", {k: v for k, v in columns.items() if v})
    for table, (description, columns) in PYTHON_TABLES.items():
        found.setdefault(("main", table), (description, columns))
    return found


def generate_docs(target_path: Path, dbt_vars: Mapping[str, Any]) -> Docs:
    """`dbt docs generate --static --no-compile` into the run's dbt target. --no-compile: the run's
    builds compiled the models already, and compiling again costs seconds for SQL the page shows raw."""
    from pipelines.lib.dbt import run_dbt

    started = time.monotonic()
    outcome = run_dbt(["docs", "generate", "--static", "--no-compile"], dbt_vars, target_path)
    page, manifest = target_path / "static_index.html", target_path / "manifest.json"
    if outcome.exception is not None or not outcome.success or not page.exists():
        raise CatalogueFailed(f"dbt docs generate failed: {outcome.exception or 'no static_index.html written'}")
    descriptions = descriptions_from_manifest(json.loads(manifest.read_text("utf-8")))
    return Docs(manifest=manifest, page=page, seconds=round(time.monotonic() - started, 2),
                descriptions=descriptions)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_comments(conn, database: str, descriptions: Mapping[tuple[str, str], tuple[str, dict[str, str]]]) -> int:
    """COMMENT ON every described table, view and column of `database` (an attached catalog); read
    back with duckdb_tables(), duckdb_views() and duckdb_columns(). Returns the comments written."""
    relations = conn.execute(
        "select schema_name, table_name, 'TABLE' from duckdb_tables() where database_name = ? "
        "union all select schema_name, view_name, 'VIEW' from duckdb_views() where database_name = ? and not internal",
        [database, database]).fetchall()
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, relation, column in conn.execute(
            "select schema_name, table_name, column_name from duckdb_columns() where database_name = ?",
            [database]).fetchall():
        columns.setdefault((schema, relation), set()).add(column)
    statements = []
    for schema, relation, kind in relations:
        description, column_descriptions = descriptions.get((schema, relation), ("", {}))
        name = f'{database}."{schema}"."{relation}"'
        if description:
            statements.append(f"comment on {kind} {name} is {_literal(description.strip())}")
        for column, text in column_descriptions.items():
            if column in columns.get((schema, relation), ()):  # a YAML may describe a column since dropped
                statements.append(f'comment on column {name}."{column}" is {_literal(text.strip())}')
    if statements:  # one transaction: a commit per comment costs ~3 ms each
        conn.execute("begin; " + "; ".join(statements) + "; commit")
    return len(statements)
