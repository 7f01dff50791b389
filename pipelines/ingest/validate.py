"""`ntm validate FILE`: every problem an officer can fix before sending, without loading anything.

What `ntm run` would decide for the file, by the same steps: read in a worker process within the
same limits (worker.py), then the reference and receipt rules (reference_rules.py) against the
units package and the home's roster, with the receipt taken as now. Temporary and hidden files are
skipped, as the run skips them.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.ingest.limits import is_temporary
from pipelines.ingest.readers import Problem
from pipelines.settings import HomePaths, Limits


def validate_file(path: Path, paths: HomePaths, limits: Limits | None = None) -> list[Problem]:
    from pipelines.ingest import receipts
    from pipelines.ingest.reference_rules import Reference, check_reference
    from pipelines.ingest.worker import parse_files

    if not path.is_file():
        return [Problem(path.name, None, None, None, "missing_file", f"không tìm thấy tệp (no such file: {path})")]
    if is_temporary(path.name):
        return [Problem(path.name, None, None, None, "skipped_file", (
            "tệp tạm hoặc tệp ẩn, không được đọc (a temporary or hidden file: `ntm run` skips it too)"),
            severity="warning")]
    [parsed] = parse_files([path], limits or Limits.from_env())
    if parsed.has_rows("submissions") or parsed.has_rows("claims"):
        # The roster's valid rows, as the run's ref.roster holds them (its bad rows are the audit's).
        check_reference(parsed, Reference.from_package(paths.roster_file), receipts.now())
    return list(parsed.problems)
