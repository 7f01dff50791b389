"""One writer per home (contract §4): `ntm run`, `ntm demo`, `ntm waive` and every run of the
pipeline job (from the UI, the sensor or the schedule) hold the home's lock while they write.

The lock is an OS file lock (`filelock`, `flock` on Unix) on `<home>/.ntm.lock`: the kernel drops
it when its process dies, so a killed holder never blocks the next writer. Who holds it (pid,
command, since) is written to `<home>/.ntm.lock.holder.json` beside it, only for the message a
second writer prints; that file never decides anything. Within one process the lock is reentrant
(`ntm run` takes it, then the job's `settings` resource takes it again), across processes it is
exclusive and never waited for: a second writer is told at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".ntm.lock"
HOLDER_NAME = ".ntm.lock.holder.json"

# This process's locks by home: [FileLock, depth]. A dict, not filelock's own reentrancy, because
# the holder file is written once per process, not once per nested acquisition.
_HELD: dict[Path, list] = {}
_GUARD = threading.Lock()


class HomeBusy(RuntimeError):
    """Another process holds the home. `str()` is the one line a command prints."""

    def __init__(self, home: Path, holder: dict | None):
        self.home, self.holder = home, holder or {}
        super().__init__(f"{home} is in use by {describe_holder(self.holder)}; nothing was changed")


def describe_holder(holder: dict) -> str:
    if not holder:
        return "another process (holder unknown)"
    return f"pid {holder.get('pid')} ({holder.get('command', '?')}) since {holder.get('since', '?')}"


def _home(home: str | os.PathLike) -> Path:
    return Path(home).resolve()


def read_holder(home: str | os.PathLike) -> dict | None:
    """What the current holder wrote about itself, if it did (a dead holder's note may remain)."""
    try:
        return json.loads((_home(home) / HOLDER_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def holder_alive(home: str | os.PathLike) -> dict | None:
    """The holder if its note names a live process, without touching the lock (the sensor's look:
    trying the lock, even briefly, could turn a writer starting at that moment away)."""
    holder = read_holder(home)
    if not holder or not isinstance(holder.get("pid"), int):
        return None
    if holder["pid"] == os.getpid():
        return holder if _home(home) in _HELD else None
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return holder


def default_command() -> str:
    return " ".join(["ntm", *sys.argv[1:]]) if Path(sys.argv[0]).name == "ntm" else " ".join(sys.argv) or "python"


@contextlib.contextmanager
def home_lock(home: str | os.PathLike, command: str | None = None) -> Iterator[None]:
    """Hold the home's writer lock for the block; raise `HomeBusy` at once if another process has it."""
    acquire(home, command)
    try:
        yield
    finally:
        release(home)


def acquire(home: str | os.PathLike, command: str | None = None) -> None:
    """Take the home's lock (again, if this process holds it); `HomeBusy` if another process does.
    Pair with `release`; `home_lock` does both around a block."""
    key = _home(home)
    with _GUARD:
        entry = _HELD.get(key)
        if entry is not None:
            entry[1] += 1
            return
        key.mkdir(parents=True, exist_ok=True)
        lock = FileLock(key / LOCK_NAME, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise HomeBusy(key, _holder_soon(key)) from None
        _write_holder(key, command or default_command())
        _HELD[key] = [lock, 1]


def release(home: str | os.PathLike) -> None:
    key = _home(home)
    with _GUARD:
        entry = _HELD.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HELD[key]
        # The note goes first: a process that finds the lock free never reads a stale holder.
        (key / HOLDER_NAME).unlink(missing_ok=True)
        entry[0].release()


def _write_holder(home: Path, command: str) -> None:
    note = {"pid": os.getpid(), "command": command,
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    tmp = home / f"{HOLDER_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(note), "utf-8")
    os.replace(tmp, home / HOLDER_NAME)


def _holder_soon(home: Path) -> dict | None:
    """The holder's note; a holder that has just taken the lock may not have written it yet."""
    for _ in range(20):
        holder = holder_alive(home)
        if holder is not None:
            return holder
        time.sleep(0.05)
    return read_holder(home)
