"""The SQL data file parser: rows of mydumper / Dumpling / mysqldump INSERT statements, with their offsets."""

from __future__ import annotations

import gzip
import io
import subprocess
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.errors import ParseError
from airflow_provider_lightning.core.mydump.sql_parser import SqlParser, decode_row
from airflow_provider_lightning.core.mydump.values import BinaryLiteral, Number
from airflow_provider_lightning.core.storage import Compression, LocalStorage, open_source_file
from tests.conftest import run_mydumper

# --- helpers ----------------------------------------------------------------------------------------------


def parser(data: bytes, *, start_offset: int = 0, **kwargs) -> SqlParser:
    stream = io.BytesIO(data)
    stream.seek(start_offset)
    return SqlParser(stream, path="db.t.000000001.sql", start_offset=start_offset, **kwargs)


def rows_of(data: bytes, **kwargs) -> list[tuple[list, int]]:
    return list(parser(data, **kwargs).iter_rows())


def values_of(data: bytes, **kwargs) -> list[list]:
    return [values for values, _ in rows_of(data, **kwargs)]


def typed(rows: list[list]) -> list[list[tuple[str, object]]]:
    """Rows with each value's type, so that Number(b'1') and b'1' do not compare equal."""
    return [[(type(v).__name__, v) for v in row] for row in rows]


