"""When the warehouse received each file: the first time a file in `landing/` was seen, by the
sensor or by a run, in Vietnam's time zone.

The receipt is what supersede ranks on after `ngay_lap` and what timeliness is judged by, so it is
not the file's mtime (a copy keeps an old mtime; a clock on a commune's PC can be anything). The
journal `<home>/.ntm/receipts.jsonl` holds one line per file first seen (its path in landing/,
size and mtime as the key), appended without rewriting; a run drops the lines of files that have
left landing/. A file never journaled was received when the run found it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

from pipelines.settings import HomePaths

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> dt.datetime:
    return dt.datetime.now(VIETNAM).replace(microsecond=0)


def _key(paths: HomePaths, path: Path) -> str:
    stat = path.stat()
    return f"{path.relative_to(paths.landing).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}"


def _journal(paths: HomePaths) -> dict[str, dt.datetime]:
    seen = {}
    try:
        lines = paths.receipts.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return seen
    for line in lines:
        try:
            entry = json.loads(line)
            seen.setdefault(entry["key"], dt.datetime.fromisoformat(entry["received_at"]))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash: that file counts as received when next seen
    return seen


def record_receipts(paths: HomePaths, files: list[Path]) -> dict[Path, dt.datetime]:
    """Each file's receipt time, journaling the files seen for the first time now. The sensor calls
    this on every tick so that a file's receipt is when it landed, not when a run got to it."""
    seen = _journal(paths)
    received, new_lines = {}, []
    stamp = now()
    for path in files:
        try:
            key = _key(paths, path)
        except (OSError, ValueError):
            continue
        if key not in seen:
            seen[key] = stamp
            new_lines.append(json.dumps({"key": key, "received_at": stamp.isoformat()}, ensure_ascii=False))
        received[path] = seen[key]
    if new_lines:
        paths.receipts.parent.mkdir(parents=True, exist_ok=True)
        with paths.receipts.open("a", encoding="utf-8") as journal:
            journal.write("".join(line + "\n" for line in new_lines))
    return received


def forget_gone(paths: HomePaths) -> None:
    """Drop the lines of files no longer in landing/ (moved to the archive or quarantine)."""
    seen = _journal(paths)
    if not seen:
        return
    kept = []
    for key, stamp in seen.items():
        path = paths.landing / key.split("\0", 1)[0]
        try:
            if _key(paths, path) == key:
                kept.append(json.dumps({"key": key, "received_at": stamp.isoformat()}, ensure_ascii=False))
        except OSError:
            continue
    temporary = paths.receipts.with_suffix(".tmp")
    temporary.write_text("".join(line + "\n" for line in kept), "utf-8")
    os.replace(temporary, paths.receipts)


def record_receipt(paths: HomePaths, path: Path, received_at: dt.datetime) -> None:
    """Journal a known receipt time for a file in landing/ (history brought in later, whose receipt
    is on record elsewhere), before a run or the sensor first sees it."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=VIETNAM)
    paths.receipts.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"key": _key(paths, path), "received_at": received_at.isoformat()}, ensure_ascii=False)
    with paths.receipts.open("a", encoding="utf-8") as journal:
        journal.write(line + "\n")
