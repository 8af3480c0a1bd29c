"""The CSV parser: LOAD DATA semantics as Lightning's [mydumper.csv] reads them, with resumable offsets.

Besides examples, three kinds of evidence:

- round trips: random rows written under random dialects parse back to themselves, with the right end
  offsets, whatever the read block size, from any reported offset, and chunk by chunk;
- a reference model: ``reference_parse`` below reads a file one byte at a time the way Lightning's
  tokenizer does (``csv_parser.go``, ``readRecord``); on random bytes the parser must agree with it;
- files written by the real MariaDB with ``SELECT ... INTO OUTFILE`` under several FIELDS/LINES options.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.errors import ConfigError, ParseError
from airflow_provider_lightning.core.mydump.csv_parser import CsvDialect, CsvParser, split_csv_ranges
from airflow_provider_lightning.core.mydump.two_byte_csv import masking_stream

NO_HEADER = CsvDialect(header=False)


def parse(data: bytes, dialect: CsvDialect = NO_HEADER, **kwargs) -> list[tuple[list, int]]:
    parser = CsvParser(io.BytesIO(data), dialect, path="t.csv", **kwargs)
    return list(parser.iter_rows())


def values(data: bytes, dialect: CsvDialect = NO_HEADER, **kwargs) -> list[list]:
    return [row for row, _ in parse(data, dialect, **kwargs)]


def parse_from(data: bytes, offset: int, dialect: CsvDialect, **kwargs) -> list[tuple[list, int]]:
    """Parse as a resumed parser does: the stream positioned at ``offset``."""
    stream = io.BytesIO(data)
    stream.seek(offset)
    parser = CsvParser(stream, dialect, path="t.csv", start_offset=offset, **kwargs)
    return list(parser.iter_rows())


def parse_error(data: bytes, dialect: CsvDialect = NO_HEADER, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(data, dialect, **kwargs)
    return caught.value


# -- fields, quotes and escapes ---------------------------------------------------------------------------


def test_unquoted_fields_are_split_at_the_separator():
    assert values(b"1,abc,,x y\n2,d,e,f\n") == [[b"1", b"abc", b"", b"x y"], [b"2", b"d", b"e", b"f"]]


def test_quoted_fields_hold_separators_line_breaks_and_doubled_delimiters():
    data = b'"a,b","line\nbreak","say ""hi""",""\n'
    assert values(data) == [[b"a,b", b"line\nbreak", b'say "hi"', b""]]