def parse_error(data: bytes, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as info:
        rows_of(data, **kwargs)
    return info.value


def only_value(literal: bytes):
    """The value of one SQL literal, read through a whole INSERT statement."""
    [[value]] = values_of(b"INSERT INTO t VALUES (" + literal + b");")
    return value


class CountingStream(io.BytesIO):
    """A byte stream that records how much was read from it, and in what sizes."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0
        self.largest_request = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest_request = max(self.largest_request, size if size is not None else -1)
        data = super().read(size)
        self.bytes_read += len(data)
        return data


# A data file as mydumper 0.10 writes it (raw tabs, high bytes and NULs inside double-quoted strings).
MYDUMPER_FILE = (
    b"/*!40101 SET NAMES binary*/;\n"
    b"/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n"
    b"/*!40103 SET TIME_ZONE='+00:00' */;\n"
    b"INSERT INTO `t` VALUES\n"
    b'(1,4294967295,-12.500,0.00000015,3.141592653589793,"O\\\'Re\\"il\\\\ly\ttab\\nnl",'
    b'"emoji \xf0\x9f\x98\x80","\\0\xff\\n\\r\\\'\\\\\\"","\x01\\0\\0\\0","2020-01-02",'
    b'"2020-01-02 03:04:05.678","2021-06-01 12:00:00","-838:59:59",2155,"b","x,y","\x02\xab",'
    b'"{\\"a\\": [1, \\"x\\\\\\"y\\"]}"),\n'
    b"(2,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);\n"
)


# --- what a data file holds -------------------------------------------------------------------------------


def test_reads_the_rows_of_a_mydumper_data_file():
    rows = rows_of(MYDUMPER_FILE)
    assert typed([values for values, _ in rows]) == typed(
        [
            [
                Number(b"1"),
                Number(b"4294967295"),
                Number(b"-12.500"),
                Number(b"0.00000015"),
                Number(b"3.141592653589793"),
                b"O'Re\"il\\ly\ttab\nnl",
                "emoji 😀".encode(),
                b"\x00\xff\n\r'\\\"",
                b"\x01\x00\x00\x00",
                b"2020-01-02",
                b"2020-01-02 03:04:05.678",
                b"2021-06-01 12:00:00",
                b"-838:59:59",
                Number(b"2155"),
                b"b",
                b"x,y",
                b"\x02\xab",
                b'{"a": [1, "x\\"y"]}',
            ],
            [Number(b"2")] + [None] * 17,
        ]
    )
    assert [end for _, end in rows] == [MYDUMPER_FILE.index(b"),\n(2,") + 1, len(MYDUMPER_FILE) - 2]


def test_skips_the_statements_and_comments_that_hold_no_rows():
    data = (
        b"-- MySQL dump 10.19\n"
        b"# a hash comment\n"
        b"/* a block\n comment; with a semicolon */\n"
        b"/*M!999999\\- enable the sandbox mode */ \n\n"
        b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
        b"SET NAMES utf8mb4;\n"
        b"DROP TABLE IF EXISTS `t`;\n"
        b"CREATE TABLE `t` (\n  `e` enum('a;','b)') DEFAULT 'x''y',\n  `v` int\n) ENGINE=InnoDB;\n"
        b"LOCK TABLES `t` WRITE;\n"
        b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
        b"BEGIN;\n"
        b"INSERT INTO `t` VALUES ('a;',1);\n"
        b"COMMIT;\n"
        b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n"
        b"UNLOCK TABLES;\n"
        b"\n\n"
    )
    assert typed(values_of(data)) == typed([[b"a;", Number(b"1")]])


def test_reads_the_table_name_of_a_database_qualified_insert():
    p = parser(b"INSERT INTO `db`.`tbl` VALUES (1);")
    list(p.iter_rows())
    assert p.table == "tbl"


def test_reads_the_column_list_of_a_statement():
    p = parser(b"INSERT INTO `t` (`a`, `b`) VALUES (1,2);")
    assert [values for values, _ in p.iter_rows()] == [[b"1", b"2"]]
    assert p.columns == ["a", "b"]


def test_a_statement_without_column_list_has_no_columns():
    p = parser(b"INSERT INTO `t` (`a`) VALUES (1);\nINSERT INTO `t` VALUES (2);")
    columns_seen = [p.columns for _ in p.iter_rows()]
    assert columns_seen == [["a"], None]


def test_identifiers_with_doubled_backquotes_are_unquoted():
    p = parser(b"INSERT INTO `we``ird` (`a``b`, `c d`, plain, \"ansi\") VALUES (1,2,3,4);")
    list(p.iter_rows())
    assert (p.table, p.columns) == ("we`ird", ["a`b", "c d", "plain", "ansi"])


@pytest.mark.parametrize(
    ("header", "statement"),
    [
        (b"INSERT INTO", "INSERT"),
        (b"INSERT IGNORE INTO", "INSERT IGNORE"),
        (b"REPLACE INTO", "REPLACE"),
        (b"insert ignore into", "INSERT IGNORE"),
        (b"INSERT LOW_PRIORITY IGNORE INTO", "INSERT IGNORE"),
        (b"INSERT", "INSERT"),
        (b"REPLACE DELAYED", "REPLACE"),
    ],
)
def test_tells_insert_insert_ignore_and_replace_apart(header, statement):
    p = parser(header + b" `t` VALUES (1);")
    assert [values for values, _ in p.iter_rows()] == [[b"1"]]
    assert p.statement == statement


def test_keywords_and_the_value_keyword_are_case_insensitive():
    assert typed(values_of(b"insert into t value (null, True, fAlSe);")) == typed(
        [[None, Number(b"1"), Number(b"0")]]
    )


def test_rows_span_many_lines_and_any_whitespace():
    data = b"INSERT INTO t VALUES\r\n(\n1 ,\t'a'\n)\r\n,\n\n( 2,'b' ) ;"
    assert values_of(data) == [[b"1", b"a"], [b"2", b"b"]]


# --- strings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (rb"'\0'", b"\x00"),
        (rb"'\''", b"'"),
        (rb"'\"'", b'"'),
        (rb"'\b'", b"\x08"),
        (rb"'\n'", b"\n"),
        (rb"'\r'", b"\r"),
        (rb"'\t'", b"\t"),
        (rb"'\Z'", b"\x1a"),
        (rb"'\\'", b"\\"),
        (rb"'\%'", b"\\%"),
        (rb"'\_'", b"\\_"),
        (rb"'\x\q\N\Q'", b"xqNQ"),
        (b"'\\\xff'", b"\xff"),
        (rb'"\0\'\"\b\n\r\t\Z\\\%\_"', b"\x00'\"\x08\n\r\t\x1a\\\\%\\_"),
    ],
)
def test_backslash_escapes_resolve_as_mysql_resolves_them(literal, value):
    assert only_value(literal) == value


def test_a_doubled_quote_inside_a_string_stands_for_one_quote():
    assert values_of(b"INSERT INTO t VALUES ('it''s', \"say \"\"hi\"\"\", 'a\"\"b', \"a''b\", '');") == [
        [b"it's", b'say "hi"', b'a""b', b"a''b", b""]
    ]


def test_strings_keep_raw_bytes_of_any_value():
    every_byte = bytes(b for b in range(256) if b not in b"'\\")
    assert only_value(b"'" + every_byte + b"'") == every_byte
    every_byte = bytes(b for b in range(256) if b not in b'"\\')
    assert only_value(b'"' + every_byte + b'"') == every_byte


def test_adjacent_strings_are_concatenated():
    assert only_value(b"'a' \"b\"\n'c'") == b"abc"


def test_charset_introducers_and_collate_give_plain_strings():
    row = values_of(
        b"INSERT INTO t VALUES (_binary'\\0a', _utf8mb4 0x41, _latin1'x' COLLATE latin1_bin, "
        b"N'n', _binary b'01000010', _utf8mb4'a' 'b' COLLATE 'utf8mb4_bin');"
    )
    assert typed(row) == typed([[b"\x00a", b"A", b"x", b"n", b"B", b"ab"]])


def test_convert_using_gives_its_string():
    assert typed([[only_value(b"CONVERT('{\\\"a\\\": 1}' USING utf8mb4)")]]) == typed([[b'{"a": 1}']])
    assert only_value(b"convert(NULL using utf8mb4)") is None


# --- other literals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (b"0x4142", b"AB"),
        (b"0xabCD", b"\xab\xcd"),
        (b"0x414", b"\x04\x14"),
        (b"X'4142'", b"AB"),
        (b"x''", b""),
        (b"b'101'", b"\x05"),
        (b"B'000000001'", b"\x00\x01"),
        (b"b''", b""),
        (b"0b101", b"\x05"),
        (b"0b0000000000000000", b"\x00\x00"),
    ],
)
def test_hex_and_bit_literals_become_binary_literals(literal, value):
    assert typed([[only_value(literal)]]) == typed([[BinaryLiteral(value)]])


@pytest.mark.parametrize("literal", [b"NULL", b"null", b"Null"])
def test_null_in_any_case_is_none(literal):
    assert only_value(literal) is None


@pytest.mark.parametrize(
    "literal",
    [b"0", b"-1", b"+1", b"1.5", b".5", b"1.", b"-0.00000015", b"1e-7", b"-1.5E+10", b"18446744073709551615",
     b"123456789012345678901234567890.123456789"],
)
def test_numbers_are_kept_exactly_as_written(literal):
    assert typed([[only_value(literal)]]) == typed([[Number(literal)]])


def test_true_and_false_are_the_numbers_one_and_zero():
    assert typed(values_of(b"INSERT INTO t VALUES (TRUE, false);")) == typed([[Number(b"1"), Number(b"0")]])


def test_an_empty_row_has_no_values():
    assert values_of(b"INSERT INTO t () VALUES ();") == [[]]


def test_comments_inside_and_between_rows_are_skipped():
    data = (
        b"INSERT INTO t VALUES /* first */ (1, /* one */ 'a' -- trailing\n),\n"
        b"# between rows\n(2,'b'/*!x*/) /* end */ ;"
    )
    assert values_of(data) == [[b"1", b"a"], [b"2", b"b"]]


def test_double_dash_without_a_space_is_not_a_comment():
    error = parse_error(b"INSERT INTO t VALUES (1,--1);")
    assert error.offset == len(b"INSERT INTO t VALUES (1,")


# --- offsets, resuming, chunk ends ------------------------------------------------------------------------


def test_end_offset_of_a_row_is_right_after_its_closing_parenthesis():
    data = b"INSERT INTO t VALUES (1),(22) ,\n(333);\nINSERT INTO t VALUES ('x');"
    ends = [end for _, end in rows_of(data)]
    assert [data[end - 1 : end] for end in ends] == [b")"] * 4
    assert ends == [data.index(b"(1)") + 3, data.index(b"(22)") + 4, data.index(b"(333)") + 5, len(data) - 1]


def test_parsing_from_a_row_end_offset_continues_with_the_next_row():
    data = b"INSERT IGNORE INTO t (`a`) VALUES (1),(2),(3);\nINSERT INTO t VALUES (4);"
    first = parser(data)
    rows = first.iter_rows()
    next(rows)
    _, end = next(rows)
    resumed = parser(data, start_offset=end, columns=first.columns, statement=first.statement)
    seen = [(values, end, resumed.statement, resumed.columns) for values, end in resumed.iter_rows()]
    assert seen == [
        ([b"3"], data.index(b"(3)") + 3, "INSERT IGNORE", ["a"]),
        ([b"4"], len(data) - 1, "INSERT", None),
    ]


def test_resuming_after_the_last_row_of_a_statement_reads_the_next_statement():
    data = b"INSERT INTO t VALUES (1);\nSET x=1;\nREPLACE INTO t VALUES (2);"
    end = data.index(b";")
    resumed = parser(data, start_offset=end)
    assert [values for values, _ in resumed.iter_rows()] == [[b"2"]]
    assert resumed.statement == "REPLACE"


def test_resuming_at_the_end_of_the_file_gives_no_rows():
    data = b"INSERT INTO t VALUES (1)"
    assert rows_of(data, start_offset=len(data)) == []


def test_end_offset_stops_after_the_last_row_that_starts_before_it():
    data = b"INSERT INTO t VALUES (1),(2),\n(3);INSERT INTO t VALUES (4);"
    start_of_3 = data.index(b"(3)")
    assert values_of(data, end_offset=start_of_3) == [[b"1"], [b"2"]]
    assert values_of(data, end_offset=start_of_3 + 1) == [[b"1"], [b"2"], [b"3"]]
    assert values_of(data, end_offset=0) == []


@pytest.mark.parametrize("block_size", [1, 2, 3, 5, 8, 13, 64, 1000])
def test_every_block_size_down_to_one_byte_gives_the_same_rows(block_size):
    assert rows_of(MYDUMPER_FILE, block_size=block_size) == rows_of(MYDUMPER_FILE)


def test_a_statement_of_many_megabytes_streams_through_small_blocks():
    rows = [b"(%d,'%s')" % (i, b"x" * (i % 300)) for i in range(40_000)]
    data = b"INSERT INTO `t` VALUES\n" + b",\n".join(rows) + b";\n"
    assert len(data) > 5_000_000
    stream = CountingStream(data)
    p = SqlParser(stream, path="big.sql", block_size=4096)
    count = last_end = 0
    for values, last_end in p.iter_rows():
        assert values == [str(count).encode(), b"x" * (count % 300)]
        count += 1
    assert (count, last_end) == (40_000, len(data) - 2)
    assert stream.largest_request == 4096  # rows smaller than a block never make it read more at once


def test_a_row_larger_than_a_block_is_read_whole():
    blob = bytes(range(256)).replace(b"'", b"").replace(b"\\", b"") * 4000
    data = b"INSERT INTO t VALUES ('" + blob + b"'),(1);"
    assert values_of(data, block_size=100) == [[blob], [b"1"]]


def test_raw_rows_are_the_exact_bytes_of_the_dump():
    data = b"INSERT INTO t VALUES ( 1 ,'a\\'b' ),(_binary 'x' /* c */),\n(NULL);"
    raw = list(parser(data).iter_raw_rows())
    assert raw == [
        (b"( 1 ,'a\\'b' )", data.index(b"),(_") + 1),
        (b"(_binary 'x' /* c */)", data.index(b"),\n") + 1),
        (b"(NULL)", len(data) - 1),
    ]


def test_a_new_iterator_continues_where_the_previous_one_stopped():
    p = parser(b"INSERT INTO t VALUES (1),(2);INSERT INTO t VALUES (3),(4);", block_size=4)
    first = next(p.iter_rows())
    second = next(p.iter_raw_rows())
    rest = list(p.iter_rows())
    assert (first[0], second[0], [values for values, _ in rest]) == ([b"1"], b"(2)", [[b"3"], [b"4"]])


def test_decode_row_gives_the_values_of_a_raw_row():
    assert typed([decode_row(b"(1,'a''b',NULL,0x41,_binary'z')")]) == typed(
        [[Number(b"1"), b"a'b", None, BinaryLiteral(b"A"), b"z"]]
    )


@pytest.mark.parametrize("raw", [b"", b"1,2", b"(1,2", b"(1,2) x", b"(1,2))", b"(1 2)", b"(1,'a)"])
def test_decode_row_rejects_text_that_is_not_one_row(raw):
    with pytest.raises(ParseError) as info:
        decode_row(raw, path="f.sql", offset=100)
    assert info.value.path == "f.sql"
    assert info.value.offset >= 100


def test_a_utf8_byte_order_mark_at_the_start_is_skipped():
    assert values_of(b"\xef\xbb\xbfINSERT INTO t VALUES (1);", block_size=1) == [[b"1"]]


def test_delimiter_blocks_of_mysqldump_are_skipped():
    data = (
        b"INSERT INTO t VALUES (1);\n"
        b"DELIMITER ;;\n"
        b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN INSERT INTO log VALUES (9); END ;;\n"
        b"DELIMITER ;\n"
        b"INSERT INTO t VALUES (2);\n"
    )
    assert values_of(data) == [[b"1"], [b"2"]]


def test_the_last_statement_may_end_at_the_end_of_the_file_without_a_semicolon():
    assert values_of(b"INSERT INTO t VALUES (1),(2)\n-- done\n") == [[b"1"], [b"2"]]


@pytest.mark.parametrize("data", [b"", b"\n\n", b"-- only a comment", b"SET NAMES binary;"])
def test_a_file_without_inserts_has_no_rows(data):
    assert rows_of(data) == []


def test_reads_a_gzip_compressed_file_through_storage(tmp_path):
    (tmp_path / "db.t.000000001.sql.gz").write_bytes(gzip.compress(MYDUMPER_FILE))
    stream = open_source_file(LocalStorage(tmp_path), "db.t.000000001.sql.gz", Compression.GZ)
    with stream:
        rows = list(SqlParser(stream, path="db.t.000000001.sql.gz").iter_rows())
    assert rows == rows_of(MYDUMPER_FILE)


# --- errors -----------------------------------------------------------------------------------------------


def test_an_unterminated_string_names_where_it_starts():
    data = b"INSERT INTO t VALUES (1,'a'),\n(2,'never closed);\n"
    error = parse_error(data, block_size=7)
    assert error.offset == data.index(b"'never")
    assert error.line == 2
    assert "unterminated string" in str(error)
    assert "db.t.000000001.sql" in str(error)


def test_an_unterminated_string_with_doubled_quotes_in_it_is_reported_where_it_opens():
    data = b"INSERT INTO t VALUES (1,'it''s'' ok);\n"
    error = parse_error(data)
    assert (error.offset, error.reason.split(":")[0]) == (data.index(b"'it"), "unterminated string")


def test_a_row_larger_than_max_row_size_is_an_error_without_reading_the_whole_file():
    data = b"INSERT INTO t VALUES (1),('" + b"a" * 10_000_000
    stream = CountingStream(data)
    p = SqlParser(stream, path="huge.sql", block_size=4096, max_row_size=65536)
    with pytest.raises(ParseError) as info:
        list(p.iter_raw_rows())
    assert "row larger than 65536 bytes; an unterminated quote?" in str(info.value)
    assert info.value.offset == data.index(b"('")
    assert stream.bytes_read < 4 * 65536


def test_a_whole_row_larger_than_max_row_size_is_an_error():
    data = b"INSERT INTO t VALUES (1),('" + b"a" * 1000 + b"');"
    error = parse_error(data, max_row_size=100)
    assert "row larger than 100 bytes" in str(error)


@pytest.mark.parametrize(
    "cut",
    [
        b"INSERT",
        b"INSERT INTO",
        b"INSERT INTO t",
        b"INSERT INTO t (a",
        b"INSERT INTO t VALUES",
        b"INSERT INTO t VALUES (1",
        b"INSERT INTO t VALUES (1,",
        b"INSERT INTO t VALUES (1),",
        b"INSERT INTO t VALUES ('a",
        b"INSERT INTO t VALUES (x'41",
        b"INSERT INTO t VALUES (1) /* x",
        b"INSERT INTO t VALUES (_binary",
    ],
)
def test_a_statement_cut_off_by_the_end_of_the_file_is_an_error(cut):
    error = parse_error(cut, block_size=3)
    assert "truncated" in str(error) or "unterminated" in str(error)


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"INSERT INTO t VALUES (1,foo);", "expected a value"),
        (b"INSERT INTO t VALUES (1,`a`);", "expected a value"),
        (b"INSERT INTO t VALUES (1,DEFAULT);", "expected a value"),
        (b"INSERT INTO t VALUES (1,);", "expected a value"),
        (b"INSERT INTO t VALUES (1 2);", "expected ',' or ')'"),
        (b"INSERT INTO t VALUES (0x4G);", "expected ',' or ')'"),
        (b"INSERT INTO t VALUES (X'414');", "even number of hex digits"),
        (b"INSERT INTO t VALUES (b'12');", "only the digits 0 and 1"),
        (b"INSERT INTO t VALUES (1)(2);", "expected ',' or ';' after a row"),
        (b"INSERT INTO t VALUES 1;", "expected '(' to start a row"),
        (b"INSERT INTO t SELECT * FROM u;", "INSERT ... SELECT statements are not supported"),
        (b"INSERT INTO t SET a=1;", "INSERT ... SET statements are not supported"),
        (b"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a=1;", "ON DUPLICATE KEY UPDATE is not"),
        (b"INSERT INTO 'x' VALUES (1);", "expected a table name"),
    ],
)
def test_wrong_tokens_are_errors_that_say_what_was_expected(data, found):
    error = parse_error(data)
    assert found in str(error)
    assert error.line == 1
    assert error.excerpt == data[error.offset : error.offset + len(error.excerpt)]


def test_an_error_points_at_the_byte_offset_of_the_bad_token():
    data = b"INSERT INTO t VALUES (1,'a'),(2,'b' 'c' x);"
    assert parse_error(data).offset == data.index(b"x)")


def test_line_numbers_count_lines_across_blocks():
    data = b"".join(b"INSERT INTO t VALUES (%d);\n" % i for i in range(100)) + b"INSERT INTO t VALUES (?);"
    assert parse_error(data, block_size=5).line == 101


def test_an_error_has_no_line_number_when_parsing_starts_mid_file():
    data = b"INSERT INTO t VALUES (1),(?);"
    error = parse_error(data, start_offset=data.index(b",(?"))
    assert (error.line, error.offset) == (None, data.index(b"?"))


def test_resuming_at_an_offset_that_is_not_a_row_end_is_an_error():
    data = b"INSERT INTO t VALUES (1),(2);"
    error = parse_error(data, start_offset=data.index(b"(2)"))
    assert "expected ',' or ';' after a row" in str(error)


def test_an_unknown_statement_name_is_rejected():
    with pytest.raises(ValueError, match="statement must be one of"):
        SqlParser(io.BytesIO(b""), path="x", statement="UPSERT")


# --- property tests ---------------------------------------------------------------------------------------

SPACES = st.sampled_from([b"", b"", b"", b" ", b"\n", b"\t", b"\r\n", b"  "])
SPECIAL_BYTES = b"'\"\\\x00\n\r\t\x08\x1a\xff\x80%_`,();#-/* "
STRING_VALUES = st.one_of(
    st.binary(max_size=30),
    st.lists(st.sampled_from([bytes([b]) for b in SPECIAL_BYTES]) | st.binary(max_size=3), max_size=12).map(
        b"".join
    ),
)
# What mydumper and mysqldump escape, and what they write as \x.
_ESCAPE_LETTERS = {0: b"0", 10: b"n", 13: b"r", 9: b"t", 8: b"b", 26: b"Z", 39: b"'", 34: b'"'}


@st.composite
def rendered_string(draw) -> tuple[bytes, bytes]:
    value = draw(STRING_VALUES)
    quote = draw(st.sampled_from([b"'", b'"']))
    double_the_quote = draw(st.booleans())
    escape_more = draw(st.booleans())  # mydumper style: escape \0 \n \r \Z and the other quote too
    out = []
    for byte in value:
        char = bytes([byte])
        if char == b"\\":
            out.append(b"\\\\")
        elif char == quote:
            out.append(quote * 2 if double_the_quote else b"\\" + quote)
        elif escape_more and byte in _ESCAPE_LETTERS:
            out.append(b"\\" + _ESCAPE_LETTERS[byte])
        else:
            out.append(char)
    literal = quote + b"".join(out) + quote
    if draw(st.integers(0, 9)) == 0:  # now and then: an introducer, or a split into adjacent strings
        if draw(st.booleans()):
            literal = b"_binary" + draw(SPACES) + literal
        else:
            literal = literal + draw(st.sampled_from([b" ", b"\n"])) + quote + quote
    return literal, value


@settings(max_examples=500, deadline=None)
@given(rendered_string())
def test_any_bytes_written_as_a_string_literal_read_back_as_those_bytes(rendered):
    literal, value = rendered
    assert decode_row(b"(" + literal + b")") == [value]
    assert values_of(b"INSERT INTO t VALUES (" + literal + b");", block_size=3) == [[value]]


@st.composite
def rendered_number(draw) -> tuple[bytes, Number]:
    sign = draw(st.sampled_from([b"", b"", b"-", b"+"]))
    digits = str(draw(st.integers(0, 10**20))).encode()
    form = draw(st.integers(0, 4))
    if form == 1:
        digits += b"." + str(draw(st.integers(0, 10**9))).encode()
    elif form == 2:
        digits = b"." + digits
    elif form == 3:
        digits += draw(st.sampled_from([b"e", b"E"])) + draw(st.sampled_from([b"", b"-", b"+"]))
        digits += str(draw(st.integers(0, 308))).encode()
    text = sign + digits
    return text, Number(text)


@st.composite
def rendered_binary(draw) -> tuple[bytes, BinaryLiteral]:
    if draw(st.booleans()):
        value = draw(st.binary(max_size=8))
        digits = value.hex()
        digits = "".join(c.upper() if draw(st.booleans()) else c for c in digits).encode()
        if value and draw(st.booleans()):
            if digits.startswith(b"0") and draw(st.booleans()):
                digits = digits[1:]  # an odd number of digits: 0x414 is 0x0414
            return b"0x" + digits, BinaryLiteral(value)
        return draw(st.sampled_from([b"x", b"X"])) + b"'" + digits + b"'", BinaryLiteral(value)
    bits = "".join(draw(st.lists(st.sampled_from("01"), max_size=20))).encode()
    value = int(bits, 2).to_bytes((len(bits) + 7) // 8, "big") if bits else b""
    if bits and draw(st.booleans()):
        return b"0b" + bits, BinaryLiteral(value)
    return draw(st.sampled_from([b"b", b"B"])) + b"'" + bits + b"'", BinaryLiteral(value)


@st.composite
def rendered_keyword(draw) -> tuple[bytes, object]:
    word, value = draw(st.sampled_from([(b"null", None), (b"true", Number(b"1")), (b"false", Number(b"0"))]))
    return bytes(c if draw(st.booleans()) else c ^ 0x20 for c in word), value


RENDERED_VALUE = st.one_of(rendered_string(), rendered_number(), rendered_binary(), rendered_keyword())


@st.composite
def rendered_row(draw) -> tuple[bytes, list]:
    values = draw(st.lists(RENDERED_VALUE, min_size=draw(st.sampled_from([0, 1, 1, 1])), max_size=6))
    parts = []
    for i, (literal, _) in enumerate(values):
        if i:
            parts.append(draw(SPACES) + b"," + draw(SPACES))
        parts.append(literal)
    if values and draw(st.integers(0, 15)) == 0:
        parts.append(b" /* a comment */")
    return b"(" + draw(SPACES) + b"".join(parts) + draw(SPACES) + b")", [value for _, value in values]


FILLERS = [
    b"/*!40101 SET NAMES binary*/;\n",
    b"/*!40103 SET TIME_ZONE='+00:00' */;\n",
    b"-- comment ; with ' quote\n",
    b"# hash comment\n",
    b"/* block ; comment */\n",
    b"\n",
    b"LOCK TABLES `t` WRITE;\n",
    b"UNLOCK TABLES;\n",
    b"SET @x = 'a;b', @y = \"c\";\n",
    b"BEGIN;\n",
    b"COMMIT;\n",
    b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n",
]
HEADERS = [
    (b"INSERT INTO `t`", "INSERT"),
    (b"INSERT INTO `db`.`t`", "INSERT"),
    (b"insert into t", "INSERT"),
    (b"INSERT IGNORE INTO `t`", "INSERT IGNORE"),
    (b"REPLACE INTO `t`", "REPLACE"),
]
COLUMN_NAMES = st.lists(st.text("abc_`é ", min_size=1, max_size=4), min_size=1, max_size=4)


@dataclass(frozen=True)
class ExpectedRow:
    values: list
    start: int  # offset of the row's '('
    end: int  # offset right after its ')'
    statement: str
    columns: list[str] | None


@st.composite
def dump_files(draw) -> tuple[bytes, list[ExpectedRow]]:
    """A data file of several INSERT statements in varied styles, and the rows it holds."""
    out = bytearray()
    expected: list[ExpectedRow] = []
    statements = draw(st.integers(0, 4))
    for number in range(statements):
        for filler in draw(st.lists(st.sampled_from(FILLERS), max_size=3)):
            out += filler
        header, statement = draw(st.sampled_from(HEADERS))
        out += header
        columns = None
        if draw(st.booleans()):
            columns = draw(COLUMN_NAMES)
            out += b" (" + b", ".join(b"`" + c.replace("`", "``").encode() + b"`" for c in columns) + b")"
        out += b" VALUES" + draw(st.sampled_from([b"\n", b" ", b""]))
        rows = draw(st.lists(rendered_row(), min_size=1, max_size=6))
        separator = draw(st.sampled_from([b",", b",\n", b", "]))
        for i, (text, values) in enumerate(rows):
            if i:
                out += separator
            start = len(out)
            out += text
            expected.append(ExpectedRow(values, start, len(out), statement, columns))
        last = number == statements - 1
        end = draw(st.sampled_from([b";\n", b";", b" ;\n"] + ([b"", b"\n"] if last else [])))
        out += end
        if last and not end.strip():  # the file ends with the last row
            return bytes(out), expected
    for filler in draw(st.lists(st.sampled_from(FILLERS), max_size=2)):
        out += filler
    return bytes(out), expected


BLOCK_SIZES = st.one_of(st.integers(1, 16), st.integers(17, 300), st.just(64 * 1024))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dump_files(), BLOCK_SIZES)
def test_random_rows_rendered_in_any_style_parse_back_with_their_end_offsets(dump, block_size):
    data, expected = dump
    p = parser(data, block_size=block_size)
    seen = [(typed([values])[0], end, p.statement, p.columns) for values, end in p.iter_rows()]
    assert seen == [(typed([r.values])[0], r.end, r.statement, r.columns) for r in expected]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dump_files(), BLOCK_SIZES)
def test_raw_rows_are_the_dump_bytes_and_decode_to_the_same_values(dump, block_size):
    data, expected = dump
    raw_rows = list(parser(data, block_size=block_size).iter_raw_rows())
    assert [(raw, end) for raw, end in raw_rows] == [(data[r.start : r.end], r.end) for r in expected]
    assert typed([decode_row(raw) for raw, _ in raw_rows]) == typed([r.values for r in expected])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dump_files(), BLOCK_SIZES)
def test_parsing_from_any_row_boundary_gives_exactly_the_remaining_rows(dump, block_size):
    data, expected = dump
    for k, boundary in enumerate(expected):
        p = parser(
            data,
            start_offset=boundary.end,
            columns=boundary.columns,
            statement=boundary.statement,
            block_size=block_size,
        )
        seen = [(typed([values])[0], end, p.statement, p.columns) for values, end in p.iter_rows()]
        assert seen == [(typed([r.values])[0], r.end, r.statement, r.columns) for r in expected[k + 1 :]]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dump_files(), st.data())
def test_end_offset_yields_the_rows_that_start_before_it(dump, data_strategy):
    data, expected = dump
    end_offset = data_strategy.draw(st.integers(0, len(data)))
    ends = [end for _, end in rows_of(data, end_offset=end_offset)]
    assert ends == [r.end for r in expected if r.start < end_offset]


@st.composite
def mutated_dump(draw) -> bytes:
    data, _ = draw(dump_files())
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from(list(b"'\"\\(),;`/*-#\n0xbN ")) | st.integers(0, 255))
        if how == "insert" or where == len(data):
            data[where:where] = bytes([byte])
        elif how == "replace":
            data[where] = byte
        else:
            del data[where]
    return bytes(data)


def outcome(data: bytes, block_size: int) -> tuple[str, object]:
    try:
        return "rows", list(parser(data, block_size=block_size).iter_raw_rows())
    except ParseError as error:
        return "error", (error.offset, error.reason)


@pytest.mark.timeout(300)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_dump(), BLOCK_SIZES)
def test_mutated_files_give_a_parse_error_or_valid_rows_and_never_hang(data, block_size):
    try:
        rows = list(parser(data, block_size=block_size).iter_raw_rows())
    except ParseError as error:
        assert 0 <= error.offset <= len(data)
        return
    ends = [end for _, end in rows]
    assert ends == sorted(set(ends))
    assert all(0 < end <= len(data) for end in ends)
    for raw, end in rows:
        assert data[end - len(raw) : end] == raw
        for value in decode_row(raw):
            assert value is None or isinstance(value, bytes)
    assert [values for values, _ in rows_of(data, block_size=block_size)] == [decode_row(r) for r, _ in rows]


@pytest.mark.timeout(300)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_dump(), st.integers(1, 40))
def test_the_block_size_never_changes_the_outcome_of_parsing_a_mutated_file(data, block_size):
    assert outcome(data, block_size) == outcome(data, 64 * 1024)


# --- real dumps -------------------------------------------------------------------------------------------

TRICKY_TABLE = """
CREATE TABLE t (
  id INT PRIMARY KEY,
  s VARCHAR(200),
  b BLOB,
  d DECIMAL(30,10),
  f FLOAT,
  g DOUBLE,
  big BIGINT UNSIGNED,
  neg BIGINT,
  bt BIT(10),
  j JSON,
  dt DATETIME(3),
  e ENUM('a','b'),
  u TEXT CHARACTER SET utf8mb4
)
"""
NUMERIC_COLUMNS = {0, 3, 4, 5, 6, 7}
TRICKY_ROWS = [
    (1, "O'Re\"il\\ly\ttab\nnl\r\x00\x1a", bytes(range(256)), "-12.5", 1.5e-7, 3.141592653589793,
     18446744073709551615, -9223372036854775808, 0b1010101010, '{"a": [1, "x\\"y"]}',
     "2020-01-02 03:04:05.678", "b", "emoji 😀 and ünïcode"),
    (2, None, None, None, None, None, None, None, None, None, None, None, None),
    (3, "", b"", "0.0000000001", -1e30, -0.0, 0, 0, 0, "[]", "1000-01-01 00:00:00", "a", "'';\\\\%_"),
    (4, "\\%\\_ and 'quotes' \"both\"", b"\xff" * 1000 + b"'\\\"\n\r\x00", "99999999999999999999.9999999999",
     3.4e38, 1e-300, 1, -1, 1023, '{"k": "\\u0000"}', "9999-12-31 23:59:59.999", None, "x" * 5000),
]


@pytest.fixture
def tricky_database(mysql_server, fresh_database):
    conn = mysql_server.connect(fresh_database)
    with conn.cursor() as cur:
        cur.execute(TRICKY_TABLE)
        cur.executemany("INSERT INTO t VALUES (" + ", ".join(["%s"] * 13) + ")", TRICKY_ROWS)
    conn.close()
    return fresh_database


def server_rows(mysql_server, database: str) -> list[tuple]:
    """The table's rows as the server sends them: raw bytes, no conversion of any type."""
    conn = mysql_server.connect(database, use_unicode=False, conv={})
    with conn.cursor() as cur:
        cur.execute("SET NAMES binary")  # pymysql cannot connect with charset 'binary' itself
        cur.execute("SELECT * FROM t ORDER BY id")
        rows = list(cur.fetchall())
    conn.close()
    return rows


def assert_parsed_rows_hold_what_the_server_holds(parsed: list[list], expected: list[tuple]) -> None:
    assert len(parsed) == len(expected)
    for row, server_row in zip(parsed, expected):
        assert len(row) == len(server_row)
        for column, (value, server_value) in enumerate(zip(row, server_row)):
            if server_value is None:
                assert value is None, (column, value)
            elif column in NUMERIC_COLUMNS:
                assert type(value) is Number, (column, value)
                assert Decimal(value.decode()) == Decimal(server_value.decode()), (column, server_value)
            else:
                assert value == server_value, (column, value, server_value)


@pytest.mark.slow
def test_a_mydumper_dump_parses_to_what_the_server_holds(mysql_server, tricky_database, tmp_path):
    out = run_mydumper(mysql_server, tricky_database, tmp_path / "dump")
    [data_file] = [p for p in out.glob(f"{tricky_database}.t.*sql") if "-schema" not in p.name]
    with data_file.open("rb") as stream:
        parsed = [values for values, _ in SqlParser(stream, path=data_file.name, block_size=1000).iter_rows()]
    assert_parsed_rows_hold_what_the_server_holds(parsed, server_rows(mysql_server, tricky_database))


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [[], ["--hex-blob"], ["--hex-blob", "--complete-insert", "--skip-extended-insert"]],
    ids=["plain", "hex-blob", "one-row-statements"],
)
def test_a_mysqldump_dump_parses_to_what_the_server_holds(mysql_server, tricky_database, tmp_path, options):
    dump = tmp_path / "dump.sql"
    with dump.open("wb") as out:
        subprocess.run(
            ["mysqldump", "-h", mysql_server.host, "-P", str(mysql_server.port), "-u", mysql_server.user,
             f"-p{mysql_server.password}", *options, tricky_database, "t"],
            stdout=out, check=True, timeout=120,
        )
    with dump.open("rb") as stream:
        p = SqlParser(stream, path=dump.name, block_size=777)
        parsed = [values for values, _ in p.iter_rows()]
    assert_parsed_rows_hold_what_the_server_holds(parsed, server_rows(mysql_server, tricky_database))
    if "--complete-insert" in options:
        assert p.columns == ["id", "s", "b", "d", "f", "g", "big", "neg", "bt", "j", "dt", "e", "u"]
    if "--hex-blob" in options:
        assert type(parsed[0][2]) is BinaryLiteral



