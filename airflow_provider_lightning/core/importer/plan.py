"""The import plan of a table: its engines and chunks, as Lightning's ``MakeTableRegions`` cuts them.

- An SQL, Parquet or compressed file is one chunk.
- A plain CSV file larger than 1.1 × ``max-region-size`` under ``strict-format = true`` is cut into byte
  ranges of about ``max-region-size``, each starting at a row (``split_csv_ranges``); its header is read
  once here and the column names travel with every range.
- Chunks are grouped into engines of about ``batch-size`` source bytes.

The plan is a pure function of the table's files and these options, so it is the same in every process;
:func:`table_fingerprint` digests exactly what it depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_lightning.core.checkpoints.model import (
    WHOLE_FILE,
    CheckpointStatus,
    ChunkCheckpoint,
    EngineCheckpoint,
    TableCheckpoint,
    fingerprint_of,
    table_key,
)
from airflow_provider_lightning.core.mydump.csv_parser import CsvDialect, CsvParser, split_csv_ranges
from airflow_provider_lightning.core.mydump.loader import SourceFile, TableSource
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.storage import Compression, Storage, open_source_file

# Lightning splits a strict-format CSV only when it is clearly larger than one region.
_SPLIT_FACTOR = 1.1


def plan_options(config: Any) -> dict[str, Any]:
    """The options a plan depends on (part of every table's fingerprint)."""
    csv = config.mydumper.csv
    return {
        "strict_format": config.mydumper.strict_format,
        "max_region_size": config.mydumper.max_region_size,
        "batch_size": config.mydumper.batch_size,
        "csv": {
            "separator": csv.separator,
            "delimiter": csv.delimiter,
            "terminator": csv.terminator,
            "escaped_by": csv.escaped_by,
            "null": list(csv.null),
            "not_null": csv.not_null,
            "header": csv.header,
            "header_schema_match": csv.header_schema_match,
            "trim_last_separator": csv.trim_last_separator,
        },
        "data_character_set": config.mydumper.data_character_set,
    }


def csv_dialect(config: Any) -> CsvDialect:
    csv = config.mydumper.csv
    return CsvDialect(
        separator=csv.separator.encode(),
        delimiter=csv.delimiter.encode(),
        terminator=csv.terminator.encode(),
        escaped_by=csv.escaped_by.encode(),
        null=tuple(n.encode() for n in csv.null),
        not_null=csv.not_null,
        header=csv.header,
        trim_last_separator=csv.trim_last_separator,
        header_charset=config.mydumper.data_character_set,
    )


def table_fingerprint(table: TableSource, options: dict[str, Any]) -> str:
    """Digest of the table's input files (path, size, version, type, compression) and plan options."""
    files = [
        (f.path, f.size, f.version, int(f.type), int(f.compression), f.sort_key) for f in table.data_files
    ]
    return fingerprint_of(table_key(table.schema, table.name), files, options)


def plan_table(table: TableSource, storage: Storage, config: Any) -> TableCheckpoint:
    """A fresh checkpoint for ``table``: every chunk Loaded at its start offset."""
    options = plan_options(config)
    chunks: list[ChunkCheckpoint] = []
    for file in table.data_files:
        chunks.extend(_file_chunks(file, storage, config))
    engines = _group_into_engines(chunks, config.mydumper.batch_size)
    return TableCheckpoint(
        name=table_key(table.schema, table.name),
        status=CheckpointStatus.LOADED,
        fingerprint=table_fingerprint(table, options),
        engines=engines,
    )


def _file_chunks(file: SourceFile, storage: Storage, config: Any) -> list[ChunkCheckpoint]:
    def chunk(offset: int, end: int, columns: tuple[str, ...] | None = None) -> ChunkCheckpoint:
        return ChunkCheckpoint(
            path=file.path,
            offset=offset,
            end_offset=end,
            pos=offset,
            type=int(file.type),
            compression=int(file.compression),
            sort_key=file.sort_key,
            file_size=file.size,
            columns=columns,
        )

    splittable = (
        file.type == SourceType.CSV
        and file.compression == Compression.NONE
        and config.mydumper.strict_format
        and file.size > config.mydumper.max_region_size * _SPLIT_FACTOR
    )
    if not splittable:
        return [chunk(0, WHOLE_FILE)]
    dialect = csv_dialect(config)
    data_start, columns = 0, None
    if dialect.header:
        with open_source_file(storage, file.path, Compression.NONE, 0) as stream:
            # Only the header is read here: a line longer than any header (4096 columns of 64-character names
            # are ~270 KB) is an error, not 128 MiB buffered.
            parser = CsvParser(stream, dialect, path=file.path, read_header=True, max_row_size=1024 * 1024)
            header = parser.read_header()
            columns = tuple(header) if header is not None else None
            data_start = parser.data_start
    ranges = split_csv_ranges(
        lambda start, end: storage.read_range(file.path, start, end),
        size=file.size,
        data_start=data_start,
        max_region_size=config.mydumper.max_region_size,
        dialect=dialect,
    )
    return [chunk(start, end, columns) for start, end in ranges]


def _group_into_engines(chunks: Sequence[ChunkCheckpoint], batch_size: int) -> tuple[EngineCheckpoint, ...]:
    engines: list[EngineCheckpoint] = []
    current: list[ChunkCheckpoint] = []
    size = 0
    for c in chunks:
        length = c.file_size if c.end_offset == WHOLE_FILE else c.end_offset - c.offset
        if current and size + length > batch_size:
            engines.append(EngineCheckpoint(id=len(engines), chunks=tuple(current)))
            current, size = [], 0
        current.append(c)
        size += length
    if current or not engines:
        engines.append(EngineCheckpoint(id=len(engines), chunks=tuple(current)))
    return tuple(engines)
