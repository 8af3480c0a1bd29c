"""Data files: how each format is checked (:data:`DATA_FORMATS`), their first blocks, sizes and layout.

Every check that treats formats differently looks the format up in :data:`DATA_FORMATS` instead of
branching on :class:`SourceType`: a new format is one more :class:`DataFormat` entry (a test fails until
every data type has one).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.encode import render_row
from airflow_provider_lightning.core.errors import ParseError, SourceError, printable
from airflow_provider_lightning.core.importer.plan import csv_dialect
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    SHOWN,
    WARNING,
    CheckItem,
    listing,
    passed_item,
    shortened,
    unreadable_files_item,
)
from airflow_provider_lightning.core.importer.progress import format_bytes
from airflow_provider_lightning.core.mydump.csv_parser import CsvParser
from airflow_provider_lightning.core.mydump.loader import DataSource, SourceFile, TableSource
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.mydump.sql_parser import SqlParser
from airflow_provider_lightning.core.storage import Compression, Storage, open_source_file

LARGE_FILE_THRESHOLD = 10 * 1024**3
"""A data file larger than this that cannot be split is read by one worker start to end: a warning.
Lightning's ``defaultCSVSize`` (10 GiB)."""

FIRST_BLOCK_SIZE = 16 * 1024
"""How much of each data file the readability check reads (through decompression)."""

FIRST_ROW_LIMIT = 1024 * 1024
"""The longest first row (or CSV header line) the file checks read before giving up on it."""

MAX_CHUNKS_PER_FILE = 10_000
"""With ``strict-format``, a file cut into more chunks than this makes checkpoints large: a warning."""

_SPLIT_FACTOR = 1.1  # as plan.py: a strict-format CSV is split when larger than 1.1 × max-region-size


# --- the formats -----------------------------------------------------------------------------------------

SentRows = Callable[[Any, SourceFile, Any, int, dict[str, Any]], Iterator[tuple[int, int, int]]]
"""``(stream, file, csv dialect, room, parser limits)`` -> ``(size as sent, start, end)`` of each row."""


# TODO(lead): take the row parsers from the SourceType -> parser table (table.py/plan.py) once it lands.
def _sql_sent_rows(
    stream: Any, file: SourceFile, dialect: Any, room: int, limit: dict[str, Any]
) -> Iterator[tuple[int, int, int]]:
    # An SQL row travels as written: from its '(' to its ')'.
    for raw, end in SqlParser(stream, path=file.path, **limit).iter_raw_rows():
        yield len(raw), end - len(raw), end


def _csv_worst_size(size: int) -> int:
    return 3 * size + 2  # every byte escaped, and '' for each empty field


def _csv_sent_rows(
    stream: Any, file: SourceFile, dialect: Any, room: int, limit: dict[str, Any]
) -> Iterator[tuple[int, int, int]]:
    parser = CsvParser(stream, dialect, path=file.path, **limit)
    start = parser.data_start
    for values, end in parser.iter_rows():
        # A CSV row is rendered as SQL literals; only rows that might not fit are rendered to measure.
        size = end - start
        if _csv_worst_size(size) > room:
            size = len(render_row(values))
        yield size, start, end
        start = end


@dataclass(frozen=True, slots=True)
class RowSampling:
    """How the ``max_allowed_packet`` check measures the rows of a format."""

    worst_size: Callable[[int], int]
    """The largest a row of a plain file of that many bytes can be once in a statement."""
    sent_rows: SentRows


@dataclass(frozen=True, slots=True)
class DataFormat:
    """What the file checks need to know about one data-file format."""

    name: str
    """As messages name the format."""
    magic: bytes = b""
    """Every file of the format starts with these bytes ("data files readable" reads them)."""
    csv_options: bool = False
    """Read with ``[mydumper.csv]``: its header line is checked (``header = true``) or looked for."""
    splits_when_strict: bool = False
    """An uncompressed file is cut at ``max-region-size`` under ``[mydumper] strict-format``."""
    unsplit_advice: str = ""
    """What to do about a large uncompressed file of the format that is read as one chunk."""
    row_sampling: RowSampling | None = None
    """None: rows are not sampled for their size."""


_NEVER_SPLIT = "SQL and Parquet files are never split: dump smaller files (mydumper/Dumpling -F)"

DATA_FORMATS: Mapping[SourceType, DataFormat] = MappingProxyType(
    {
        SourceType.SQL: DataFormat(
            "SQL", unsplit_advice=_NEVER_SPLIT, row_sampling=RowSampling(lambda size: size, _sql_sent_rows)
        ),
        SourceType.CSV: DataFormat(
            "CSV",
            csv_options=True,
            splits_when_strict=True,
            unsplit_advice=(
                "set [mydumper] strict-format = true if no quoted field holds a line terminator, so that "
                "CSV files are cut at max-region-size"
            ),
            row_sampling=RowSampling(_csv_worst_size, _csv_sent_rows),
        ),
        SourceType.PARQUET: DataFormat("Parquet", magic=b"PAR1", unsplit_advice=_NEVER_SPLIT),
    }
)