# --- charsets whose characters can end in a backslash -------------------------------------------------------

# 乗 is 0x81 0x5C in GBK, ソ 0x83 0x5C in Shift-JIS, 功 0xA5 0x5C in Big5: the server reads each as one
# character on a connection in that charset, so the 0x5C is never an escape.
TWO_BYTE_BACKSLASH = {"gbk": "乗", "gb18030": "乗", "sjis": "ソ", "cp932": "ソ", "big5": "功"}


@pytest.mark.parametrize("charset", sorted(TWO_BYTE_BACKSLASH))
@pytest.mark.parametrize("block_size", [1, 2, 5, 64 * 1024])
def test_a_second_byte_0x5c_is_part_of_its_character_in_the_charset_the_file_sets(charset, block_size):
    char = TWO_BYTE_BACKSLASH[charset].encode(charset if charset != "sjis" else "shift_jis")
    assert char.endswith(b"\\")
    data = (
        b"/*!40101 SET NAMES " + charset.encode() + b" */;\n"
        b"INSERT INTO `t` VALUES (1,'" + char + b"','" + char + b"\\n')," + b"(2,\"" + char + b"\",'a" + char
        + b"''" + char + b"\\\\')\n/* " + char + b" */;\n"
        b"INSERT INTO `t` VALUES (3,'" + char + b"\\'" + char + b"' 'x' COLLATE gbk_bin);\n"
    )
    assert values_of(data, block_size=block_size) == [
        [Number(b"1"), char, char + b"\n"],
        [Number(b"2"), char, b"a" + char + b"'" + char + b"\\"],
        [Number(b"3"), char + b"'" + char + b"x"],
    ]


