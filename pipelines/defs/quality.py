"""Audit: every finding becomes a quality issue; open errors block publication."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.publish.report import build_report, write_report
from pipelines.quality.issues import issue_counts, load_policy, refresh_issues
from pipelines.quality.runs import record_run
from pipelines.lib.resources import NtmSettings


@dg.asset(
    group_name="audit",
    deps=[dg.AssetKey("audit_findings"), dg.AssetKey("claim_reconciliation"), dg.AssetKey("mart_unit_month")],
    description="Every finding of this run (claims reconciliation, commune checks, ingest problems, dbt tests) "
                "with its severity from the policy, its history and any waiver. Writes the quality report.",
)
def quality_issues(context: dg.AssetExecutionContext, settings: NtmSettings,
                   warehouse: DuckDBResource) -> dg.MaterializeResult:
    policy = load_policy(settings.policy_file)
    with warehouse.get_connection() as conn:
        counts = refresh_issues(conn, policy)
        record_run(conn, context.run.run_id)
        report = build_report(conn, context.run.run_id)
    page = write_report(settings.paths, report)
    context.log.info(f"quality report: {page}")
    return dg.MaterializeResult(metadata={**counts, "report": dg.MetadataValue.path(str(page))})


@dg.asset_check(asset=quality_issues, blocking=True, description="No open error-severity issue remains.")
def no_open_errors(settings: NtmSettings, warehouse: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        counts = issue_counts(conn)
        blocking = conn.execute(
            """select ma_kiem_tra, count(*) as n, any_value(mo_ta) as example from main.quality_issues
               where muc_do = 'error' and trang_thai = 'open' group by 1 order by n desc limit 20""").fetchall()
    table = "| check | issues | example |\n|---|---|---|\n" + "".join(
        f"| {code} | {n} | {example.replace('|', '/')} |\n" for code, n, example in blocking)
    return dg.AssetCheckResult(
        passed=counts["open_errors"] == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{counts['open_errors']} open error issue(s) withhold publication"
                     if counts["open_errors"] else "no open error issue"),
        metadata={"open_errors": counts["open_errors"],
                  "blocking_checks": dg.MetadataValue.md(table if blocking else "none"),
                  "report": dg.MetadataValue.path(str(settings.paths.reports / "latest.html"))},
    )


defs = dg.Definitions(assets=[quality_issues], asset_checks=[no_open_errors])
