"""Rows against the server's ``max_allowed_packet``: no single row may be too large for one statement."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.identifiers import qualified_name, quote_identifier
from airflow_provider_lightning.core.errors import LightningError, ParseError, SourceError
from airflow_provider_lightning.core.importer.plan import csv_dialect
from airflow_provider_lightning.core.importer.prechecks.files import DATA_FORMATS, any_csv_options
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    SHOWN,
    CheckItem,
    passed_item,
)
from airflow_provider_lightning.core.importer.prechecks.target import TargetCatalog
from airflow_provider_lightning.core.importer.progress import format_bytes
from airflow_provider_lightning.core.mydump.loader import DataSource, SourceFile, TableSource
from airflow_provider_lightning.core.storage import Compression, Storage, open_source_file

ROW_SAMPLE_BYTES = 4 * 1024 * 1024
"""How far into a file the ``max_allowed_packet`` check reads (rows that start before it are read whole)."""

ROW_SAMPLE_FILES = 32
"""At most this many files are sampled for row sizes: the largest candidate of each table, largest first."""

STATEMENT_MARGIN = 1024
"""Bytes a single-row statement needs besides the row and its ``INSERT INTO ... VALUES`` head."""

MAX_PACKET_LIMIT = 1024**3
"""The largest ``max_allowed_packet`` MySQL and MariaDB accept (1 GiB)."""


def check_row_sizes(
    storage: Storage,
    source: DataSource,
    config: Config,
    max_allowed_packet: int,
    catalog: TargetCatalog | None = None,
    *,
    sample_bytes: int = ROW_SAMPLE_BYTES,
    max_files: int = ROW_SAMPLE_FILES,
    workers: int = 4,
) -> CheckItem:
    """No row is too large for one statement within the server's ``max_allowed_packet``.

    The logical backend cuts batches to fit the packet, so only a single row larger than it can fail. A
    plain file whose worst-case statement is smaller than the packet cannot hold one (SQL rows travel as
    written; a CSV row renders to at most three times its size). Of the other files, the largest of each
    table is sampled — rows starting in its first ``sample_bytes``, at most ``max_files`` files — with
    the import's parsers. Parquet files are not sampled.
    """
    name = "max_allowed_packet"
    dialect = (
        csv_dialect(config) if any_csv_options(f for t in source.tables for f in t.data_files) else None
    )
    picks: list[tuple[SourceFile, TableSource, int]] = []
    for table in source.tables:
        # Most files fit even with the longest column list a table can have: no catalogue query for them.
        bound = _statement_overhead(table, None) + _LONGEST_COLUMN_LIST
        rows = [f for f in table.data_files if DATA_FORMATS[f.type].row_sampling is not None]
        if all(_fits_by_size(f, max_allowed_packet, bound) for f in rows):
            continue
        overhead = _statement_overhead(table, catalog)
        candidates = [f for f in rows if not _fits_by_size(f, max_allowed_packet, overhead)]
        if candidates:
            picks.append((max(candidates, key=lambda f: f.size), table, overhead))
    if not picks:
        return passed_item(
            name, f"every data file is smaller than max_allowed_packet ({format_bytes(max_allowed_packet)})"
        )
    picks.sort(key=lambda p: -p[0].size)
    sampled = picks[:max_files]

    def sample(pick: tuple[SourceFile, TableSource, int]) -> tuple[SourceFile, int, int, int, str | None]:
        file, _, overhead = pick
        try:
            largest, at = _largest_row(storage, file, dialect, max_allowed_packet - overhead, sample_bytes)
        except (SourceError, LightningError) as exc:
            return file, overhead, 0, 0, str(exc)
        return file, overhead, largest, at, None

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="precheck-rows") as pool:
        results = list(pool.map(sample, sampled))
    too_big, broken = [], []
    need = 0
    largest_seen = 0
    for file, overhead, largest, at, error in results:
        if error:
            broken.append(error)
            continue
        largest_seen = max(largest_seen, largest)
        if largest + overhead > max_allowed_packet:
            measured = largest <= _sample_row_limit(max_allowed_packet - overhead)
            size = f"of {format_bytes(largest)} ({largest} bytes)" if measured else (
                f"longer than {format_bytes(largest - 1)} ({largest - 1} bytes; read no further)"
            )
            too_big.append(f"{file.path} at byte {at}: a row {size} does not fit in one statement")
            need = max(need, largest + overhead)
    scope = (
        f"sampled the first {format_bytes(sample_bytes)} of {len(sampled)} file(s) larger than the packet"
        + (f" (of {len(picks)} tables with such files)" if len(picks) > len(sampled) else "")
    )
    if too_big or broken:
        lines = [
            f"max_allowed_packet is {max_allowed_packet} bytes ({format_bytes(max_allowed_packet)}); {scope}:"
        ]
        lines += too_big[:SHOWN] + broken[:SHOWN]
        advice = []
        if too_big:
            wanted = min(MAX_PACKET_LIMIT, -(-need // (1024 * 1024)) * 1024 * 1024)
            if need > MAX_PACKET_LIMIT:
                advice.append(
                    "a row over 1 GiB cannot be sent at all: split its value, or leave the table out"
                )
            else:
                advice.append(
                    f"raise max_allowed_packet on the server, e.g. SET GLOBAL max_allowed_packet = {wanted}; "
                    "(and in its config file), then run the import again: new connections use it"
                )
        if broken:
            advice.append(
                "fix or re-dump the files that cannot be parsed; each message names the byte offset"
            )
        return CheckItem(name, CRITICAL, False, "\n".join(lines), "\n".join(advice))
    return passed_item(
        name,
        f"{scope}; the largest row is {format_bytes(largest_seen)}, within max_allowed_packet "
        f"({format_bytes(max_allowed_packet)}); rows further in are checked as they are imported",
    )


_LONGEST_COLUMN_LIST = 4096 * (2 * 64 + 3)


def _statement_overhead(table: TableSource, catalog: TargetCatalog | None) -> int:
    """Bytes of ``REPLACE INTO `db`.`t` (`c1`, ...) VALUES `` plus a margin: what a row is sent inside."""
    info = catalog.info(table.schema, table.name) if catalog is not None else None
    columns = sum(len(quote_identifier(c.name)) + 1 for c in info.columns) if info else 0
    return (
        len("REPLACE INTO  () VALUES ")
        + len(qualified_name(table.schema, table.name))
        + columns
        + STATEMENT_MARGIN
    )


def _fits_by_size(file: SourceFile, packet: int, overhead: int) -> bool:
    """A plain file so small that no row of it can overflow a statement (compressed sizes prove nothing)."""
    if file.compression != Compression.NONE:
        return False
    sampling = DATA_FORMATS[file.type].row_sampling
    assert sampling is not None  # only the files of sampled formats are asked
    worst = sampling.worst_size(file.size)
    return worst + overhead <= packet


def _largest_row(
    storage: Storage, file: SourceFile, dialect: Any, room: int, sample_bytes: int
) -> tuple[int, int]:
    """(size, start offset) of the largest row starting in the first ``sample_bytes`` of ``file``, as sent."""
    # A row longer than the room cannot be sent whatever it holds: the parsers stop soon after (rows up to
    # 1 MiB are still measured, for the advice) rather than buffer a giant or unterminated literal up to
    # their own, larger limit.
    limit = {
        "max_row_size": _sample_row_limit(room),
        "max_row_size_source": "max_allowed_packet less the INSERT around the row: it cannot be sent",
    }
    with open_source_file(storage, file.path, file.compression, 0) as opened:
        # Rows starting in the sample are read whole, but no further: a row that started there and has not
        # ended by the window's end is too long for the parser anyway, and what lies beyond (megabytes of
        # comments, say) is not sampled.
        stream = _SampleWindow(opened, sample_bytes + 2 * limit["max_row_size"] + 1024 * 1024)
        try:
            return _largest_in(stream, file, dialect, room, sample_bytes, limit)
        except _SampleWindow.End:
            return stream.largest
        except ParseError as exc:
            if limit["max_row_size_source"] not in exc.reason:
                raise
            # A row the parser stopped reading: longer than its limit, which is longer than the room.
            return limit["max_row_size"] + 1, exc.offset or 0


def _sample_row_limit(room: int) -> int:
    return max(room + 1, 1024 * 1024)


def _largest_in(
    stream: Any, file: SourceFile, dialect: Any, room: int, sample_bytes: int, limit: dict[str, Any]
) -> tuple[int, int]:
    largest, at = 0, 0
    sampling = DATA_FORMATS[file.type].row_sampling
    assert sampling is not None  # only the files of sampled formats are read
    for size, start, end in sampling.sent_rows(stream, file, dialect, room, limit):
        if size > largest:
            largest, at = size, start
            stream.largest = (largest, at)
        if end >= sample_bytes:
            break
    return largest, at


class _SampleWindow:
    """A stream that ends the sampling (raises :class:`End`) once ``limit`` bytes have been read."""

    class End(Exception):  # noqa: N818 - not an error: the sample is complete
        pass

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._left = limit
        self.largest = (0, 0)  # (size, offset) of the largest row so far

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise self.End
        data = self._stream.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data
