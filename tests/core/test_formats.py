"""The data formats table: every data file type opens a RowParser through one lookup, and says how its
rows, columns, charset and positions come."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lightning.core.errors import SourceError
from airflow_provider_lightning.core.mydump.csv_parser import CsvDialect
from airflow_provider_lightning.core.mydump.formats import DATA_FORMATS, ParserOptions, SplitOptions, data_format
from airflow_provider_lightning.core.mydump.parser import ChunkSource, RowEncoding
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.storage import Compression, LocalStorage


def _source(storage: LocalStorage, name: str, *, pos: int = 0, columns=None) -> ChunkSource:
    size = (storage.root / name).stat().st_size
    return ChunkSource(storage, name, Compression.NONE, pos, None, size, columns)


def _read(source_type: SourceType, source: ChunkSource, options: ParserOptions = ParserOptions()):
    with data_format(source_type).open(source, options) as parser:
        start = parser.pos
        rows = list(parser.rows())
        return parser, start, rows


def test_every_data_file_type_the_router_knows_has_a_format():
    data_types = {t for t in SourceType if t.is_data}
    assert set(DATA_FORMATS) == data_types


def test_a_type_without_a_parser_is_refused_naming_the_file():
    with pytest.raises(SourceError, match="data files of type TABLE_SCHEMA cannot be imported"):
        data_format(SourceType.TABLE_SCHEMA, "db.t-schema.sql")


def test_sql_rows_come_as_value_lists_with_the_columns_and_charset_the_file_sets(tmp_path):
    (tmp_path / "db.t.sql").write_bytes(b"SET NAMES latin1;\nINSERT INTO t (a,b) VALUES (1,'x'),(2,'y');\n")
    parser, start, rows = _read(SourceType.SQL, _source(LocalStorage(tmp_path), "db.t.sql"))

    assert parser.encoding is RowEncoding.SQL_LITERAL
    assert [row for row, _ in rows] == [b"(1,'x')", b"(2,'y')"]
    assert (start, parser.columns, parser.charset, parser.statement) == (0, ("a", "b"), "latin1", "INSERT")


def test_an_sql_chunk_resumed_mid_file_reads_the_charset_the_file_set_before(tmp_path):
    data = b"SET NAMES latin1;\nINSERT INTO t VALUES (1,'x'),(2,'y');\n"
    (tmp_path / "db.t.sql").write_bytes(data)
    storage = LocalStorage(tmp_path)
    _, _, rows = _read(SourceType.SQL, _source(storage, "db.t.sql"))
    resume = rows[0][1]

    with data_format(SourceType.SQL).open(_source(storage, "db.t.sql", pos=resume), ParserOptions()) as parser:
        assert parser.charset == "latin1"
        assert [row for row, _ in parser.rows()] == [b"(2,'y')"]


def test_sql_without_set_names_is_read_in_data_character_set_and_binary_means_bytes(tmp_path):
    (tmp_path / "db.t.sql").write_bytes(b"INSERT INTO t VALUES (1);\n")
    storage = LocalStorage(tmp_path)
    gbk, _, _ = _read(SourceType.SQL, _source(storage, "db.t.sql"), ParserOptions(data_character_set="gbk"))
    binary, _, _ = _read(SourceType.SQL, _source(storage, "db.t.sql"), ParserOptions(data_character_set="binary"))

    assert (gbk.charset, binary.charset) == ("gbk", None)


def test_csv_rows_come_as_values_after_the_header_which_names_their_columns(tmp_path):
    (tmp_path / "db.t.csv").write_bytes(b"b,a\nx,1\ny,2\n")
    parser, start, rows = _read(SourceType.CSV, _source(LocalStorage(tmp_path), "db.t.csv"))

    assert parser.encoding is RowEncoding.VALUES
    assert (start, parser.columns) == (4, ("b", "a"))
    assert rows == [([b"x", b"1"], 8), ([b"y", b"2"], 12)]


def test_a_csv_header_is_skipped_but_not_used_without_header_schema_match(tmp_path):
    (tmp_path / "db.t.csv").write_bytes(b"b,a\nx,1\n")
    options = ParserOptions(header_schema_match=False)
    parser, start, rows = _read(SourceType.CSV, _source(LocalStorage(tmp_path), "db.t.csv"), options)

    assert (start, parser.columns, len(rows)) == (4, None, 1)


def test_parquet_positions_are_row_numbers_and_progress_scales_them_to_bytes(tmp_path):
    pq.write_table(pa.table({"id": [1, 2, 3, 4], "s": ["a", "b", "c", "d"]}), tmp_path / "db.t.parquet")
    storage = LocalStorage(tmp_path)
    source = _source(storage, "db.t.parquet", pos=1)
    parser, start, rows = _read(SourceType.PARQUET, source)

    assert parser.encoding is RowEncoding.VALUES
    assert (start, parser.columns, parser.charset) == (1, ("id", "s"), None)
    assert [end for _, end in rows] == [2, 3, 4]
    assert parser.bytes_per_position == pytest.approx(source.file_size / 4)
    assert not DATA_FORMATS[SourceType.PARQUET].positions_are_offsets


def test_only_a_large_plain_csv_under_strict_format_is_cut_into_ranges(tmp_path):
    body = b"id,s\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(2000))
    (tmp_path / "db.t.csv").write_bytes(body)
    storage = LocalStorage(tmp_path)
    split = DATA_FORMATS[SourceType.CSV].split
    strict = SplitOptions(strict_format=True, max_region_size=4096, dialect=CsvDialect())

    ranges = split(storage, "db.t.csv", Compression.NONE, len(body), strict)
    assert ranges[0].start == 5 and ranges[-1].end == len(body)
    assert all(r.columns == ("id", "s") for r in ranges) and len(ranges) > 3
    assert split(storage, "db.t.csv", Compression.NONE, len(body), SplitOptions(False, 4096, CsvDialect())) is None
    assert split(storage, "db.t.csv", Compression.GZ, len(body), strict) is None
    assert DATA_FORMATS[SourceType.SQL].split is None
