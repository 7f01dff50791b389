"""Ingestion: every file in `landing/` into the raw tables, archived or quarantined."""


import hashlib

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.ingest.store import RAW_TABLES, ingest_landing, landing_files
from pipelines.settings import NtmSettings

RAW_KEYS = [dg.AssetKey(["raw", table]) for table in RAW_TABLES]


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name="raw") for key in RAW_KEYS],
    description="Reads every new file in landing/ (submissions and claims), loads accepted files' rows "
                "with lineage in one transaction, archives them by content hash, quarantines the rest "
                "beside a reasons file.",
)
def raw_files(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    paths = settings.paths.ensure()
    with warehouse.get_connection() as conn:
        result = ingest_landing(paths, conn)
    context.log.info(f"ingested from {paths.landing}: {result.summary()}")
    for name in result.rejected:
        context.log.warning(f"rejected {name}: see {paths.quarantine} for the reasons file")
    for key in RAW_KEYS:
        table = key.path[-1]
        yield dg.MaterializeResult(asset_key=key, metadata={
            "new_rows": result.rows.get(table, 0),
            **({"accepted": len(result.accepted), "rejected": len(result.rejected),
                "duplicates": len(result.duplicates)} if table == "files" else {}),
        })


def landing_fingerprint(settings: NtmSettings) -> str | None:
    files = landing_files(settings.paths)
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


defs = dg.Definitions(assets=[raw_files])
