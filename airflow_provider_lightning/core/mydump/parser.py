"""What the table importer needs from a data file's parser (Lightning's ``mydump.Parser``).

A parser reads the rows of one chunk — a whole file, or a byte range of a large CSV file — from the
chunk's resume position, and says, for the rows that follow, which columns they carry, in which
statement kind and in which character set; after each row, the position a resume would read again from.

Each format module (``sql_parser``, ``csv_parser``, ``parquet_parser``) has a parser that implements
:class:`RowParser` and a function that opens it for a :class:`ChunkSource`; :mod:`.formats` maps each
``SourceType`` to its ``DataFormat``. Adding a format is one such module and one entry there.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_lightning.core.storage import Compression, Storage


class RowEncoding(enum.Enum):
    """How a parser hands its rows over."""

    #: ``bytes``: the row as an SQL value list, ``(v1,v2,...)``, exactly as the file holds it; sent as is
    #: (decode with :func:`~.sql_parser.decode_row` to get values).
    SQL_LITERAL = "sql-literal"
    #: a sequence of :data:`~.values.Value` (``bytes``, numbers, None for NULL, ...).
    VALUES = "values"


class RowParser(Protocol):
    """The rows of one chunk, from its resume position on.

    ``columns``, ``statement`` and ``charset`` describe the rows that follow; they change between rows
    only where the file says so (an SQL file's next ``INSERT``, ``SET NAMES``).
    """

    #: how :meth:`rows` hands over each row
    encoding: RowEncoding

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The column names the next rows carry, in order; None: every insertable column, in table order."""
        ...

    @property
    def statement(self) -> str:
        """``INSERT``, ``INSERT IGNORE`` or ``REPLACE``: what the file asks of the next rows."""
        ...

    @property
    def charset(self) -> str | None:
        """The MySQL charset the next rows' strings are written in; None: binary, bytes kept as they are."""
        ...

    @property
    def pos(self) -> int:
        """Where the first row starts (after a header): the resume position before any row is read."""
        ...

    @property
    def bytes_per_position(self) -> float:
        """Source bytes per unit of position, for progress (1.0 where positions are byte offsets)."""
        ...

    def rows(self) -> Iterator[tuple[Any, int]]:
        """Yield ``(row, end)``: the row (per :attr:`encoding`) and the position right after it.

        Raises :class:`~airflow_provider_lightning.core.errors.ParseError` on malformed input, naming the
        file and offset."""
        ...


@dataclass(frozen=True, slots=True)
class ChunkSource:
    """One chunk's file and where to read it: from ``pos`` up to ``end`` (None: the end of the file).

    ``columns`` and ``statement`` are what was in force at ``pos`` (a resume inside an SQL statement, or
    past a CSV header, needs them).
    """

    storage: Storage
    path: str
    compression: Compression
    pos: int
    end: int | None
    file_size: int
    columns: tuple[str, ...] | None = None
    statement: str = "INSERT"


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """A byte range ``[start, end)`` of a file that is read as a chunk of its own."""

    start: int
    end: int
    columns: tuple[str, ...] | None = None  # the file's header, read once when the file was cut