def test_a_0x5c_after_a_lead_byte_is_an_escape_on_a_binary_connection():
    # mydumper's SET NAMES binary: the server reads bytes, so 0x81 0x5C 0x5C is 0x81 and an escaped backslash
    data = b"INSERT INTO `t` VALUES (1,'\x81\\\\n');\n"
    assert values_of(b"SET NAMES binary;" + data) == [[Number(b"1"), b"\x81\\n"]]
    assert values_of(b"SET NAMES gbk;" + data) == [[Number(b"1"), b"\x81\\\n"]]


def test_data_character_set_reads_strings_of_a_file_that_sets_no_charset():
    data = b"INSERT INTO `t` VALUES (1,'\x81\\','\x81\\\\n');\n"
    assert values_of(data, default_charset="gbk") == [[Number(b"1"), b"\x81\\", b"\x81\\\n"]]
    assert values_of(b"SET NAMES binary;" + data.replace(b"(1,'\x81\\',", b"(1,"), default_charset="gbk") == [
        [Number(b"1"), b"\x81\\n"]
    ]


def test_a_resumed_gbk_chunk_reads_on_in_gbk():
    data = b"SET NAMES gbk;\nINSERT INTO `t` VALUES (1,'\x81\\'),(2,'\x81\\\\n'),(3,'\x81\\');\n"
    first_end = rows_of(data)[0][1]
    assert values_of(data, start_offset=first_end, charset="gbk") == [
        [Number(b"2"), b"\x81\\\n"],
        [Number(b"3"), b"\x81\\"],
    ]


