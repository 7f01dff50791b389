"""The files of landing/: which are waiting, the chunks they are read in (parsed one chunk ahead of
the load by the workers, worker.py), and where each goes once its chunk is committed: the archive
by content hash, or the quarantine beside a reasons file."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

from pipelines.ingest import worker
from pipelines.ingest.limits import is_temporary
from pipelines.ingest.readers import ParsedFile
from pipelines.settings import HomePaths, Limits


def landing_files(paths: HomePaths) -> list[Path]:
    """Files waiting in landing/, without temporary and hidden ones (Excel's `~$` lock files,
    `.DS_Store`, anything under a hidden folder): `ntm validate` skips the same (limits.is_temporary)."""
    return sorted(
        p for p in paths.landing.rglob("*")
        if p.is_file() and not is_temporary(p.relative_to(paths.landing)) and not p.name.endswith(".reasons.json")
    )


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if len(suffix) <= 10 else ""


def archive_path(paths: HomePaths, sha256: str, name: str) -> Path:
    return paths.archive / f"{sha256}{_suffix(name)}"


_NAME_BYTES = 255 - len(".reasons.json")  # a file name's limit on Linux, macOS and Windows file systems


def quarantine_path(paths: HomePaths, sha256: str, name: str) -> Path:
    """`<sha12>_<name>`, the name shortened (on a character boundary, keeping its suffix) so that the
    file and its reasons file fit 255 bytes: Vietnamese titles run long. The reasons file keeps the
    whole name."""
    prefix, name = f"{sha256[:12]}_", name.replace("\0", "")
    if len((prefix + name).encode()) <= _NAME_BYTES:
        return paths.quarantine / (prefix + name)
    suffix = _suffix(name)
    room = _NAME_BYTES - len(prefix.encode()) - len(suffix.encode()) - 1
    stem = name[: len(name) - len(suffix)] if suffix else name
    stem = stem.encode()[:room].decode("utf-8", "ignore")
    return paths.quarantine / f"{prefix}{stem}~{suffix}"


def move_file(source: Path, target: Path) -> None:
    """Move a received file to its stored place (the target's folder exists); the same bytes
    stored already make the source redundant."""
    if os.path.exists(target):
        os.unlink(source)
        return
    try:
        os.rename(source, target)
    except OSError:  # another file system
        shutil.move(source, target)


def write_reasons(target: Path, parsed: ParsedFile, arrived_at: dt.datetime) -> None:
    reasons = {
        "file": parsed.name, "sha256": parsed.sha256, "arrived_at": arrived_at.isoformat(),
        "stored_as": target.name,
        "problems": [p.as_dict() for p in parsed.problems],
    }
    Path(f"{target}.reasons.json").write_text(json.dumps(reasons, ensure_ascii=False, indent=2), "utf-8")


def chunks(files: list[Path], chunk_mb: float) -> list[list[Path]]:
    """Consecutive runs of files of at most `chunk_mb` bytes on disk together (a larger file is a
    chunk of its own), in landing order."""
    limit, result, size = Limits.mib(chunk_mb), [[]], 0
    for path in files:
        try:
            length = path.stat().st_size
        except OSError:
            length = 0
        if result[-1] and size + length > limit:
            result.append([])
            size = 0
        result[-1].append(path)
        size += length
    return [chunk for chunk in result if chunk]


def parsed_chunks(parts: list[list[Path]], workers: int, limits: Limits):
    """(files, parsed files) of each chunk in order, the next chunk parsed by the workers (worker.py)
    while the caller loads this one. Workers read and hash the files themselves: no file's bytes
    cross a pipe, and a file that crashes its reader is quarantined."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ntm-parse") as ahead:
        pending = ahead.submit(worker.parse_files, parts[0], limits, workers) if parts else None
        for index, part in enumerate(parts):
            parsed = pending.result()
            pending = (ahead.submit(worker.parse_files, parts[index + 1], limits, workers)
                       if index + 1 < len(parts) else None)
            yield part, parsed
