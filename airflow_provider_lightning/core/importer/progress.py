"""Progress of an import: bytes and rows per table, rates and ETA.

Progress is counted from checkpointed positions (bytes done = position reached minus chunk start, summed
over chunks), so after a resume it starts where the import stands rather than at zero, and it never goes
past 100 %.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TableProgress:
    table: str
    bytes_done: int
    bytes_total: int
    rows: int
    seconds: float
    bytes_this_run: int
    rows_this_run: int
    finished: bool

    @property
    def fraction(self) -> float:
        if self.finished:
            return 1.0
        return min(1.0, self.bytes_done / self.bytes_total) if self.bytes_total else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_this_run / self.seconds if self.seconds > 0 else 0.0

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_this_run / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.finished:
            return 0.0
        rate = self.bytes_per_second
        if rate <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / rate)


class _Counter:
    __slots__ = ("total", "done", "rows", "start_done", "start_rows", "started", "ended")

    def __init__(self, total: int, done: int, rows: int) -> None:
        self.total = total
        self.done = done
        self.rows = rows
        self.start_done = done
        self.start_rows = rows
        self.started = time.monotonic()
        self.ended: float | None = None


class ImportProgress:
    """Thread-safe progress counters, read by the command line's display and by task logs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, _Counter] = {}

    def start_table(self, table: str, bytes_total: int, bytes_done: int = 0, rows_done: int = 0) -> None:
        with self._lock:
            self._tables[table] = _Counter(bytes_total, min(bytes_done, bytes_total), rows_done)

    def advance(self, table: str, bytes_done: int, rows: int) -> None:
        with self._lock:
            counter = self._tables.get(table)
            if counter is not None:
                counter.done = min(counter.total, counter.done + max(0, bytes_done))
                counter.rows += rows

    def finish_table(self, table: str) -> None:
        with self._lock:
            counter = self._tables.get(table)
            if counter is not None and counter.ended is None:
                counter.ended = time.monotonic()
                counter.done = counter.total

    def snapshot(self) -> list[TableProgress]:
        now = time.monotonic()
        with self._lock:
            return [
                TableProgress(
                    table=name,
                    bytes_done=c.done,
                    bytes_total=c.total,
                    rows=c.rows,
                    seconds=(c.ended or now) - c.started,
                    bytes_this_run=c.done - c.start_done,
                    rows_this_run=c.rows - c.start_rows,
                    finished=c.ended is not None,
                )
                for name, c in sorted(self._tables.items())
            ]


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