def any_csv_options(files: Iterable[SourceFile]) -> bool:
    """Whether any of ``files`` is read with ``[mydumper.csv]`` (so its dialect is needed)."""
    return any(DATA_FORMATS[f.type].csv_options for f in files)


# --- the source's layout ---------------------------------------------------------------------------------


def check_unmatched_files(source: DataSource) -> CheckItem:
    """Files no ``[[mydumper.files]]`` rule or naming rule matched: skipped, which may not be intended."""
    name = "unmatched files"
    if not source.unmatched:
        return passed_item(name, "every file matched a rule", WARNING)
    return CheckItem(
        name,
        WARNING,
        False,
        f"files that match no rule are not imported ({len(source.unmatched)}): "
        + listing(list(source.unmatched), 5),
        "rename them the way mydumper/Dumpling name files, add [[mydumper.files]] rules, or remove them",
    )


def check_schema_objects(source: DataSource) -> CheckItem:
    """Trigger, routine and event files (mydumper's ``-G -R -E``): named, with what each holds and the
    command that applies it, since the import does not apply them and a person must."""
    objects = source.schema_objects
    lines = [
        f"{printable(o.file.path)}: {o.contents}; apply with: mariadb -h HOST -u USER -p "
        f"{shlex.quote(o.schema)} < {shlex.quote(printable(o.file.path))}"
        for o in objects
    ]
    return CheckItem(
        "triggers, routines, events",
        WARNING,
        False,
        f"{len(objects)} files of triggers, stored routines or events are not applied by the import "
        "(paths relative to the data source):\n" + "\n".join(shortened(lines)),
        "after the import has finished, apply each file by hand with the mariadb (or mysql) client as shown "
        "(triggers after the rows are in, so that they do not fire on them; a compressed file through zcat "
        "or zstdcat). Read each file first: mydumper writes DROP ... IF EXISTS before each routine and "
        "event, and the DEFINER of the source account, which may not exist on the target. Or leave the "
        "files out of the data source if they are not wanted",
    )


def check_source_layout(source: DataSource) -> CheckItem:
    """What discovering the source found odd (several schema files for one table, ...)."""
    return CheckItem(
        "source layout",
        WARNING,
        False,
        "\n".join(source.warnings[:SHOWN]),
        "remove the extra files, or set [[mydumper.files]] rules that pick the right ones",
    )


# --- the first block of every file ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileProbe:
    """What the start of one data file showed.

    ``error``: it cannot be opened, decompressed or (CSV header, Parquet magic) read at its start.
    ``header``: the CSV header's names (``header = true``). ``first_row``: the CSV file's first row
    (``header = false``, for the header detection), when it could be read.
    """

    file: SourceFile
    table: TableSource
    error: str | None = None
    header: tuple[str, ...] | None = None
    first_row: tuple[bytes | None, ...] | None = None


def probe_data_files(
    storage: Storage, source: DataSource, config: Config, *, workers: int = 4
) -> list[FileProbe]:
    """Read the first block of every data file (through decompression), a few threads at a time.

    CSV files also give their header (``header = true``) or, for the first two CSV files of each table,
    their first row (``header = false``).
    """
    dialect = None
    jobs: list[tuple[SourceFile, TableSource, bool]] = []
    for table in source.tables:
        first_rows = 0
        for file in table.data_files:
            want_row = False
            if DATA_FORMATS[file.type].csv_options and not config.mydumper.csv.header and first_rows < 2:
                want_row, first_rows = True, first_rows + 1
            jobs.append((file, table, want_row))
    if any_csv_options(f for f, _, _ in jobs):
        dialect = csv_dialect(config)

    def probe(job: tuple[SourceFile, TableSource, bool]) -> FileProbe:
        file, table, want_row = job
        data_format = DATA_FORMATS[file.type]
        try:
            with open_source_file(
                storage, file.path, file.compression, 0, block_size=FIRST_BLOCK_SIZE
            ) as stream:
                if data_format.csv_options and dialect is not None and (dialect.header or want_row):
                    return _probe_csv(stream, file, table, dialect, want_row)
                start = stream.read(FIRST_BLOCK_SIZE)
            if data_format.magic and not start.startswith(data_format.magic):
                return FileProbe(
                    file,
                    table,
                    f"{file.path} at byte 0: not a {data_format.name} file "
                    f"(no {data_format.magic.decode()!r} magic)",
                )
        except SourceError as exc:
            return FileProbe(file, table, str(exc))
        return FileProbe(file, table)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="precheck-file") as pool:
        return list(pool.map(probe, jobs))


