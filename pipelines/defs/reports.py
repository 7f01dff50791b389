"""Reports made after each publication: the progress report of every covered province (contract §6)."""

import dagster as dg

from pipelines.lib.resources import NtmSettings


@dg.asset(
    group_name="publish",
    deps=["published_warehouse"],
    description="reports/tien_do/tien_do_tinh_<ma>_<tu>_<den>.{html,xlsx,md}: the progress report of every "
                "province of the published marts, January to its latest reported month; a report whose "
                "published rows did not change is kept. A report that fails is logged and listed; it "
                "never fails the run.",
)
def progress_reports(context: dg.AssetExecutionContext, settings: NtmSettings) -> dg.MaterializeResult:
    try:
        from pipelines.publish.progress import refresh_province_reports

        written, failed = refresh_province_reports(settings.paths, settings.band_edges)
    except Exception as error:  # noqa: BLE001 - the published warehouse stands whatever happens here
        context.log.exception("progress reports not refreshed")
        written, failed = [], [{"ma_don_vi": "*", "error": f"{type(error).__name__}: {error}"}]
    for failure in failed:
        context.log.warning(f"progress report of province {failure['ma_don_vi']} failed: {failure['error']}")
    metadata: dict = {"reports": len(written), "rewritten": sum(not r["unchanged"] for r in written),
                      "failed": len(failed)}
    lines = ["| tỉnh | kỳ | xã đạt chuẩn | tỷ lệ (%) | OCOP | báo cáo |", "| --- | --- | --- | --- | --- | --- |"]
    for report in written:
        code, values = report["ma_don_vi"], report["values"]
        rate = values.get("ty_le_xa_dat_chuan")
        metadata[f"tinh_{code}.html"] = dg.MetadataValue.path(str(report["files"]["html"]))
        metadata[f"tinh_{code}.xlsx"] = dg.MetadataValue.path(str(report["files"]["xlsx"]))
        metadata[f"tinh_{code}.so_xa_dat_chuan"] = values.get("so_xa_dat_chuan")
        metadata[f"tinh_{code}.ty_le_xa_dat_chuan"] = round(rate, 1) if rate is not None else None
        lines.append(f"| {report['ten_don_vi']} ({code}) | {report['tu']}..{report['den']} | "
                     f"{values.get('so_xa_dat_chuan')}/{values.get('so_xa')} | "
                     f"{'' if rate is None else round(rate, 1)} | {values.get('so_san_pham_ocop')} | "
                     f"{report['files']['html']} |")
    metadata["summary"] = dg.MetadataValue.md("\n".join(lines))
    if failed:
        metadata["failures"] = dg.MetadataValue.json(failed)
    return dg.MaterializeResult(metadata=metadata)


defs = dg.Definitions(assets=[progress_reports])