def test_escape_sequences_stand_for_control_characters():
    data = b'"\\0\\b\\n\\r\\t\\Z\\\\\\ \\c\\\'\\""\n'
    assert values(data) == [[b"\x00\b\n\r\t\x1a\\ c'\""]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\\", b"n", b"0", b"Z", b"x", b"t"]), max_size=12).map(b"".join))
def test_escape_pairs_are_read_left_to_right(content):
    assume((len(content) - len(content.rstrip(b"\\"))) % 2 == 0)  # no lone escape before the quote
    assert values(b'"' + content + b'",x\n') == [[_unescape(content, ord("\\")), b"x"]]


def test_escaped_separator_delimiter_and_line_break_are_data_outside_quotes():
    assert values(b'a\\,b,c\\"d,e\\\nf\n') == [[b"a,b", b'c"d', b"e\nf"]]


def test_without_escape_character_backslashes_are_data():
    dialect = CsvDialect(header=False, escaped_by=b"")
    assert values(b'a\\,"b\\"\n', dialect) == [[b"a\\", b"b\\"]]


def test_a_custom_escape_character_works_like_backslash():
    dialect = CsvDialect(header=False, escaped_by=b"!", null=(b"!N",))
    data = b'"!"","!!","!\\"\n"!\n",!N,!!N\n'
    assert values(data, dialect) == [[b'"', b"!", b"\\"], [b"\n", None, b"!N"]]


def test_multi_byte_separator_and_delimiter():
    dialect = CsvDialect(header=False, separator="，".encode(), delimiter="。".encode(), escaped_by=b"")
    data = "a，。b，c。。d。，e\n".encode()
    assert values(data, dialect) == [[b"a", "b，c。d".encode(), b"e"]]


def test_empty_delimiter_means_quotes_are_data():
    dialect = CsvDialect(header=False, delimiter=b"", escaped_by=b"")
    assert values(b'"a",b"c\n', dialect) == [[b'"a"', b'b"c']]


# -- NULL -------------------------------------------------------------------------------------------------


def test_unquoted_backslash_n_is_null_and_escaped_backslash_n_is_text():
    assert values(b"\\N,\\\\N,N\n") == [[None, b"\\N", b"N"]]


def test_quoted_backslash_n_is_null_as_in_lightning():
    assert values(b'"\\N","\\\\N"\n') == [[None, b"\\N"]]


def test_quoted_null_token_is_null_as_in_lightning():
    dialect = CsvDialect(header=False, null=(b"NULL",), escaped_by=b"")
    assert values(b'NULL,"NULL",null\n', dialect) == [[None, None, b"null"]]


def test_backslash_n_inside_a_longer_field_is_an_escaped_n():
    assert values(b'1,"a",b\\N\n') == [[b"1", b"a", b"bN"]]


def test_null_token_is_compared_after_unescaping():
    dialect = CsvDialect(header=False, null=(b"NULL",))
    assert values(b"NU\\LL,\\N\n", dialect) == [[None, b"N"]]


def test_empty_null_token_makes_empty_fields_null():
    dialect = CsvDialect(header=False, null=(b"",))
    assert values(b'a,,""\n', dialect) == [[b"a", None, None]]


def test_not_null_reads_backslash_n_as_an_escaped_n():
    dialect = CsvDialect(header=False, not_null=True)
    assert values(b'\\N,"\\N",\n', dialect) == [[b"N", b"N", b""]]


# -- lines ------------------------------------------------------------------------------------------------


def test_empty_terminator_ends_lines_at_lf_cr_and_crlf():
    assert parse(b"a\rb\r\nc\nd") == [([b"a"], 2), ([b"b"], 5), ([b"c"], 7), ([b"d"], 8)]


def test_a_cr_at_the_end_of_the_file_ends_the_last_line():
    assert parse(b"a\nb\r") == [([b"a"], 2), ([b"b"], 4)]


def test_custom_terminator_wins_over_a_separator_it_starts_with():
    dialect = CsvDialect(header=False, separator=b"|+|", terminator=b"|+|\n", delimiter=b"", escaped_by=b"")
    data = b"5|+|abc\ndef\nghi|+|6|+|\n7|+|xy|+z|+|8|+|\n"
    assert values(data, dialect) == [[b"5", b"abc\ndef\nghi", b"6"], [b"7", b"xy|+z", b"8"]]


def test_a_terminator_that_starts_inside_a_separator_does_not_end_the_line():
    # Lightning reads "||" first, so the "|+|\n" that overlaps it is no terminator.
    dialect = CsvDialect(header=False, separator=b"||", terminator=b"|+|\n", delimiter=b"", escaped_by=b"")
    assert parse(b"a||+|\nb|+|\nc|+|\n", dialect) == [([b"a", b"+|\nb"], 11), ([b"c"], 16)]


def test_custom_terminator_is_data_inside_quotes():
    dialect = CsvDialect(header=False, separator=b"|+|", terminator=b"|+|\n", delimiter=b"|+>")
    data = b"xyz|+|+>|+|\n|+>|+|\n|+>|+|\r|+|\n"
    assert values(data, dialect) == [[b"xyz", b"+>"], [b"|+|\n", b"\r"]]


def test_a_fixed_terminator_leaves_other_line_breaks_as_data():
    dialect = CsvDialect(header=False, terminator=b"\r\n")
    assert values(b"a\nb,c\rd\r\n", dialect) == [[b"a\nb", b"c\rd"]]


def test_empty_lines_are_skipped():
    assert parse(b"\n\r\n\na\n\n\nb\n\n") == [([b"a"], 6), ([b"b"], 10)]


def test_whitespace_only_lines_are_skipped():
    dialect = CsvDialect(header=False, null=(b"",))
    data = " \r\n\r\n0,,abc\r\n \t\u3000\r\n123,1999-12-31,test\r\n  ".encode()
    assert values(data, dialect) == [[b"0", None, b"abc"], [b"123", b"1999-12-31", b"test"]]


def test_a_whitespace_line_with_a_separator_or_quotes_is_a_row():
    dialect = CsvDialect(header=False, separator=b"\t")
    assert values(b'\t\n" "\n', dialect) == [[b"", b""], [b" "]]


def test_the_last_line_needs_no_terminator():
    assert parse(b'a,b\n"c",d') == [([b"a", b"b"], 4), ([b"c", b"d"], 9)]


def test_trim_last_separator_drops_an_empty_last_field():
    dialect = CsvDialect(header=False, trim_last_separator=True)
    data = b'123,456,789,\na,b,,\n,,,\n"a","","",\n1,2\n'
    assert values(data, dialect) == [
        [b"123", b"456", b"789"],
        [b"a", b"b", b""],
        [b"", b"", b""],
        [b"a", b"", b""],
        [b"1", b"2"],
    ]


def test_a_byte_order_mark_at_the_start_is_skipped():
    assert parse(b"\xef\xbb\xbfa,b\n") == [([b"a", b"b"], 7)]


def test_a_long_row_spanning_many_reads_is_one_row():
    field = b"x" * 100_000
    assert values(b'"' + field + b'\n",' + field + b"\n", block_size=7) == [[field + b"\n", field]]


# -- header -----------------------------------------------------------------------------------------------


def test_header_gives_the_column_names_and_where_data_starts():
    parser = CsvParser(io.BytesIO(b'id,"Name ",\\N\n1,a,b\n'), CsvDialect(), path="t.csv")
    assert parser.columns == ["id", "Name", "N"]
    assert parser.read_header() == ["id", "Name", "N"]
    assert parser.data_start == 14
    assert list(parser.iter_rows()) == [([b"1", b"a", b"b"], 20)]


def test_header_may_follow_blank_lines():
    parser = CsvParser(io.BytesIO(b" \r\na,b\r\n1,2\r\n"), CsvDialect(), path="t.csv")
    assert parser.columns == ["a", "b"]
    assert parser.data_start == 8


def test_header_is_not_read_when_parsing_starts_later_in_the_file():
    data = b"a,b\n1,2\n3,4\n"
    assert parse_from(data, 8, CsvDialect()) == [([b"3", b"4"], 12)]


def test_header_is_not_read_when_read_header_is_false():
    parser = CsvParser(io.BytesIO(b"a,b\n1,2\n"), CsvDialect(), path="t.csv", read_header=False)
    assert parser.columns is None
    assert [row for row, _ in parser.iter_rows()] == [[b"a", b"b"], [b"1", b"2"]]


def test_header_trailing_separator_is_trimmed_with_trim_last_separator():
    parser = CsvParser(io.BytesIO(b"a,b,\n1,2,\n"), CsvDialect(trim_last_separator=True), path="t.csv")
    assert parser.columns == ["a", "b"]


def test_an_empty_file_has_no_header_and_no_rows():
    parser = CsvParser(io.BytesIO(b""), CsvDialect(), path="t.csv")
    assert parser.columns is None
    assert list(parser.iter_rows()) == []


def test_a_header_that_is_not_utf8_is_a_parse_error():
    with pytest.raises(ParseError, match="column 2 of the header line is not valid UTF-8") as caught:
        CsvParser(io.BytesIO(b"a,b\xff\n1,2\n"), CsvDialect(), path="t.csv")
    assert (caught.value.offset, caught.value.line) == (0, 1)


def test_a_header_with_an_empty_name_suggests_trim_last_separator():
    with pytest.raises(ParseError, match="column 3 of the header line has no name.*trim-last-separator"):
        CsvParser(io.BytesIO(b"a,b,\n"), CsvDialect(), path="t.csv")


def test_a_header_naming_a_column_twice_is_a_parse_error():
    with pytest.raises(ParseError, match="names column 'ID' twice"):
        CsvParser(io.BytesIO(b"id,ID\n"), CsvDialect(), path="t.csv")


# -- offsets and chunks -----------------------------------------------------------------------------------


def test_end_offset_of_a_row_is_just_after_its_terminator():
    dialect = CsvDialect(header=False, terminator=b"##")
    assert parse(b"a##bc##d", dialect) == [([b"a"], 3), ([b"bc"], 7), ([b"d"], 8)]


def test_a_parser_started_at_an_end_offset_yields_the_remaining_rows():
    data = b'1,"x\ny"\r\n\n2,\\N\n"3"\r4'
    rows = parse(data)
    for k, (_, end) in enumerate(rows):
        assert parse_from(data, end, NO_HEADER) == rows[k + 1 :]


def test_end_offset_limits_the_rows_to_those_starting_before_it():
    data = b"a\n\n\nbb\ncc\n"
    assert values(data, end_offset=2) == [[b"a"]]
    assert values(data, end_offset=4) == [[b"a"]]  # the blank lines at 2 and 3 start no row
    assert values(data, end_offset=5) == [[b"a"], [b"bb"]]


def test_a_row_that_starts_before_the_end_offset_is_read_to_its_end():
    assert parse(b'a\n"b\nc"\nd\n', end_offset=3) == [([b"a"], 2), ([b"b\nc"], 8)]


def test_split_ranges_start_after_the_next_terminator_past_each_cut():
    data = b"aaaa\nbbbb\ncccc\ndddd\n"
    ranges = split_csv_ranges(_reader(data), size=len(data), data_start=0, max_region_size=7, dialect=NO_HEADER)
    assert ranges == [(0, 10), (10, 20)]


def test_split_ranges_with_an_empty_terminator_do_not_cut_a_crlf():
    data = b"ab\r\ncd\r\nef\rgh\r\n"
    ranges = split_csv_ranges(_reader(data), size=len(data), data_start=0, max_region_size=2, dialect=NO_HEADER)
    assert ranges == [(0, 4), (4, 8), (8, 11), (11, 15)]
    cut_at_lf = split_csv_ranges(_reader(data), size=len(data), data_start=0, max_region_size=3, dialect=NO_HEADER)
    assert cut_at_lf[0] == (0, 4)


def test_split_ranges_start_at_data_start_and_cover_a_file_without_final_terminator():
    data = b"h1,h2\n1,2\n3,4\n5,6"
    dialect = CsvDialect()
    start = CsvParser(io.BytesIO(data), dialect, path="t.csv").data_start
    ranges = split_csv_ranges(_reader(data), size=len(data), data_start=start, max_region_size=4, dialect=dialect)
    assert ranges == [(6, 14), (14, 17)]
    assert split_csv_ranges(_reader(data), size=6, data_start=6, max_region_size=4, dialect=dialect) == []


def test_split_ranges_look_past_a_row_longer_than_the_read_window():
    data = b"a\n" + b"b" * 200_000 + b"\nc\n"
    ranges = split_csv_ranges(_reader(data), size=len(data), data_start=0, max_region_size=10, dialect=NO_HEADER)
    assert ranges == [(0, 200_003), (200_003, 200_005)]


def test_split_ranges_end_at_the_file_size_when_the_file_is_shorter_than_announced():
    data = b"aaaa\nbbbb"
    ranges = split_csv_ranges(_reader(data), size=100, data_start=0, max_region_size=6, dialect=NO_HEADER)
    assert ranges == [(0, 100)]


def test_split_ranges_read_only_small_windows_of_a_large_file():
    row = b"%08d,some text here\n"
    data = b"".join(row % i for i in range(200_000))
    reads: list[tuple[int, int]] = []

    def read_range(start: int, end: int) -> bytes:
        reads.append((start, end))
        return data[start:end]

    ranges = split_csv_ranges(read_range, size=len(data), data_start=0, max_region_size=1 << 20, dialect=NO_HEADER)
    assert len(ranges) == len(data) // (1 << 20) + 1
    assert sum(end - start for start, end in reads) <= len(ranges) * (64 * 1024 + 1)


def _reader(data: bytes):
    return lambda start, end: data[start:end]


# -- errors -----------------------------------------------------------------------------------------------


def test_unterminated_quote_names_where_it_opened():
    error = parse_error(b'a,b\nc,"d\ne,f\n')
    assert error.offset == 6
    assert error.line == 2
    assert "unterminated quoted field" in str(error)
    assert "t.csv at byte 6" in str(error)


def test_a_quote_inside_an_unquoted_field_is_a_parse_error():
    error = parse_error(b"ok\nab\"c\n")
    assert (error.offset, error.line) == (5, 2)
    assert "unexpected delimiter" in error.reason


def test_data_after_a_closing_quote_is_a_parse_error():
    error = parse_error(b'"x"?,1\n')
    assert error.offset == 3
    assert "after the closing delimiter" in error.reason


def test_an_escape_character_at_the_end_of_the_file_is_a_parse_error():
    error = parse_error(b"a,b\\")
    assert error.offset == 3
    assert "ends with the escape character" in error.reason


def test_errors_have_no_line_number_when_parsing_starts_mid_file():
    with pytest.raises(ParseError) as caught:
        parse_from(b'a\nb\n"c', 4, NO_HEADER)
    assert (caught.value.offset, caught.value.line) == (4, None)


def test_a_row_larger_than_max_row_size_is_a_parse_error():
    error = parse_error(b"a,b\n" + b"x" * 5000 + b"\nc,d\n", max_row_size=4096)
    assert error.offset == 4
    assert "row larger than 4096 bytes; an unterminated quote, or a wrong separator/terminator" in error.reason


def test_a_quoted_row_spanning_lines_larger_than_max_row_size_is_a_parse_error():
    error = parse_error(b'a\n"b\n' + b"x" * 5000 + b'"\nc\n', max_row_size=4096)
    assert (error.offset, error.line) == (2, 2)
    assert "row larger than 4096 bytes" in error.reason


def test_a_header_larger_than_max_row_size_is_a_parse_error():
    with pytest.raises(ParseError, match="row larger than 100 bytes"):
        CsvParser(io.BytesIO(b"c" * 200 + b"\n1\n"), CsvDialect(), path="t.csv", max_row_size=100)


def test_an_unterminated_quote_in_a_huge_file_fails_without_reading_it_all(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.write(b'1,"')
        for _ in range(64):
            f.write(b"x" * (1 << 20))

    class CountingFile(io.FileIO):
        read_bytes = 0

        def readinto(self, buffer) -> int:
            n = super().readinto(buffer)
            self.read_bytes += n or 0
            return n

    with CountingFile(path) as stream:
        parser = CsvParser(stream, NO_HEADER, path="big.csv", max_row_size=1 << 20)
        with pytest.raises(ParseError, match=r"row larger than 1048576 bytes.*quoted field opened at byte 2 \(line 1\)"):
            list(parser.iter_rows())
        assert stream.read_bytes <= 3 << 20


def test_a_read_failure_is_a_parse_error_naming_the_offset():
    class BrokenStream(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            raise OSError("disk on fire")

    with pytest.raises(ParseError, match="cannot read the file.*disk on fire") as caught:
        list(CsvParser(BrokenStream(), NO_HEADER, path="t.csv").iter_rows())
    assert caught.value.offset == 0


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"separator": b""}, "mydumper.csv.separator"),
        ({"escaped_by": b"\\\\"}, "mydumper.csv.escaped-by"),
        ({"separator": b"''", "delimiter": b"'"}, "mydumper.csv.delimiter"),
        ({"separator": b",", "escaped_by": b","}, "mydumper.csv.escaped-by"),
        ({"separator": b"\n,"}, "mydumper.csv.separator"),
        ({"terminator": b'"\n'}, "mydumper.csv.delimiter"),
        ({"separator": 5}, "mydumper.csv.separator"),
    ],
)
def test_a_dialect_that_cannot_be_read_unambiguously_is_a_config_error(fields, key):
    with pytest.raises(ConfigError) as caught:
        CsvDialect(**fields)
    assert caught.value.key == key