def test_decode_row_reads_a_gbk_row_in_gbk():
    char = b"\x81\\"
    raw = b"(1,'" + char + b"',\"" + char + b'\\"""' + b'")'  # 815C, an escaped and a doubled quote
    assert decode_row(raw, charset="gbk") == [Number(b"1"), char, char + b'""']
    with pytest.raises(ParseError):
        decode_row(b"(1,'\x81\\')")  # in bytes, the quote is escaped and the string never ends


# --- INSERT forms the dumpers write ---------------------------------------------------------------------


def test_on_duplicate_key_update_is_refused_at_its_offset_with_a_way_out():
    data = b"INSERT INTO t VALUES (1),(2)\n ON DUPLICATE KEY UPDATE a=1;"
    error = parse_error(data)
    assert error.offset == data.index(b"ON")
    assert "updates would be lost" in str(error)
    assert "mariadb client" in str(error) and "REPLACE INTO" in str(error)


@pytest.mark.parametrize("rows", [b"()", b"(),()", b"( ) , (\t)"])
def test_empty_rows_without_a_column_list_are_read_as_empty_rows(rows):
    """The importer gives such a row every column's default, as MySQL does."""
    p = parser(b"INSERT INTO t VALUES " + rows + b";")
    raws = [raw for raw, _ in p.iter_raw_rows()]
    assert p.columns is None
    assert [raw[1:-1].strip() for raw in raws] == [b""] * rows.count(b"(")


def test_an_empty_column_list_is_an_empty_list_not_no_list():
    p = parser(b"INSERT INTO t () VALUES (),();")
    assert [values for values, _ in p.iter_rows()] == [[], []]
    assert p.columns == []


@pytest.mark.parametrize(
    "data",
    [
        b"/*M!999999\\- enable the sandbox mode */ \nINSERT INTO t VALUES (1);",
        b"LOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\nINSERT INTO t VALUES (1);\n"
        b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nUNLOCK TABLES;\n",
        b"ALTER TABLE `t` DISABLE KEYS;\nINSERT INTO t VALUES (1);\nALTER TABLE `t` ENABLE KEYS;\n",
        b"/* a */ INSERT /* b */ INTO t -- c\n VALUES # d\n ( /* e */ 1 -- f\n ) /* g */ ;\n# h\n-- i\n",
        b"insert t value (1);",
    ],
    ids=["mariadb-sandbox-line", "lock-tables", "alter-table-keys", "comments-everywhere", "lowercase-value"],
)
def test_wrappers_and_comments_around_an_insert_leave_its_one_row(data):
    assert typed(values_of(data)) == [[("Number", Number(b"1"))]]
