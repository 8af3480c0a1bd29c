"""The data file formats: ``SourceType -> DataFormat``, the one table the importer and the plan look up.

A format is a module with a :class:`~.parser.RowParser` and a function that opens it (``sql_parser``,
``csv_parser``, ``parquet_parser``), and an entry in :data:`DATA_FORMATS`; nothing else branches on the
format. See ``docs/architecture.md``, "Plug-in points".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import MappingProxyType

from airflow_provider_lightning.core.errors import SourceError
from airflow_provider_lightning.core.mydump.csv_parser import (
    DEFAULT_MAX_ROW_SIZE,
    CsvDialect,
    open_csv_chunk,
    split_csv_file,
)
from airflow_provider_lightning.core.mydump.parquet_parser import open_parquet_chunk
from airflow_provider_lightning.core.mydump.parser import ChunkRange, ChunkSource, RowParser
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.mydump.sql_parser import open_sql_chunk
from airflow_provider_lightning.core.storage import Compression, Storage

# Lightning splits a strict-format CSV only when it is clearly larger than one region.
_SPLIT_FACTOR = 1.1


@dataclass(frozen=True, slots=True)
class ParserOptions:
    """The ``[mydumper]`` settings that shape how rows are read."""

    read_block_size: int = 64 * 1024
    dialect: CsvDialect = field(default_factory=CsvDialect)
    header_schema_match: bool = True
    data_character_set: str = "binary"
    # A row longer than the target's max_allowed_packet cannot be sent: the parsers stop at it instead of
    # buffering a giant (or unterminated) literal up to their own, larger limit.
    max_row_size: int = DEFAULT_MAX_ROW_SIZE
    max_row_size_source: str = ""


@dataclass(frozen=True, slots=True)
class SplitOptions:
    """What cutting a file into ranges depends on (``strict-format``, ``max-region-size``, the dialect)."""

    strict_format: bool
    max_region_size: int
    dialect: CsvDialect


OpenParser = Callable[[ChunkSource, ParserOptions], AbstractContextManager[RowParser]]
"""Open a chunk's parser; leaving the context closes the file."""

SplitFile = Callable[[Storage, str, Compression, int, SplitOptions], Sequence[ChunkRange] | None]
"""Cut a file (path, compression, size) into ranges, or None: the file is one chunk."""


@dataclass(frozen=True, slots=True)
class DataFormat:
    """A data file format: how to open its parser, and what the plan and the progress need to know.

    ``positions_are_offsets``: a chunk's positions are byte offsets in its (decompressed) file, so
    progress can count source bytes done (Parquet's are row numbers); ``split``, when set, may cut a large
    file into ranges that import concurrently.
    """

    name: str
    open: OpenParser
    positions_are_offsets: bool = True
    split: SplitFile | None = None


def _open_sql(source: ChunkSource, options: ParserOptions) -> AbstractContextManager[RowParser]:
    return open_sql_chunk(
        source,
        block_size=options.read_block_size,
        data_character_set=options.data_character_set,
        max_row_size=options.max_row_size,
        max_row_size_source=options.max_row_size_source,
    )


def _open_csv(source: ChunkSource, options: ParserOptions) -> AbstractContextManager[RowParser]:
    return open_csv_chunk(
        source,
        options.dialect,
        header_schema_match=options.header_schema_match,
        block_size=options.read_block_size,
        data_character_set=options.data_character_set,
        max_row_size=options.max_row_size,
        max_row_size_source=options.max_row_size_source,
    )


def _open_parquet(source: ChunkSource, options: ParserOptions) -> AbstractContextManager[RowParser]:
    return open_parquet_chunk(source)


def _split_csv(
    storage: Storage, path: str, compression: Compression, size: int, options: SplitOptions
) -> Sequence[ChunkRange] | None:
    """Lightning's rule: only a plain CSV under ``strict-format`` clearly larger than one region is cut."""
    if compression != Compression.NONE or not options.strict_format:
        return None
    if size <= options.max_region_size * _SPLIT_FACTOR:
        return None
    return split_csv_file(storage, path, compression, size, options.dialect, options.max_region_size)


DATA_FORMATS: Mapping[SourceType, DataFormat] = MappingProxyType(
    {
        SourceType.SQL: DataFormat("SQL", _open_sql),
        SourceType.CSV: DataFormat("CSV", _open_csv, split=_split_csv),
        SourceType.PARQUET: DataFormat("Parquet", _open_parquet, positions_are_offsets=False),
    }
)
"""Every data file format the importer reads, by the ``SourceType`` the router gives a file."""


def data_format(source_type: int, path: str = "") -> DataFormat:
    """The format of a data file of ``source_type``; a :class:`SourceError` for a type no parser reads."""
    try:
        return DATA_FORMATS[SourceType(source_type)]
    except (KeyError, ValueError):
        try:
            name = SourceType(source_type).name
        except ValueError:
            name = str(source_type)
        raise SourceError(path, f"data files of type {name} cannot be imported") from None