def test_a_dialect_accepts_strings_and_lists():
    dialect = CsvDialect(separator="|", null=["NULL", "\\N"])
    assert (dialect.separator, dialect.null) == (b"|", (b"NULL", b"\\N"))


# -- round trips of random rows under random dialects ----------------------------------------------------

SEPARATORS = [b",", b"\t", b"|", b"|+|", b"||", b";;", b"!|", "，".encode()]
DELIMITERS = [b"", b'"', b"'", b"|+>", "。".encode()]
TERMINATORS = [b"", b"\n", b"\r\n", b"|+|\n", b"##", b"\x1e"]
ESCAPES = [b"", b"\\", b"!"]
NULLS = [(b"\\N",), (b"NULL",), (b"\\N", b"NULL"), (b"!N",), ()]
# Bytes that make values interesting: every token of every dialect above, line breaks, controls, high bytes.
ATOMS = [
    *SEPARATORS, *DELIMITERS[1:], *TERMINATORS[1:], b"\\", b"!", b"\\N", b"!N", b"N", b"NULL",
    b"a", b"Z", b"0", b"n", b" ", b"\t", b"\r", b"\n", b"\x00", b"\x1a", b"\xff", "😀".encode(),
]  # fmt: skip
_REVERSE_ESCAPES = {0: b"0", 8: b"b", 10: b"n", 13: b"r", 9: b"t", 26: b"Z"}


