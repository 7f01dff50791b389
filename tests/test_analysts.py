"""What analysts get from the demo's publication: descriptions as comments in the published DuckDB,
analytics views that resolve inside it, an offline catalogue page, and the SQL of docs/analysts.md
running on it."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from pipelines.publish.publisher import PublishFailed, publish
from pipelines.settings import PROJECT_ROOT, HomePaths
from tests.conftest import query

ANALYST_DOC = PROJECT_ROOT / "docs" / "analysts.md"
VIEWS = {"province_progress", "communes_by_title", "commune_titles", "criteria_by_province", "ocop_ratings",
         "ocop_by_stars", "flows_by_province_year", "claims", "reporting_completeness"}


def _sql_blocks() -> list[tuple[str, str]]:
    """(heading, SQL) of every ```sql block of docs/analysts.md."""
    text = ANALYST_DOC.read_text("utf-8")
    blocks = []
    for match in re.finditer(r"```sql\n(.*?)```", text, re.S):
        heading = re.findall(r"^### (.+)$", text[:match.start()], re.M)
        blocks.append((heading[-1] if heading else "?", match.group(1)))
    return blocks


def test_the_analyst_doc_has_about_ten_questions():
    assert len(_sql_blocks()) >= 10


@pytest.mark.parametrize("heading,sql", _sql_blocks(), ids=[h.split(".")[0] for h, _ in _sql_blocks()])
def test_every_question_of_the_analyst_doc_runs_on_the_published_demo(demo_home, heading, sql):
    rows = query(demo_home.published_db, sql)  # read-only connection
    assert rows, f"{heading}: no rows"


def test_tables_views_and_columns_carry_their_descriptions(demo_home):
    manifest = json.loads((demo_home.dbt_target / "manifest.json").read_text("utf-8"))
    mart = manifest["nodes"]["model.ntm.mart_unit_month"]
    [(comment,)] = query(demo_home.published_db, "select comment from duckdb_tables() "
                         "where schema_name = 'main' and table_name = 'mart_unit_month'")
    assert comment == mart["description"].strip()
    columns = dict(query(demo_home.published_db, "select column_name, comment from duckdb_columns() "
                         "where schema_name = 'main' and table_name = 'mart_unit_month'"))
    assert columns["so_xa_dat_chuan"] == mart["columns"]["so_xa_dat_chuan"]["description"]
    assert all(columns.values()), [c for c, text in columns.items() if not text]

    # every published table and view is described, the Python-written ones included
    undescribed = query(demo_home.published_db, """
        select table_name from duckdb_tables() where comment is null or comment = ''
        union all select view_name from duckdb_views() where not internal and (comment is null or comment = '')""")
    assert undescribed == []
    [(view_comment,)] = query(demo_home.published_db, "select comment from duckdb_views() "
                              "where schema_name = 'analytics' and view_name = 'claims'")
    assert "claim" in view_comment
    [(column_comment,)] = query(demo_home.published_db, "select comment from duckdb_columns() where "
                                "schema_name = 'analytics' and table_name = 'claims' and column_name = 'chenh_lech'")
    assert column_comment.startswith("gia_tri_tinh_toan - gia_tri_bao_cao")


def test_analytics_views_resolve_inside_the_published_copy_alone(demo_home, tmp_path):
    # A copy under another name in another folder: the views must read its own tables.
    copy = tmp_path / "elsewhere.duckdb"
    shutil.copyfile(demo_home.published_db, copy)
    with duckdb.connect(str(copy), read_only=True) as conn:
        views = dict(conn.execute("select view_name, sql from duckdb_views() where schema_name = 'analytics'").fetchall())
        assert set(views) >= VIEWS
        for name, sql in views.items():
            assert "warehouse" not in sql, name
            conn.execute(f"select * from analytics.{name} limit 1").fetchall()
        # the views agree with the tables they read
        assert conn.execute("select count(*) from analytics.claims").fetchone() == \
            conn.execute("select count(*) from claim_reconciliation").fetchone()
        assert conn.execute("select sum(so_xa_dat_chuan) from analytics.province_progress").fetchone() == \
            conn.execute("select sum(so_xa_dat_chuan) from mart_unit_month where cap = 'tinh'").fetchone()
    published = json.loads((demo_home.published / "manifest.json").read_text("utf-8"))
    assert set(published["views"]) == {f"analytics.{name}" for name in views}
    assert published["catalogue"] == "published/catalogue.html"


def test_the_catalogue_is_published_beside_the_database_and_needs_no_network(demo_home):
    page = demo_home.published / "catalogue.html"
    html = page.read_text("utf-8")
    assert "model.ntm.mart_unit_month" in html and "model.ntm.province_progress" in html
    # manifest and catalog are inlined: no script, style, font or image is fetched
    assert not re.search(r"""<(script|img|iframe)[^>]+src\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"""<link[^>]+href\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"""@import\s+(url\()?["']?(https?:)?//|url\(["']?(https?:)?//""", html, re.I)
    assert '"send_anonymous_usage_stats": false' in html  # the page's own tracking stays off


def test_a_view_that_reads_something_unpublished_stops_the_publication_cleanly(demo_home, tmp_path):
    home = HomePaths(tmp_path / "home").ensure()
    shutil.copyfile(demo_home.warehouse, home.warehouse)
    publish(home, "first-run", checks_passed=["test"])
    before = home.published_db.read_bytes()
    with duckdb.connect(str(home.warehouse)) as conn:
        conn.execute("create view analytics.unpublished as select * from staging.stg_files")

    with pytest.raises(PublishFailed, match=r"analytics\.unpublished: .*stg_files"):
        publish(home, "second-run", checks_passed=["test"])
    assert home.published_db.read_bytes() == before  # the published copy is untouched
    assert not list(home.published.glob(".ntm-*")) and len(list(home.published.glob("parquet-*"))) == 1
