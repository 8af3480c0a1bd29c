"""Parquet data files, read by row group with pyarrow, as rows of the project's values.

A Parquet file is one chunk; its position is a row number (Lightning's convention for Parquet), so a
resume skips that many rows. Values become what a dump would carry: numbers as their exact decimal text
(``Number``), strings as UTF-8 bytes, binary as bytes, dates and times in MySQL's text form, NULL as None.
Files on S3 are read through ranged reads, never downloaded whole.
"""

from __future__ import annotations

import datetime
import decimal
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_lightning.core.errors import ParseError, SourceError
from airflow_provider_lightning.core.mydump.parser import ChunkSource, RowEncoding
from airflow_provider_lightning.core.mydump.values import Number, Value
from airflow_provider_lightning.core.storage import LocalStorage

# Rows per Arrow batch: bounds memory whatever the row group size.
BATCH_ROWS = 8192


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over ``read_range(start, end)`` (pyarrow seeks to the footer first)."""

    def __init__(self, read_range: Callable[[int, int], bytes], size: int) -> None:
        self._read_range = read_range
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._size, self._pos + len(buffer))
        if end <= self._pos:
            return 0
        data = self._read_range(self._pos, end)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _value(item: Any) -> Value:
    if item is None:
        return None
    if isinstance(item, bool):
        return Number(b"1" if item else b"0")
    if isinstance(item, int):
        return Number(str(item).encode())
    if isinstance(item, float):
        if item != item or item in (float("inf"), float("-inf")):
            raise ValueError(f"{item} cannot be stored in MySQL")
        return Number(repr(item).encode())
    if isinstance(item, decimal.Decimal):
        return Number(format(item, "f").encode())
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, bytes):
        return item
    if isinstance(item, datetime.datetime):
        if item.tzinfo is not None:
            item = item.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return item.isoformat(sep=" ").encode()
    if isinstance(item, (datetime.date, datetime.time)):
        return item.isoformat().encode()
    if isinstance(item, datetime.timedelta):
        total = int(item.total_seconds())
        sign = "-" if total < 0 else ""
        total = abs(total)
        return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}".encode()
    raise ValueError(f"a {type(item).__name__} value has no MySQL form")


class ParquetParser:
    """Rows of one Parquet file from row ``start_row`` on.

    :param source: a seekable binary file (a local file, or :class:`RangeFile` over S3).
    """

    def __init__(self, source: Any, *, path: str, start_row: int = 0, batch_rows: int = BATCH_ROWS) -> None:
        import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow is heavy; only Parquet sources need it

        self.path = path
        self.start_row = start_row
        self._batch_rows = batch_rows
        try:
            self._file = pq.ParquetFile(source)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a broken footer
            raise SourceError(path, f"not a readable Parquet file ({exc}); copy it again from its origin") from exc
        self.columns: list[str] = list(self._file.schema_arrow.names)

    @property
    def row_count(self) -> int:
        return self._file.metadata.num_rows

    def iter_rows(self) -> Iterator[tuple[list[Value], int]]:
        """Each row as ``(values, the number of the next row)``: the position a checkpoint records."""
        row = 0
        try:
            for batch in self._file.iter_batches(batch_size=self._batch_rows):
                if row + batch.num_rows <= self.start_row:
                    row += batch.num_rows
                    continue
                columns = [column.to_pylist() for column in batch.columns]
                for i in range(batch.num_rows):
                    row += 1
                    if row <= self.start_row:
                        continue
                    try:
                        values = [_value(column[i]) for column in columns]
                    except ValueError as exc:
                        raise ParseError(self.path, row - 1, f"row {row - 1}: {exc}") from exc
                    yield values, row
        except ParseError:
            raise
        except Exception as exc:  # corrupt pages surface while reading
            raise SourceError(self.path, f"cannot read row {row} of the Parquet file ({exc})", offset=row) from exc


class ParquetChunkParser:
    """:class:`~.parser.RowParser` of a Parquet file: rows as values; positions are row numbers."""

    encoding = RowEncoding.VALUES
    statement = "INSERT"
    charset = None  # strings are UTF-8 bytes, sent as they are

    def __init__(self, parser: ParquetParser, *, pos: int, file_size: int) -> None:
        self._parser = parser
        self.pos = pos
        self.columns = tuple(parser.columns)
        rows = parser.row_count
        # Progress in bytes: the file's share per row.
        self.bytes_per_position = file_size / rows if rows else 0.0

    def rows(self) -> Iterator[tuple[list[Value], int]]:
        return self._parser.iter_rows()


@contextmanager
def open_parquet_chunk(source: ChunkSource) -> Iterator[ParquetChunkParser]:
    """Open a Parquet file at row ``source.pos``: read in place when local, by ranged reads elsewhere."""
    storage = source.storage
    if isinstance(storage, LocalStorage):
        raw: Any = storage.open_raw(source.path)
    else:
        raw = RangeFile(lambda start, end: storage.read_range(source.path, start, end), source.file_size)
    with raw:
        parser = ParquetParser(raw, path=source.path, start_row=source.pos)
        yield ParquetChunkParser(parser, pos=source.pos, file_size=source.file_size)