@st.composite
def dialects(draw, *, header: bool | None = None) -> CsvDialect:
    settings = dict(
        separator=draw(st.sampled_from(SEPARATORS)),
        delimiter=draw(st.sampled_from(DELIMITERS)),
        terminator=draw(st.sampled_from(TERMINATORS)),
        escaped_by=draw(st.sampled_from(ESCAPES)),
        null=draw(st.sampled_from(NULLS)),
        not_null=draw(st.booleans()),
        header=draw(st.booleans()) if header is None else header,
        trim_last_separator=draw(st.booleans()),
    )
    try:
        return CsvDialect(**settings)
    except ConfigError:
        assume(False)
        raise


@dataclass
class Writer:
    """Writes rows so that they read back unchanged: special bytes escaped, or fields quoted."""

    dialect: CsvDialect

    @property
    def specials(self) -> set[int]:
        d = self.dialect
        tokens = [d.separator, d.delimiter, d.terminator, d.escaped_by, b"\r", b"\n"]
        return {token[0] for token in tokens if token}

    @property
    def null_literal(self) -> bytes | None:
        d = self.dialect
        if d.not_null:
            return None
        escaped_null = d.escaped_by + b"N"
        if d.escaped_by and escaped_null in d.null:
            return escaped_null
        for token in d.null:
            if token and not (set(token) & self.specials):
                return token
        return None

    def escapes_unquoted(self, value: bytes) -> bool:
        """Whether ``value`` can be written escaped but unquoted: no escape pair may start a token (the
        tokenizer tries separator, terminator and delimiter before the escape character)."""
        d = self.dialect
        tokens = [t for t in (d.separator, d.delimiter, d.terminator) if t] + ([] if d.terminator else [b"\r", b"\n"])
        for byte in set(value) & (self.specials | set(_REVERSE_ESCAPES)):
            pair = d.escaped_by + _REVERSE_ESCAPES.get(byte, bytes([byte]))
            if any(t.startswith(pair) or pair.startswith(t) for t in tokens):
                return False
        return True

    def can_write(self, value: bytes | None) -> bool:
        d = self.dialect
        if value is None:
            return self.null_literal is not None
        if not d.not_null and value in d.null and not (d.escaped_by and value == d.escaped_by + b"N"):
            return False  # it would read back as NULL
        if not d.delimiter:
            return self.escapes_unquoted(value) if d.escaped_by else not (set(value) & self.specials)
        return True

    def field(self, value: bytes | None, quote: bool) -> bytes:
        d = self.dialect
        if value is None:
            text = self.null_literal
            assert text is not None
            return d.delimiter + text + d.delimiter if quote and d.delimiter else text
        if d.escaped_by:
            quote = quote or not self.escapes_unquoted(value)
            out = bytearray()
            for byte in value:
                if byte in self.specials or byte in _REVERSE_ESCAPES:
                    out += d.escaped_by + _REVERSE_ESCAPES.get(byte, bytes([byte]))
                else:
                    out.append(byte)
            text = bytes(out)
            return d.delimiter + text + d.delimiter if quote and d.delimiter else text
        if d.delimiter:
            return d.delimiter + value.replace(d.delimiter, d.delimiter * 2) + d.delimiter
        return value

    def row(self, row: list[bytes | None], quotes: list[bool]) -> bytes:
        """The line for ``row`` without its terminator; empty if the row cannot be written."""
        d = self.dialect
        if len(row) == 1 and d.delimiter and not d.trim_last_separator and row[0] is not None:
            unquoted = self.field(row[0], quote=False)
            if not unquoted or _is_blank(unquoted):
                quotes = [True]  # a blank line would be skipped
        fields = [self.field(v, q) for v, q in zip(row, quotes)]
        line = d.separator.join(fields) + (d.separator if d.trim_last_separator else b"")
        if len(row) == 1 and not d.trim_last_separator and (not line or _is_blank(line)):
            if not line or not d.escaped_by:
                return b""
            line = d.escaped_by + line  # an escaped first byte keeps the line from being blank
        return line