def _probe_csv(stream: Any, file: SourceFile, table: TableSource, dialect: Any, want_row: bool) -> FileProbe:
    if dialect.header:
        try:
            parser = CsvParser(
                stream,
                dialect,
                path=file.path,
                read_header=True,
                block_size=FIRST_BLOCK_SIZE,
                max_row_size=FIRST_ROW_LIMIT,
            )
        except ParseError as exc:
            return FileProbe(file, table, f"{exc} (reading the header line, [mydumper.csv] header = true)")
        header = parser.read_header()
        return FileProbe(file, table, header=tuple(header) if header is not None else None)
    parser = CsvParser(
        stream,
        dialect,
        path=file.path,
        read_header=False,
        block_size=FIRST_BLOCK_SIZE,
        max_row_size=FIRST_ROW_LIMIT,
    )
    try:
        first = next(parser.iter_rows(), None)
    except ParseError:
        return FileProbe(file, table)  # the import reports it with full context; a header is not this
    return FileProbe(file, table, first_row=tuple(first[0]) if first is not None else None)


def check_files_readable(probes: Sequence[FileProbe]) -> CheckItem:
    """Every data file opens and decompresses at its start (a truncated end shows only when it is read)."""
    name = "data files readable"
    return unreadable_files_item(
        name,
        "data",
        [p.error for p in probes if p.error],
        len(probes),
        passed="opens and decompresses at its start",
        advice="copy these files again from their origin (or fix the file permissions / compression extension)",
    )


# --- sizes -----------------------------------------------------------------------------------------------


def check_large_files(
    source: DataSource, config: Config, *, threshold: int = LARGE_FILE_THRESHOLD
) -> list[CheckItem]:
    """Large files that cannot be split (Lightning's CHECK_LARGE_DATA_FILES), and ``strict-format`` sense.

    A file above ``threshold`` that stays one chunk is read by one worker start to end: a plain CSV file
    without ``strict-format``, any compressed file, any SQL or Parquet file.
    """
    mydumper = config.mydumper
    strict = mydumper.strict_format
    large: list[str] = []
    advice: list[str] = []
    tiny_regions: list[str] = []
    for table in source.tables:
        for file in table.data_files:
            data_format = DATA_FORMATS[file.type]
            splittable = data_format.splits_when_strict and file.compression == Compression.NONE and strict
            if splittable and file.size > mydumper.max_region_size * _SPLIT_FACTOR:
                chunks = file.size // max(1, mydumper.max_region_size)
                if chunks > MAX_CHUNKS_PER_FILE:
                    tiny_regions.append(f"{file.path} ({chunks} chunks)")
            if splittable or file.size <= threshold:
                continue
            large.append(f"{file.path} ({format_bytes(file.size)})")
            if file.compression != Compression.NONE:
                advice.append(
                    "compressed files are never split: store them uncompressed, or dump smaller files"
                )
            else:
                advice.append(data_format.unsplit_advice)
    items = []
    if large:
        items.append(
            CheckItem(
                "large data files",
                WARNING,
                False,
                f"files over {format_bytes(threshold)} that cannot be split ({len(large)}) are each read by one "
                f"worker, which slows the import down: {listing(large, 5)}",
                "\n".join(dict.fromkeys(advice)),
            )
        )
    else:
        items.append(
            passed_item(
                "large data files",
                f"no data file over {format_bytes(threshold)} that cannot be split",
                WARNING,
            )
        )
    if strict:
        if not mydumper.csv.terminator:
            items.append(
                CheckItem(
                    "strict-format",
                    CRITICAL,
                    False,
                    "mydumper.strict-format cannot be used with an empty mydumper.csv.terminator (as in Lightning): "
                    "a split point must be found without reading the file from its start",
                    "set [mydumper.csv] terminator, e.g. '\\n' or '\\r\\n'",
                )
            )
        elif tiny_regions:
            items.append(
                CheckItem(
                    "strict-format",
                    WARNING,
                    False,
                    f"max-region-size = {format_bytes(mydumper.max_region_size)} cuts files into more than "
                    f"{MAX_CHUNKS_PER_FILE} chunks each, which makes checkpoints large: {listing(tiny_regions, 5)}",
                    "raise [mydumper] max-region-size (Lightning's default is 256 MiB)",
                )
            )
        else:
            items.append(
                passed_item(
                    "strict-format",
                    f"plain CSV files over {format_bytes(int(mydumper.max_region_size * _SPLIT_FACTOR))} are cut into "
                    f"chunks of about max-region-size ({format_bytes(mydumper.max_region_size)})",
                )
            )
    return items
