"""The import plan of a table: its engines and chunks, as Lightning's ``MakeTableRegions`` cuts them.

- A file is one chunk, unless its format cuts it into ranges (``DataFormat.split``): a plain CSV file
  larger than 1.1 × ``max-region-size`` under ``strict-format = true`` is cut into byte ranges of about
  ``max-region-size``, each starting at a row (``split_csv_file``); its header is read once and the
  column names travel with every range.
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
from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.mydump.csv_parser import CsvDialect
from airflow_provider_lightning.core.mydump.formats import DATA_FORMATS, SplitOptions
from airflow_provider_lightning.core.mydump.loader import SourceFile, TableSource
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.storage import Compression, Storage


def plan_options(config: Config) -> dict[str, Any]:
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


def csv_dialect(config: Config) -> CsvDialect:
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


def plan_table(table: TableSource, storage: Storage, config: Config) -> TableCheckpoint:
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


def _file_chunks(file: SourceFile, storage: Storage, config: Config) -> list[ChunkCheckpoint]:
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

    data_format = DATA_FORMATS.get(SourceType(file.type))
    ranges = None
    if data_format is not None and data_format.split is not None:
        options = SplitOptions(
            strict_format=config.mydumper.strict_format,
            max_region_size=config.mydumper.max_region_size,
            dialect=csv_dialect(config),
        )
        ranges = data_format.split(storage, file.path, Compression(file.compression), file.size, options)
    if ranges is None:
        return [chunk(0, WHOLE_FILE)]
    return [chunk(r.start, r.end, r.columns) for r in ranges]


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