@dataclass
class WrittenFile:
    data: bytes
    rows: list[list[bytes | None]]
    ends: list[int]
    columns: list[str] | None
    data_start: int


@st.composite
def written_files(draw, dialect_strategy=None, *, strict: bool = False) -> tuple[CsvDialect, WrittenFile]:
    """A dialect and a file of random rows written in it (``strict``: no line terminator inside a row)."""
    dialect = draw(dialect_strategy if dialect_strategy is not None else dialects())
    writer = Writer(dialect)
    atoms = ATOMS
    if strict:
        banned = {dialect.terminator} if dialect.terminator else {b"\r", b"\n"}
        atoms = [a for a in ATOMS if not set(a) & set(b"".join(banned))]
    value = st.one_of(st.none(), st.lists(st.sampled_from(atoms), max_size=6).map(b"".join))
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(value, min_size=width, max_size=width), max_size=8))
    rows = [[v if writer.can_write(v) else b"a" for v in row] for row in rows]
    rows = [[v if v is not None or not dialect.not_null else b"a" for v in row] for row in rows]

    def terminator() -> bytes:
        if dialect.terminator:
            return dialect.terminator
        return draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))

    out = bytearray()
    columns = None
    if dialect.header:
        columns = [f"c{i}" for i in range(width)]
        out += writer.row([c.encode() for c in columns], [draw(st.booleans()) for _ in columns]) + terminator()
    data_start = len(out)
    ends = []
    for i, row in enumerate(rows):
        line = writer.row(row, [draw(st.booleans()) for _ in row])
        assume(line)
        if strict:
            assume(not any(t in line for t in ([dialect.terminator] if dialect.terminator else [b"\r", b"\n"])))
        last = i == len(rows) - 1
        out += line + (b"" if last and draw(st.booleans()) else terminator())
        ends.append(len(out))
    return dialect, WrittenFile(bytes(out), rows, ends, columns, data_start)


block_sizes = st.sampled_from([1, 2, 3, 5, 8, 64, 1 << 16])
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(written_files(), block_sizes)
def test_random_rows_read_back_unchanged_with_their_end_offsets(written, block_size):
    dialect, file = written
    parser = CsvParser(io.BytesIO(file.data), dialect, path="t.csv", block_size=block_size)
    assert parser.columns == file.columns
    assert parser.data_start == file.data_start
    assert list(parser.iter_rows()) == list(zip(file.rows, file.ends))


@PROPERTY_SETTINGS
@given(written_files(), block_sizes)
def test_a_parser_started_at_any_end_offset_yields_exactly_the_remaining_rows(written, block_size):
    dialect, file = written
    expected = list(zip(file.rows, file.ends))
    for k, end in enumerate([file.data_start, *file.ends]):
        assert parse_from(file.data, end, dialect, block_size=block_size) == expected[k:]


@PROPERTY_SETTINGS
@given(written_files(), st.data())
def test_end_offset_yields_the_rows_that_start_before_it(written, data):
    dialect, file = written
    starts = [file.data_start, *file.ends[:-1]]
    end_offset = data.draw(st.integers(file.data_start, len(file.data) + 1))
    expected = [(row, end) for row, start, end in zip(file.rows, starts, file.ends) if start < end_offset]
    got = parse_from(file.data, file.data_start, dialect, end_offset=end_offset, block_size=data.draw(block_sizes))
    assert got == expected


@PROPERTY_SETTINGS
@given(written_files(dialects(header=True), strict=True), st.integers(1, 64), block_sizes)
def test_split_ranges_cover_the_file_and_parse_to_the_same_rows(written, max_region_size, block_size):
    dialect, file = written
    ranges = split_csv_ranges(
        _reader(file.data),
        size=len(file.data),
        data_start=file.data_start,
        max_region_size=max_region_size,
        dialect=dialect,
    )
    covered = [file.data_start] + [end for _, end in ranges]
    assert [start for start, _ in ranges] == covered[:-1]
    assert covered[-1] == len(file.data) or not ranges and file.data_start == len(file.data)
    rows = []
    for start, end in ranges:
        rows += parse_from(file.data, start, dialect, end_offset=end, block_size=block_size)
    assert rows == list(zip(file.rows, file.ends))


# -- agreement with a byte-at-a-time reference model ------------------------------------------------------


class ReferenceError(Exception):
    """The reference model rejects the input."""


_GO_SPACES = set("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                 "\u2028\u2029\u202f\u205f\u3000")  # fmt: skip


def _is_blank(content: bytes) -> bool:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch in _GO_SPACES for ch in text)


def _unescape(raw: bytes, escape: int) -> bytes:
    meanings = {ord(k): v for k, v in zip("0bnrtZ", [b"\0", b"\b", b"\n", b"\r", b"\t", b"\x1a"])}
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == escape and i + 1 < len(raw):
            out += meanings.get(raw[i + 1], raw[i + 1 : i + 2])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def reference_parse(data: bytes, d: CsvDialect) -> tuple[list[str] | None, list[tuple[list, int]], bool]:
    """(columns, rows, failed): Lightning's readRecord, one byte at a time, plus our documented choices
    (CRLF is one terminator; blank lines are skipped also at the end of the file)."""
    sep, delim, term, esc = d.separator, d.delimiter, d.terminator, d.escaped_by
    nulls = set() if d.not_null else set(d.null)
    escaped_null = esc + b"N" if esc else None
    with_escaped_null = bool(esc) and not d.not_null and escaped_null in d.null

    def terminator_length(p: int) -> int:
        if term:
            return len(term) if data.startswith(term, p) else 0
        if data.startswith(b"\r\n", p):
            return 2
        return 1 if data[p : p + 1] in (b"\r", b"\n") else 0

    def read_record(p: int) -> tuple[list[bytes] | None, int]:
        while p < len(data):
            fields, current, previous, structural = [], bytearray(), "start", False
            while p < len(data):
                if length := terminator_length(p):
                    p += length
                    break
                if data.startswith(sep, p):
                    fields.append(bytes(current))
                    current, previous, structural = bytearray(), "separator", True
                    p += len(sep)
                elif delim and data.startswith(delim, p):
                    if previous not in ("start", "separator"):
                        raise ReferenceError(p)
                    p += len(delim)
                    while True:
                        if p >= len(data):
                            raise ReferenceError(p)
                        if data.startswith(delim + delim, p):
                            current += delim
                            p += 2 * len(delim)
                        elif data.startswith(delim, p):
                            p += len(delim)
                            break
                        elif esc and data[p] == esc[0]:
                            if p + 1 >= len(data):
                                raise ReferenceError(p)
                            current += data[p : p + 2]
                            p += 2
                        else:
                            current.append(data[p])
                            p += 1
                    previous, structural = "quote", True
                elif previous == "quote":
                    raise ReferenceError(p)
                elif esc and data[p] == esc[0]:
                    if p + 1 >= len(data):
                        raise ReferenceError(p)
                    current += data[p : p + 2]
                    p += 2
                    previous = "char"
                else:
                    current.append(data[p])
                    p += 1
                    previous = "char"
            if previous == "start":
                continue  # an empty line
            if not structural and _is_blank(bytes(current)):
                continue
            fields.append(bytes(current))
            if d.trim_last_separator and fields[-1] == b"":
                fields.pop()
            return fields, p
        return None, p

    def value(raw: bytes):
        if esc and esc in raw:
            if with_escaped_null and raw == escaped_null:
                return None
            text = _unescape(raw, esc[0])
            return None if text in nulls and not (with_escaped_null and text == escaped_null) else text
        return None if raw in nulls else raw

    p = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    columns, rows = None, []
    try:
        if d.header:
            fields, p = read_record(p)
            if fields is not None:
                names = [(_unescape(f, esc[0]) if esc else f).decode("utf-8").strip() for f in fields]
                if not all(names) or len({c.lower() for c in names}) != len(names):
                    raise ReferenceError(p)
                columns = names
        while True:
            fields, p = read_record(p)
            if fields is None:
                return columns, rows, False
            rows.append(([value(f) for f in fields], p))
    except (ReferenceError, UnicodeDecodeError):
        return columns, rows, True


def parse_all(
    data: bytes, dialect: CsvDialect, block_size: int, max_row_size: int = 1 << 20
) -> tuple[list[str] | None, list, bool]:
    rows: list = []
    try:
        parser = CsvParser(io.BytesIO(data), dialect, path="t.csv", block_size=block_size, max_row_size=max_row_size)
    except ParseError:
        return None, rows, True
    try:
        for row in parser.iter_rows():
            rows.append(row)
    except ParseError:
        return parser.columns, rows, True
    return parser.columns, rows, False


@st.composite
def bytes_for(draw, dialect: CsvDialect) -> bytes:
    tokens = [dialect.separator, dialect.delimiter, dialect.terminator, dialect.escaped_by]
    atoms = [t for t in tokens if t] + [t[:1] for t in tokens if len(t) > 1] + [
        b"\\N", b"N", b"a", b" ", b"\t", b"\r", b"\n", b"\r\n", b'"', b",", b"\x00", b"\xff", b"\xe3\x80\x80",
    ]  # fmt: skip
    return b"".join(draw(st.lists(st.sampled_from(atoms), max_size=40)))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_input_reads_as_the_reference_model_reads_it(data):
    dialect = data.draw(dialects())
    text = data.draw(bytes_for(dialect))
    expected = reference_parse(text, dialect)
    assert parse_all(text, dialect, block_size=data.draw(block_sizes)) == expected


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(written_files(), st.data())
@pytest.mark.timeout(300)
def test_mutated_files_give_rows_or_a_parse_error_and_nothing_else(written, data):
    dialect, file = written
    mutated = bytearray(file.data)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(mutated)))
        kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "flip" and at < len(mutated):
            mutated[at] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            mutated[at:at] = data.draw(st.sampled_from(ATOMS))
        elif at < len(mutated):
            del mutated[at]
    block_size = data.draw(block_sizes)
    max_row_size = data.draw(st.sampled_from([1, 2, 5, 20, 1 << 20]))
    columns, rows, failed = parse_all(bytes(mutated), dialect, block_size, max_row_size)
    for row, end in rows:
        assert all(v is None or type(v) is bytes for v in row)
        assert 0 < end <= len(mutated)
    # The same rows and the same verdict whatever the block size, also for rows over max_row_size.
    assert (columns, rows, failed) == parse_all(bytes(mutated), dialect, 1 << 16, max_row_size)


# -- files written by MariaDB -----------------------------------------------------------------------------

TRICKY_ROWS = [
    ("plain", b"x"),
    ('quote " and \' apostrophe', b'"'),
    ("back\\slash \\N and \\\\", b"\\"),
    ("separators , ; | |+| ##", b","),
    ("line\nbreaks\r\nand\rcr", b"\n\r\n"),
    ("tab\there", b"\t\t"),
    ("nul\x00inside", b"\x00"),
    ("emoji 😀 and 中文", "😀".encode()),
    ("  padded  ", b"\xff\x00\xfe\x1a\x08"),
    ("", b""),
    (None, None),
    ("\\N", b"NULL"),
    ("NULL", b"\\N"),
    ("   ", b" "),
]


def _outfile(mysql_server, database: str, rows, options: str) -> tuple[bytes, list]:
    """Write ``rows`` to a table, export it with SELECT ... INTO OUTFILE, return the file and the rows."""
    path = f"/tmp/lightning-csv-{uuid.uuid4().hex}.csv"
    conn = mysql_server.connect(database, charset="utf8mb4", use_unicode=False)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(200) CHARACTER SET utf8mb4, b BLOB)"
            )
            cur.executemany(
                "INSERT INTO t VALUES (%s, %s, %s)",
                [(i, s.encode() if s is not None else None, b) for i, (s, b) in enumerate(rows)],
            )
            cur.execute(f"SELECT id, s, b FROM t ORDER BY id INTO OUTFILE '{path}' {options}")
            cur.execute("SELECT id, s, b FROM t ORDER BY id")
            expected = [[str(i).encode(), s, b] for i, s, b in cur.fetchall()]
    finally:
        conn.close()
    try:
        with open(path, "rb") as f:
            return f.read(), expected
    finally:
        os.remove(path)


@pytest.mark.parametrize(
    ("options", "dialect"),
    [
        (
            "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
            CsvDialect(header=False, terminator=b"\n"),
        ),
        (
            "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
            CsvDialect(header=False),
        ),
        (
            "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
            CsvDialect(header=False, separator=b"\t", delimiter=b"", terminator=b"\n"),
        ),
        (
            "FIELDS TERMINATED BY '|+|' OPTIONALLY ENCLOSED BY '\\'' ESCAPED BY '\\\\' LINES TERMINATED BY '\\r\\n'",
            CsvDialect(header=False, separator=b"|+|", delimiter=b"'", terminator=b"\r\n"),
        ),
        (
            "FIELDS TERMINATED BY ';' ENCLOSED BY '\"' ESCAPED BY '!' LINES TERMINATED BY '##\\n'",
            CsvDialect(header=False, separator=b";", escaped_by=b"!", null=(b"!N",), terminator=b"##\n"),
        ),
    ],
    ids=["mysql-csv", "mysql-csv-any-line-end", "tab-separated", "multi-byte-separator-crlf", "custom-escape"],
)
def test_files_written_by_mariadb_read_back_as_the_rows_it_returns(mysql_server, fresh_database, options, dialect):
    data, expected = _outfile(mysql_server, fresh_database, TRICKY_ROWS, options)
    for block_size in (1, 7, 1 << 16):
        assert values(data, dialect, block_size=block_size) == expected


def test_a_file_written_by_mariadb_without_escapes_reads_back_when_no_value_holds_a_quote(
    mysql_server, fresh_database
):
    # Without ESCAPED BY the server neither escapes nor doubles quotes, and writes NULL as the word NULL;
    # Lightning reads a quoted "NULL" as NULL too, so neither a quote nor the text NULL can round-trip.
    rows = [(s, b) for s, b in TRICKY_ROWS if b'"' not in (s or "").encode() + (b or b"") and s != "NULL"]
    rows = [(s, b) for s, b in rows if b != b"NULL"]
    options = "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n'"
    data, expected = _outfile(mysql_server, fresh_database, rows, options)
    dialect = CsvDialect(header=False, escaped_by=b"", null=(b"NULL",), terminator=b"\n")
    assert values(data, dialect) == expected


# --- files in charsets whose characters can end in the escape character ----------------------------------


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 64 * 1024])
def test_a_gbk_second_byte_0x5c_is_part_of_its_character_not_an_escape(block_size):
    # 乗 is 0x81 0x5C: LOAD DATA ... CHARACTER SET gbk reads it whole; \" after it is still an escape
    text = 'id,v,w\n1,"乗","乗\\"x"\n2,乗,"a\\\\乗"\n3,"中文","俓\\N"\n'
    data = text.encode("gbk")
    masking = masking_stream(io.BytesIO(data), lookup_charset("gbk"), b',"\n\\', path="t.csv", offset=0)
    assert masking is not None
    parser = CsvParser(
        masking, CsvDialect(header=True), path="t.csv", block_size=block_size, read_header=True
    )
    assert parser.read_header() == ["id", "v", "w"]
    rows = [([masking.restore(v) for v in values], end) for values, end in parser.iter_rows()]
    expected = (["1", "乗", '乗"x'], ["2", "乗", "a\\乗"], ["3", "中文", "俓N"])
    gbk = [[v.encode("gbk") for v in row] for row in expected]
    assert [values for values, _ in rows] == gbk
    assert [end for _, end in rows] == [data.index(b"\n2,") + 1, data.index(b"\n3,") + 1, len(data)]


def test_files_in_charsets_without_such_second_bytes_are_read_as_they_are():
    for charset in ("utf8mb4", "latin1", "binary", "ascii"):
        assert masking_stream(io.BytesIO(b""), lookup_charset(charset), b',"\n\\', path="t", offset=0) is None
    assert masking_stream(io.BytesIO(b""), lookup_charset("gbk"), b',"\n', path="t", offset=0) is None


def test_a_byte_that_is_never_a_gbk_second_byte_after_a_lead_byte_is_an_error_naming_its_offset():
    data = io.BytesIO(b"1,a\\b\n2,\x81\xff\n")
    masking = masking_stream(data, lookup_charset("gbk"), b',"\n\\', path="t.csv", offset=0)
    with pytest.raises(ParseError, match=r"t\.csv.*8.*0x81 0xFF are not a gbk character"):
        masking.read()
