"""The row checksum: the source side (Python, over parsed values) and the target side (one SQL query)
agree for every column type, and disagree when the rows differ.

Rows reach the real MariaDB the way an import sends them: SQL literals as a dump writes them (unquoted
numbers, quoted strings, 0x.. literals), over a ``SET NAMES binary`` session in time zone +00:00. The
session is non-strict, so values the server clamps or zeroes are stored too and their normalisation is
checked as well (a strict session rejects those rows instead; it stores every other value the same way).
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.checksum import (
    RowChecksum,
    RowHasher,
    canonical_value_sql,
    compare_checksums,
    double_text,
    fetch_target_checksum,
    fetch_target_checksum_concurrently,
    parse_members,
    rounds_fractional_seconds,
    row_hash_sql,
    target_checksum_sql,
)
from airflow_provider_lightning.core.charsets import looks_like_utf8
from airflow_provider_lightning.core.errors import TargetError
from airflow_provider_lightning.core.mydump.sql_parser import decode_row
from airflow_provider_lightning.core.mydump.values import BinaryLiteral, Number, Value
from airflow_provider_lightning.core.target import (
    ColumnInfo,
    ConnectionSettings,
    ServerFacts,
    ServerFlavor,
    TableInfo,
    connect,
    fetch_table_info,
)

EXAMPLES = settings(max_examples=60, deadline=None)


# --- the target: a real table, filled as an import fills it ------------------------------------------------


def sql_literal(value: Value) -> bytes:
    """A value as a dump carries it: NULL, a number as written, 0x.., or a quoted string."""
    if value is None:
        return b"NULL"
    if type(value) is Number:
        return bytes(value)
    if type(value) is BinaryLiteral:
        return b"0x" + value.hex().encode() if value else b"X''"
    return b"'" + value.replace(b"\\", b"\\\\").replace(b"'", b"\\'") + b"'"


class Target:
    """One table on the test server and the session that fills it."""

    def __init__(self, conn, database: str) -> None:
        self.conn = conn
        self.database = database
        self.name = "t"

    def create(self, columns_sql: str, *, name: str = "t") -> TableInfo:
        self.name = name
        with self.conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{name.replace('`', '``')}` ({columns_sql}) DEFAULT CHARSET=utf8mb4")
        return self.info

    @property
    def info(self) -> TableInfo:
        return fetch_table_info(self.conn, self.database, self.name)

    def load(
        self, rows: Sequence[Sequence[Value]], *, columns: Sequence[str] | None = None, sql_mode: str = ""
    ) -> None:
        """Replace the table's rows with ``rows`` (one multi-row INSERT, as a dump has it)."""
        column_list = b""
        if columns is not None:
            column_list = b"(" + b",".join(b"`" + c.encode() + b"`" for c in columns) + b")"
        with self.conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = %s", (sql_mode,))
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute(f"DELETE FROM `{self.name.replace('`', '``')}`")
            if rows:
                cur.execute(
                    b"INSERT INTO `"
                    + self.name.replace("`", "``").encode()
                    + b"` "
                    + column_list
                    + b" VALUES "
                    + b",".join(b"(" + b",".join(sql_literal(v) for v in row) + b")" for row in rows)
                )

    def canonical_rows(self, columns: Sequence[ColumnInfo]) -> list[tuple[bytes | None, ...]]:
        select = ", ".join(canonical_value_sql(c) for c in columns) or "1"
        with self.conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute(f"SELECT {select} FROM `{self.name.replace('`', '``')}`")
            return [tuple(None if v is None else bytes(v) for v in row) for row in cur.fetchall()]


@pytest.fixture
def target(mysql_server, fresh_database):
    conn = mysql_server.connect(fresh_database, init_command="SET NAMES binary")
    try:
        yield Target(conn, fresh_database)
    finally:
        conn.close()


def assert_checksums_agree(
    target: Target,
    rows: Sequence[Sequence[Value]],
    *,
    columns: Sequence[ColumnInfo] | None = None,
    round_fractional_seconds: bool = False,
) -> None:
    """The source checksum of ``rows`` equals the target's; if not, say which values differ."""
    info = target.info
    columns = list(info.columns if columns is None else columns)
    hasher = RowHasher(columns, round_fractional_seconds=round_fractional_seconds)
    expected = hasher.add_rows(rows)
    actual = fetch_target_checksum(target.conn, info, columns=columns)
    if expected == actual:
        return
    source = Counter(tuple(hasher.canonical_row(row)) for row in rows)
    stored = Counter(target.canonical_rows(columns))
    origins = {tuple(hasher.canonical_row(row)): row for row in rows}
    only_source = [(origins[r], r) for r in source - stored]
    pytest.fail(
        f"{[c.column_type for c in columns]}: source {expected} != target {actual}\n"
        f"  from the source only (source row, canonical): {only_source}\n"
        f"  in the target only: {list(stored - source)}"
    )


def load_and_compare(target: Target, rows, **kwargs) -> None:
    target.load(rows, sql_mode=kwargs.pop("sql_mode", ""))
    assert_checksums_agree(target, rows, **kwargs)


# --- value strategies: numbers and text as dumps and CSV files write them -----------------------------------


@st.composite
def numeric_values(draw, number=None) -> Value:
    """A number written as a dump or a CSV file may write it."""
    if number is None:
        number = draw(
            st.one_of(
                st.integers(-(2**70), 2**70),
                st.integers(-300, 300),
                st.decimals(
                    allow_nan=False,
                    allow_infinity=False,
                    places=draw(st.integers(0, 6)),
                    min_value=-(10**14),
                    max_value=10**14,
                ),
                st.sampled_from(
                    [
                        Decimal("0.5"),
                        Decimal("-0.5"),
                        Decimal("2.5"),
                        Decimal("-2.5"),
                        Decimal("127.5"),
                        Decimal("-128.5"),
                        Decimal("255.5"),
                        Decimal("0"),
                    ]
                ),
            )
        )
    number = Decimal(number)
    fixed = format(number, "f")
    form = draw(
        st.sampled_from(
            [
                "number",
                "string",
                "padded",
                "plus",
                "double",
                "double-string",
                "exponent-string",
                "hex",
                "junk",
            ]
        )
    )
    if form == "number":
        return Number(fixed.encode())
    if form == "string":
        return fixed.encode()
    if form == "padded":
        sign = "-" if fixed.startswith("-") else ""
        return f" {sign}00{fixed.lstrip('-')}".encode()
    if form == "plus":
        return ("+" + fixed if not fixed.startswith("-") else fixed).encode()
    if form == "double":
        return Number((fixed + "e0").encode())
    if form == "double-string":
        return repr(float(number)).encode()
    if form == "exponent-string":
        return format(number, "e").encode()
    if form == "hex" and number >= 0 and number == number.to_integral_value() and number < 2**64:
        return BinaryLiteral(int(number).to_bytes(8, "big").lstrip(b"\0") or b"\0")
    return draw(
        st.sampled_from(
            [
                b"",
                b"abc",
                fixed.encode() + b"abc",
                b"-",
                b".",
                b"1e",
                b"  ",
                fixed.encode() + b" ",
                BinaryLiteral(b"\0" * 9),
                BinaryLiteral(b"\1" + b"\0" * 8),
            ]
        )
    )


def float_literals(number: float) -> st.SearchStrategy[Value]:
    """A double as a dump (the server's text or Python's), a decimal literal or a CSV string carries it."""
    forms: list[Value] = [
        Number(repr(number).encode()),
        repr(number).encode(),
        Number(double_text(number)) if abs(number) < 1e30 else Number(repr(number).encode()),
    ]
    server_text = repr(number).replace("e+", "e").encode()
    forms.append(server_text)
    if 1e-20 < abs(number) < 1e20:
        forms.append(Number(format(Decimal(repr(number)), "f").encode()))
    return st.sampled_from(forms)


# --- integers, YEAR -----------------------------------------------------------------------------------------


INTEGER_COLUMNS = (
    "a TINYINT, b TINYINT UNSIGNED, c SMALLINT, d MEDIUMINT UNSIGNED, e INT, f INT UNSIGNED, "
    "g BIGINT, h BIGINT UNSIGNED, y YEAR"
)


def test_integers_in_every_form_agree_with_the_server(target):
    target.create(INTEGER_COLUMNS)

    @EXAMPLES
    @given(st.lists(st.lists(st.one_of(st.none(), numeric_values()), min_size=9, max_size=9), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


@pytest.mark.parametrize(
    ("source", "stored"),
    [
        (b"2.5", b"3"),
        (b"-2.5", b"-3"),
        (Number(b"2.5"), b"3"),
        (Number(b"-2.5"), b"-3"),
        (b"007", b"7"),
        (b"+5", b"5"),
        (b"1e3", b"1000"),
        (b"0.5", b"1"),
        (b"4.5e-1", b"0"),
        (Number(b"2.5e0"), b"2"),
        (Number(b"3.5e0"), b"4"),
        (Number(b"-2.5e0"), b"-2"),
        (BinaryLiteral(b"A"), b"65"),
        (b"99999999999", b"2147483647"),
        (b"12abc", b"12"),
        (b"", b"0"),
    ],
)
def test_integer_values_become_what_the_server_stores(target, source, stored):
    # Strings and decimal literals round half away from zero; double literals (with an exponent) round
    # half to even; out-of-range values are clamped (in a non-strict session).
    target.create("i INT")
    target.load([[source]])
    assert target.canonical_rows(target.info.columns) == [(stored,)]
    assert RowHasher(target.info.columns).canonical_row([source]) == [stored]


@pytest.mark.parametrize(
    ("source", "stored"),
    [
        (Number(b"0"), b"0000"),
        (b"0", b"2000"),
        (b"00", b"2000"),
        (b"0000", b"0000"),
        (b"69", b"2069"),
        (b"70", b"1970"),
        (Number(b"24.5"), b"2025"),
        (b"1900", b"0000"),
        (b"2155", b"2155"),
    ],
)
def test_year_values_follow_the_two_digit_year_rules(target, source, stored):
    target.create("y YEAR")
    target.load([[source]])
    assert target.canonical_rows(target.info.columns) == [(stored,)]
    assert RowHasher(target.info.columns).canonical_row([source]) == [stored]


# --- DECIMAL ------------------------------------------------------------------------------------------------


DECIMAL_COLUMNS = (
    "a DECIMAL(10,3), b DECIMAL(5,0), c DECIMAL(3,3), d DECIMAL(65,30), e DECIMAL(20,2) UNSIGNED, "
    "f DECIMAL(30,10)"
)


def test_decimals_in_every_form_agree_with_the_server(target):
    target.create(DECIMAL_COLUMNS)

    @EXAMPLES
    @given(st.lists(st.lists(st.one_of(st.none(), numeric_values()), min_size=6, max_size=6), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


@pytest.mark.parametrize(
    ("source", "stored"),
    [
        (Number(b"-0.000"), b"0.000"),
        (b"-0.0004", b"0.000"),
        (b"-0.0005", b"-0.001"),
        (Number(b"1.0005"), b"1.001"),
        (Number(b"12.5"), b"12.500"),
        (b"1e2", b"100.000"),
        (Number(b"0.0005e0"), b"0.001"),
        (b"9999999.9995", b"9999999.999"),
    ],
)
def test_decimal_values_keep_exactly_their_scale_rounded_half_away_from_zero(target, source, stored):
    target.create("d DECIMAL(10,3)")
    target.load([[source]])
    assert target.canonical_rows(target.info.columns) == [(stored,)]
    assert RowHasher(target.info.columns).canonical_row([source]) == [stored]


# --- FLOAT, DOUBLE ------------------------------------------------------------------------------------------


FLOAT_COLUMNS = "f FLOAT, d DOUBLE, f2 FLOAT(7,3), d2 DOUBLE(10,2), fu FLOAT UNSIGNED, du DOUBLE UNSIGNED"
SPECIAL_DOUBLES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    3.4028234663852886e38,
    3.4028235677973366e38,
    1.401298464324817e-45,
    1e30,
    -1e30,
    9.999999999999999e29,
    1e15,
    1.5e-30,
    5e-31,
    0.1,
    2.675,
    1.0005,
    16777217.0,
]


@st.composite
def float_values(draw) -> Value:
    number = draw(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.floats(-1e6, 1e6),
            st.sampled_from(SPECIAL_DOUBLES),
        )
    )
    return draw(st.one_of(float_literals(number), numeric_values()))


def test_floats_and_doubles_in_every_form_agree_with_the_server(target):
    target.create(FLOAT_COLUMNS)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.lists(st.one_of(st.none(), float_values()), min_size=6, max_size=6), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


def test_every_special_double_agrees_with_the_server(target):
    target.create(FLOAT_COLUMNS)
    rows = [[Number(repr(x).encode())] * 6 for x in SPECIAL_DOUBLES]
    load_and_compare(target, rows)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.1, b"0.100000000000000000000000000000"),
        (-0.0, b"0.000000000000000000000000000000"),
        (1e-40, b"0.000000000000000000000000000000"),
        (1.5e-30, b"0.000000000000000000000000000002"),
        (1.0000000000000002e-4, b"0.000100000000000000020000000000"),
        (1e30, b"1e30"),
        (-1.2345678901234568e300, b"-1.2345678901234568e300"),
        (1.25e29, b"125000000000000000000000000000.000000000000000000000000000000"),
    ],
)
def test_double_text_is_fixed_below_1e30_and_shortest_exponent_form_above(number, text):
    assert double_text(number) == text


def test_a_float_column_hashes_the_float32_value_not_the_double_written(target):
    target.create("f FLOAT, d DOUBLE")
    rows = [[Number(b"0.1"), Number(b"0.1")]]
    target.load(rows)
    assert target.canonical_rows(target.info.columns) == [
        (b"0.100000001490116120000000000000", b"0.100000000000000000000000000000")
    ]
    assert_checksums_agree(target, rows)


# --- strings, binary strings, BIT, JSON ---------------------------------------------------------------------


STRING_COLUMNS = (
    "vb VARBINARY(64), bl BLOB, v VARCHAR(40), tx TEXT, c CHAR(20), cl CHAR(20) CHARACTER SET latin1, "
    "bn BINARY(8), j JSON"
)
json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def string_rows(draw) -> list[Value]:
    def maybe_null(strategy):
        return draw(st.one_of(st.none(), strategy))

    spaces = st.text(alphabet=" ", max_size=3)
    char_text = st.tuples(st.text(max_size=15), spaces).map(lambda t: (t[0] + t[1]).encode())
    return [
        maybe_null(st.binary(max_size=64)),
        maybe_null(st.binary(max_size=200)),
        maybe_null(st.text(max_size=40).map(str.encode)),
        maybe_null(st.text(max_size=100).map(str.encode)),
        maybe_null(char_text),
        maybe_null(st.binary(max_size=20)),
        maybe_null(st.binary(max_size=8)),
        maybe_null(
            st.tuples(json_documents, st.sampled_from([(",", ":"), (", ", ": ")])).map(
                lambda t: json.dumps(t[0], separators=t[1], ensure_ascii=False).encode()
            )
        ),
    ]


def test_strings_with_any_bytes_agree_with_the_server(target):
    target.create(STRING_COLUMNS)

    @EXAMPLES
    @given(st.lists(string_rows(), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


def test_char_drops_trailing_spaces_and_varchar_keeps_them(target):
    target.create("c CHAR(10), v VARCHAR(10)")
    rows = [[b"ab  ", b"ab  "], [b"a\t ", b"a\t "]]
    target.load(rows)
    assert sorted(target.canonical_rows(target.info.columns)) == [(b"a\t", b"a\t "), (b"ab", b"ab  ")]
    assert_checksums_agree(target, rows)


def test_binary_is_padded_with_zero_bytes_to_its_length(target):
    target.create("b BINARY(4)")
    rows = [[b"ab"], [b""]]
    target.load(rows)
    assert sorted(target.canonical_rows(target.info.columns)) == [(b"\0\0\0\0",), (b"ab\0\0",)]
    assert_checksums_agree(target, rows)


@st.composite
def bit_values(draw) -> Value:
    return draw(
        st.one_of(
            st.binary(min_size=1, max_size=9).map(BinaryLiteral),
            st.binary(max_size=9),
            st.integers(0, 2**64 - 1).map(lambda n: Number(b"%d" % n)),
        )
    )


def test_bits_agree_with_the_server(target):
    target.create("b1 BIT(1), b12 BIT(12), b64 BIT(64)")

    @EXAMPLES
    @given(st.lists(st.lists(st.one_of(st.none(), bit_values()), min_size=3, max_size=3), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


# --- ENUM, SET ----------------------------------------------------------------------------------------------


ENUM_SOURCES = [
    b"a",
    b"A",
    b"b",
    b"B",
    b"c d",
    "É".encode(),
    "é".encode(),
    b"2",
    b"x",
    b"x ",
    b"a ",
    b" a",
    b"",
    b"zz",
    b"1",
    b"7",
    Number(b"0"),
    Number(b"2"),
    Number(b"6"),
    Number(b"7"),
    Number(b"1.0"),
]
SET_SOURCES = [
    b"b,a",
    b"a,a",
    b"a,B,c",
    b"A,,B",
    b"a, b",
    b"zz,a",
    b"",
    b"3",
    b"15",
    b"16",
    "é,c".encode(),
    b"c,b,a",
    b"a ,b",
    Number(b"3"),
    Number(b"16"),
    Number(b"0"),
    Number(b"15"),
]


def test_enum_and_set_values_agree_with_the_server(target):
    target.create(
        "e ENUM('a','B','c d','É','2','x '), s SET('a','B','c','É'), q ENUM('it''s','a\\\\b','c,d')"
    )
    rows = [
        [e, s, q]
        for e, s, q in zip(
            ENUM_SOURCES, SET_SOURCES * 2, [b"it's", b"a\\b", b"c,d", b"IT'S"] * 6, strict=False
        )
    ]
    load_and_compare(target, rows)


def test_enum_members_are_read_from_the_column_type_with_their_escapes():
    assert parse_members("enum('it''s','a\\\\b','c,d','x\"y','')") == ["it's", "a\\b", "c,d", 'x"y', ""]


def test_set_members_count_once_in_definition_order(target):
    target.create("s SET('a','b','c')")
    rows = [[b"c,a,a"], [b"a,c"]]
    load_and_compare(target, rows)
    hasher = RowHasher(target.info.columns)
    assert hasher.hash_row([b"c,a,a"]) == hasher.hash_row([b"a,c"])


# --- dates and times ----------------------------------------------------------------------------------------


DATETIME_COLUMNS = (
    "d DATE, dt DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL, "
    "ts2 TIMESTAMP(2) NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL"
)
moments = st.one_of(
    st.datetimes(
        min_value=datetime.datetime(1000, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)
    ),
    st.datetimes(min_value=datetime.datetime(1969, 12, 31), max_value=datetime.datetime(2038, 1, 20)),
)


@st.composite
def datetime_values(draw) -> Value:
    moment = draw(moments)
    digits = draw(st.integers(0, 9))
    fraction = (b"%06d" % moment.microsecond + draw(st.text("0123456789", min_size=3, max_size=3)).encode())[
        :digits
    ]
    dot_fraction = b"." + fraction if fraction else b""
    form = draw(
        st.sampled_from(
            [
                "canonical",
                "date",
                "compact",
                "compact-number",
                "iso",
                "loose",
                "two-digit-year",
                "zero",
                "invalid",
            ]
        )
    )
    if form == "canonical":
        return moment.strftime("%Y-%m-%d %H:%M:%S").encode() + dot_fraction
    if form == "date":
        return moment.strftime("%Y-%m-%d").encode()
    if form == "compact":
        return moment.strftime("%Y%m%d%H%M%S").encode() + dot_fraction
    if form == "compact-number":
        return Number(moment.strftime("%Y%m%d%H%M%S").encode() + dot_fraction)
    if form == "iso":
        return moment.strftime("%Y-%m-%dT%H:%M:%S").encode() + dot_fraction
    if form == "loose":
        return (
            b"%d/%d/%d %d:%d:%d"
            % (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
            + dot_fraction
        )
    if form == "two-digit-year":
        return moment.strftime("%y-%m-%d %H:%M:%S").encode()
    if form == "zero":
        return draw(
            st.sampled_from([b"0000-00-00", b"0000-00-00 00:00:00", b"2024-00-10", b"2024-01-00 10:00:00"])
        )
    return draw(
        st.sampled_from(
            [
                b"2024-02-30",
                b"2023-02-29 00:00:00",
                b"2024-13-01",
                b"2024-01-02 24:00:00",
                b"0000-02-29",
                b"1900-02-29",
                b"2000-02-29 12:00:00",
            ]
        )
    )


def test_dates_and_datetimes_agree_with_the_server(target):
    target.create(DATETIME_COLUMNS)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.lists(st.one_of(st.none(), datetime_values()), min_size=7, max_size=7), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


@st.composite
def time_values(draw) -> Value:
    seconds = draw(st.one_of(st.integers(-900 * 3600, 900 * 3600), st.integers(-86400, 86400)))
    negative = seconds < 0
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    fraction = draw(st.text("0123456789", max_size=8)).encode()
    dot_fraction = b"." + fraction if fraction else b""
    sign = b"-" if negative else b""
    form = draw(st.sampled_from(["colons", "days", "digits", "digits-number", "short", "datetime"]))
    if form == "colons":
        return sign + b"%02d:%02d:%02d" % (hours, minutes, secs) + dot_fraction
    if form == "days":
        return sign + b"%d %02d:%02d:%02d" % (hours // 24, hours % 24, minutes, secs) + dot_fraction
    if form == "digits":
        return sign + b"%d%02d%02d" % (hours, minutes, secs) + dot_fraction
    if form == "digits-number":
        return Number(sign + b"%d%02d%02d" % (hours, minutes, secs) + dot_fraction)
    if form == "short":
        return sign + b"%d:%02d" % (hours, minutes)
    return b"2024-01-02 %02d:%02d:%02d" % (hours % 24, minutes, secs) + dot_fraction


def test_times_agree_with_the_server(target):
    target.create("t0 TIME, t1 TIME(1), t3 TIME(3), t6 TIME(6)")

    @EXAMPLES
    @given(st.lists(st.lists(st.one_of(st.none(), time_values()), min_size=4, max_size=4), max_size=15))
    def check(rows):
        load_and_compare(target, rows)

    check()


def test_mariadb_truncates_fractional_seconds_to_the_column_precision(target):
    target.create("dt DATETIME(2), t TIME(1)")
    rows = [[b"2024-01-02 10:11:12.999", b"10:11:12.99"]]
    target.load(rows)
    assert target.canonical_rows(target.info.columns) == [(b"2024-01-02 10:11:12.99", b"10:11:12.9")]
    assert_checksums_agree(target, rows)


def test_fractional_seconds_rounded_under_time_round_fractional_agree_with_the_server(target):
    target.create("dt0 DATETIME, dt2 DATETIME(2), ts3 TIMESTAMP(3) NULL DEFAULT NULL, t0 TIME, t1 TIME(1)")

    @EXAMPLES
    @given(
        st.lists(
            st.tuples(datetime_values(), time_values()).map(lambda p: [p[0], p[0], p[0], p[1], p[1]]),
            max_size=15,
        )
    )
    def check(rows):
        load_and_compare(target, rows, sql_mode="TIME_ROUND_FRACTIONAL", round_fractional_seconds=True)

    check()


def test_rounding_fractional_seconds_carries_into_the_next_day(target):
    target.create("dt DATETIME")
    rows = [[b"2024-12-31 23:59:59.5"]]
    target.load(rows, sql_mode="TIME_ROUND_FRACTIONAL")
    assert target.canonical_rows(target.info.columns) == [(b"2025-01-01 00:00:00",)]
    assert_checksums_agree(target, rows, round_fractional_seconds=True)


def test_timestamps_are_compared_in_the_import_session_time_zone(target):
    target.create("ts TIMESTAMP NULL DEFAULT NULL")
    rows = [[b"2024-06-01 12:00:00"]]
    target.load(rows)
    info = target.info
    source = RowHasher(info.columns).add_rows(rows)
    assert fetch_target_checksum(target.conn, info, time_zone="+00:00") == source
    assert fetch_target_checksum(target.conn, info, time_zone="+02:00") != source


def test_whether_fractional_seconds_round_depends_on_the_server_and_sql_mode():
    def facts(flavor):
        return ServerFacts("v", flavor, (1,), "", 1, "utf8mb4", "utf8mb4_general_ci")

    assert not rounds_fractional_seconds(facts(ServerFlavor.MARIADB), "STRICT_TRANS_TABLES")
    assert rounds_fractional_seconds(facts(ServerFlavor.MARIADB), "STRICT_TRANS_TABLES,TIME_ROUND_FRACTIONAL")
    assert rounds_fractional_seconds(facts(ServerFlavor.MYSQL), "")
    assert not rounds_fractional_seconds(facts(ServerFlavor.MYSQL), "TIME_TRUNCATE_FRACTIONAL")
    assert rounds_fractional_seconds(facts(ServerFlavor.TIDB), "")


# --- NULL, rows, columns ------------------------------------------------------------------------------------


def test_null_differs_from_the_empty_string_and_the_word_null(target):
    target.create("v VARCHAR(10)")
    hasher = RowHasher(target.info.columns)
    assert (
        len(
            {
                hasher.hash_row([None]),
                hasher.hash_row([b""]),
                hasher.hash_row([b"NULL"]),
                hasher.hash_row([b"N"]),
            }
        )
        == 4
    )
    load_and_compare(target, [[None], [b""], [b"NULL"], [b"N"]])


def test_values_cannot_shift_between_columns():
    columns = [ColumnInfo("a", "varchar", "varchar(10)"), ColumnInfo("b", "varchar", "varchar(10)")]
    hasher = RowHasher(columns)
    assert hasher.hash_row([b"ab", b"c"]) != hasher.hash_row([b"a", b"bc"])
    assert hasher.hash_row([b"1:", b""]) != hasher.hash_row([b"", b"1:"])


def test_duplicate_rows_each_count(target):
    target.create("v INT")
    rows = [[Number(b"1")], [Number(b"1")]]
    load_and_compare(target, rows)
    hasher = RowHasher(target.info.columns)
    assert hasher.add_rows(rows) == RowChecksum(2, hasher.hash_row(rows[0]) * 2 % 2**64)


def test_an_empty_table_has_the_empty_checksum(target):
    target.create("v INT")
    assert (
        fetch_target_checksum(target.conn, target.info)
        == RowChecksum()
        == RowHasher(target.info.columns).add_rows([])
    )


def test_the_order_a_file_lists_its_columns_in_does_not_matter(target):
    info = target.create("a INT, b VARCHAR(10), c DATE")
    rows = [[b"2024-01-02", Number(b"1"), b"x"], [None, Number(b"2"), b"y"]]
    target.load(rows, columns=["c", "a", "b"])
    file_columns = [info.column("c"), info.column("a"), info.column("b")]
    assert RowHasher(file_columns).add_rows(rows) == fetch_target_checksum(target.conn, info)


def test_columns_the_file_does_not_carry_are_left_out_on_both_sides(target):
    info = target.create("id INT, filled VARCHAR(10) DEFAULT 'default', note TEXT, g INT AS (id + 1) VIRTUAL")
    rows = [[b"x", Number(b"1")], [b"y", Number(b"2")]]
    target.load(rows, columns=["note", "id"])
    file_columns = [info.column("note"), info.column("id")]
    assert "`filled`" not in target_checksum_sql(info, file_columns)
    assert RowHasher(file_columns).add_rows(rows) == fetch_target_checksum(
        target.conn, info, columns=file_columns
    )
    # Without a column list every column that is not generated counts, and the defaults differ.
    assert "`g`" not in target_checksum_sql(info)
    assert fetch_target_checksum(target.conn, info) != fetch_target_checksum(
        target.conn, info, columns=file_columns
    )


def test_identifiers_are_backquoted_with_backquotes_doubled(target):
    info = target.create("`we``ird` INT, `sp ace` VARCHAR(5)", name="ta`ble")
    rows = [[Number(b"1"), b"x"]]
    target.load(rows)
    assert "`ta``ble`" in target_checksum_sql(info) and "`we``ird`" in target_checksum_sql(info)
    assert_checksums_agree(target, rows)


def test_each_rows_hash_matches_the_per_row_hash_sql(target):
    info = target.create("id INT, d DECIMAL(6,2), f DOUBLE, t DATETIME(1), s SET('a','b'), c CHAR(4)")
    rows = [
        [
            Number(b"%d" % i),
            b"%d.456" % i,
            Number(b"%de-3" % i),
            b"2024-01-02 03:04:05.67",
            b"b,a",
            b"%d " % i,
        ]
        for i in range(20)
    ]
    target.load(rows)
    hasher = RowHasher(info.columns)
    with target.conn.cursor() as cur:
        cur.execute(f"SELECT id, {row_hash_sql(info.columns)} FROM t")
        stored = {int(i): int(h) for i, h in cur.fetchall()}
    assert stored == {i: h for i, h in enumerate(hasher.hash_rows(rows))}
    assert [hasher.hash_row(r) for r in rows] == hasher.hash_rows(rows)


def test_a_row_of_the_wrong_width_is_refused():
    hasher = RowHasher([ColumnInfo("a", "int", "int(11)")])
    with pytest.raises(ValueError, match="2 values for 1 columns"):
        hasher.hash_row([b"1", b"2"])


def test_fetching_the_checksum_restores_the_session_time_zone_and_sql_mode(target):
    target.create("ts TIMESTAMP NULL DEFAULT NULL, c CHAR(5)")
    with target.conn.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+05:00', sql_mode = 'PAD_CHAR_TO_FULL_LENGTH'")
        fetch_target_checksum(target.conn, target.info)
        cur.execute("SELECT @@SESSION.time_zone, @@SESSION.sql_mode")
        assert tuple(bytes(v) if isinstance(v, bytes) else v.encode() for v in cur.fetchone()) == (
            b"+05:00",
            b"PAD_CHAR_TO_FULL_LENGTH",
        )


def test_the_checksum_runs_on_the_imports_own_binary_connection(target, mysql_server):
    target.create("d DECIMAL(6,2), t TIMESTAMP NULL DEFAULT NULL, s VARCHAR(5)")
    rows = [[Number(b"1.50"), b"2024-01-02 03:04:05", "é".encode()]]
    target.load(rows)
    settings = ConnectionSettings(
        host=mysql_server.host, port=mysql_server.port, user=mysql_server.user, password=mysql_server.password
    )
    data_connection = connect(settings, binary=True)
    try:
        checksum = fetch_target_checksum(data_connection, target.info)
    finally:
        data_connection.close()
    assert checksum == RowHasher(target.info.columns).add_rows(rows)


def test_char_checksum_ignores_pad_char_to_full_length_in_the_session(target):
    target.create("c CHAR(5)")
    rows = [[b"ab"]]
    target.load(rows)
    with target.conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = 'PAD_CHAR_TO_FULL_LENGTH'")
    assert fetch_target_checksum(target.conn, target.info) == RowHasher(target.info.columns).add_rows(rows)


def test_a_row_longer_than_max_allowed_packet_is_an_error_not_a_wrong_checksum(target):
    target.create("a LONGBLOB, b LONGBLOB")
    half = 9 * 1024 * 1024
    with target.conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (REPEAT('a', %s), NULL)", (half,))
        cur.execute("UPDATE t SET b = REPEAT('b', %s)", (half,))
    with pytest.raises(TargetError, match="max_allowed_packet"):
        fetch_target_checksum(target.conn, target.info)


# --- mismatches ---------------------------------------------------------------------------------------------


SAMPLE_ROWS = [[Number(b"%d" % i), b"row %d" % i, b"2024-01-%02d" % (i % 28 + 1)] for i in range(1, 51)]


@pytest.fixture
def loaded(target):
    target.create("id INT, s VARCHAR(20), d DATE")
    target.load(SAMPLE_ROWS)
    return target


def test_the_checksums_of_identical_tables_match(loaded):
    actual = fetch_target_checksum(loaded.conn, loaded.info)
    assert compare_checksums("`db`.`t`", RowHasher(loaded.info.columns).add_rows(SAMPLE_ROWS), actual) is None


def test_a_single_changed_value_is_a_mismatch(loaded):
    changed = [list(r) for r in SAMPLE_ROWS]
    changed[17][1] = b"row 17 "
    expected = RowHasher(loaded.info.columns).add_rows(changed)
    actual = fetch_target_checksum(loaded.conn, loaded.info)
    assert expected.rows == actual.rows
    assert compare_checksums("`db`.`t`", expected, actual) is not None


def test_a_missing_row_is_a_mismatch(loaded):
    expected = RowHasher(loaded.info.columns).add_rows(
        [*SAMPLE_ROWS, [Number(b"51"), b"row 51", b"2024-02-01"]]
    )
    message = compare_checksums("`db`.`t`", expected, fetch_target_checksum(loaded.conn, loaded.info))
    assert message is not None and "51 rows" in message and "50 rows" in message


def test_a_duplicated_row_is_a_mismatch(loaded):
    with loaded.conn.cursor() as cur:
        cur.execute("INSERT INTO t SELECT * FROM t WHERE id = 7")
    expected = RowHasher(loaded.info.columns).add_rows(SAMPLE_ROWS)
    message = compare_checksums("`db`.`t`", expected, fetch_target_checksum(loaded.conn, loaded.info))
    assert message is not None and "the table was not empty" in message


def test_swapping_values_between_rows_is_a_mismatch(loaded):
    swapped = [list(r) for r in SAMPLE_ROWS]
    swapped[0][1], swapped[1][1] = swapped[1][1], swapped[0][1]
    expected = RowHasher(loaded.info.columns).add_rows(swapped)
    assert expected != fetch_target_checksum(loaded.conn, loaded.info)


def test_the_mismatch_message_gives_both_checksums_and_the_likely_causes():
    message = compare_checksums("`db`.`t`", RowChecksum(10, 123), RowChecksum(10, 456))
    assert "`db`.`t`" in message and "123" in message and "456" in message
    for cause in ("[mydumper.csv] header", "FLOAT", "time zone", "SET NAMES", "data-character-set"):
        assert cause in message


def test_fewer_target_rows_point_at_rows_that_were_not_subtracted():
    message = compare_checksums("t", RowChecksum(10, 1), RowChecksum(9, 1))
    assert "replace" in message and "error tables" in message


def test_the_mismatch_message_names_columns_the_checksum_cannot_normalise_exactly():
    columns = [ColumnInfo("doc", "json", "json"), ColumnInfo("id", "int", "int(11)")]
    message = compare_checksums("t", RowChecksum(1, 1), RowChecksum(1, 2), columns=columns)
    assert "doc (json)" in message and "id (int)" not in message


def test_checksums_survive_json_as_text():
    checksum = RowChecksum(3, 2**64 - 1)
    assert RowChecksum.from_json(json.loads(json.dumps(checksum.to_json()))) == checksum


def test_a_column_info_from_json_hashes_like_the_original(target):
    info = target.create("d DECIMAL(8,2), e ENUM('x','y')")
    columns = [ColumnInfo.from_json(json.loads(json.dumps(c.to_json()))) for c in info.columns]
    rows = [[Number(b"1.005"), b"Y"]]
    assert RowHasher(columns).add_rows(rows) == RowHasher(info.columns).add_rows(rows)


# --- the fast path for raw SQL rows ------------------------------------------------------------------

_FAST_COLUMNS = [
    ColumnInfo("id", "int", "int(11)", nullable=False),
    ColumnInfo("d", "decimal", "decimal(10,2)", numeric_precision=10, numeric_scale=2),
    ColumnInfo("c", "char", "char(20)", char_max_length=20),
    ColumnInfo("v", "varchar", "varchar(50)", char_max_length=50),
    ColumnInfo("t", "tinyint", "tinyint(3) unsigned"),
    ColumnInfo("b", "bigint", "bigint(20)", nullable=False),
    ColumnInfo("e", "enum", "enum('x','y')", nullable=False),
    ColumnInfo("p", "char", "char(4)", char_max_length=4, nullable=False),
    ColumnInfo("day", "date", "date"),
]


def _sql_literal(value, quote: bytes) -> bytes:
    if value is None:
        return b"NULL"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, tuple):  # a number or other bare word written as text
        return value[0].encode()
    body = value.replace(b"\\", b"\\\\").replace(quote, b"\\" + quote)
    return quote + body + quote


# Every kind of value in every column: what plain rows look like, and what a plain-looking row must not
# be mistaken for (leading zeros, -0, out of range, trailing spaces, quotes and commas in strings...).
_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([("007",), ("-0",), ("0",), ("1.",), (".5",), ("-12.50",), ("1e3",), ("0x41",), ("TRUE",)]),
    st.tuples(st.decimals(-(10**7), 10**7, places=2, allow_nan=False).map(str)),
    st.binary(max_size=12),
    st.sampled_from([b"x", b"Y", b"ab ", b" ", b"", b"a,b", b"it's", b'say "hi"', b"2026-03-04", b"2026-02-30"]),
)


# Rows of plain values, each fitting its column's type (or nearly: at the edges of each integer range,
# strings with trailing spaces): they reach the fast path, so that its reading of them is compared.
_EDGE_INTEGERS = st.sampled_from([
    0, 1, -1, 127, 128, 255, 256, -128, -129, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 999_999_999,
    9_999_999_999, 2**63 - 1, 2**63, -(2**63) - 1, 10**18, 10**19 - 1, 10**19,
])
_PLAIN_TEXT = st.text(alphabet="ab xy,", max_size=6).map(str.encode)
_PLAIN_ROWS = st.tuples(
    _EDGE_INTEGERS,
    st.none() | st.sampled_from([("12.5",), ("-0.25",), ("1.005",), ("7",)]),
    st.none() | _PLAIN_TEXT,
    st.none() | _PLAIN_TEXT,
    st.none() | _EDGE_INTEGERS,
    _EDGE_INTEGERS,
    st.sampled_from([b"x", b"y", b"Y", 1, 2]),
    _PLAIN_TEXT,
    st.none() | st.sampled_from([b"2026-03-04", b"2026-03-04 10:11:12", b"20260304", 20260304]),
).map(list)


@given(
    rows=st.lists(
        _PLAIN_ROWS | st.lists(_VALUES, min_size=len(_FAST_COLUMNS), max_size=len(_FAST_COLUMNS)), max_size=20
    ),
    quotes=st.lists(st.sampled_from([b'"', b"'"]), min_size=1, max_size=3),
)
def test_raw_rows_hash_as_their_decoded_values_do(rows, quotes):
    hasher = RowHasher(_FAST_COLUMNS)
    raws = [
        b"(" + b",".join(_sql_literal(v, quotes[(r + i) % len(quotes)]) for i, v in enumerate(row)) + b")"
        for r, row in enumerate(rows)
    ]
    assert hasher.hash_sql_rows(raws) == [hasher.hash_row(decode_row(r)) for r in raws]


@pytest.mark.parametrize("column_type", ["tinyint", "smallint", "mediumint", "int", "bigint"])
@pytest.mark.parametrize("unsigned", [False, True])
def test_integers_at_the_edges_of_their_range_hash_as_parsed(column_type, unsigned):
    full = f"{column_type}(20){' unsigned' if unsigned else ''}"
    hasher = RowHasher([ColumnInfo("n", column_type, full, nullable=False)])
    bits = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}[column_type]
    edges = {0, 1, -1, 2**bits - 1, 2**bits, -(2**bits)} | {2 ** (bits - 1) + d for d in (-1, 0, 1)}
    edges |= {-(2 ** (bits - 1)) + d for d in (-1, 0, 1)}
    edges |= {sign * (10**k + d) for k in range(1, 21) for d in (-1, 0) for sign in (1, -1)}
    raws = [b"(%d)" % n for n in sorted(edges)]
    assert hasher.hash_sql_rows(raws) == [hasher.hash_row(decode_row(r)) for r in raws]


def test_char_values_with_trailing_spaces_hash_as_parsed():
    hasher = RowHasher([ColumnInfo("c", "char", "char(9)", nullable=False)])
    raws = [b'("a ")', b"('a  ')", b'(" ")', b'("")', b'("a")', b"('a')"]
    hashes = hasher.hash_sql_rows(raws)
    assert hashes == [hasher.hash_row(decode_row(r)) for r in raws]
    assert hashes[0] == hashes[1] == hashes[4] == hashes[5] and hashes[2] == hashes[3]


def test_plain_rows_of_every_quote_style_hash_without_the_parser():
    columns = [ColumnInfo("id", "int", "int(11)", nullable=False), ColumnInfo("s", "varchar", "varchar(9)")]
    hasher = RowHasher(columns)
    raws = [b'(1,"a")', b"(2,'b')", b"(-3,NULL)", b'(1,"a")']
    parsed = []
    hashes = hasher._plain_sql_rows().hash_rows(raws, lambda raw: parsed.append(raw) or 0)
    assert parsed == []
    assert hashes == [hasher.hash_row(decode_row(r)) for r in raws]
    assert hashes[0] == hashes[3] != hashes[1]


def test_rows_that_are_not_plain_go_to_the_parser():
    hasher = RowHasher([ColumnInfo("id", "int", "int(11)", nullable=False), ColumnInfo("s", "char", "char(9)", nullable=False)])
    parsed = []
    hasher._plain_sql_rows().hash_rows(
        [b'(007,"a")', b'(1,"a ")', b'(1,"a\\"b")', b"(1,NULL)", b'(1,_binary "a")', b'(1,"a")'],
        lambda raw: parsed.append(raw) or 0,
    )
    assert parsed == [b'(007,"a")', b'(1,"a ")', b'(1,"a\\"b")', b"(1,NULL)", b'(1,_binary "a")']


def test_a_raw_row_of_the_wrong_width_hashes_to_zero():
    assert RowHasher(_FAST_COLUMNS).hash_sql_rows([b"(1,2)"]) == [0]


# --- the target side, over several connections ---------------------------------------------------------


@pytest.mark.parametrize(
    ("columns_sql", "keys"),
    [
        ("id BIGINT PRIMARY KEY, s VARCHAR(20)", [-(2**40), -5, 0, 1, 2, 3, 17, 1000, 10**9, 2**62]),
        ("id INT UNSIGNED PRIMARY KEY, s VARCHAR(20)", list(range(1, 400, 3))),
        ("id INT PRIMARY KEY, s VARCHAR(20)", [7]),
        ("id VARCHAR(9) PRIMARY KEY, s VARCHAR(20)", ["a", "b", "c"]),  # not an integer key: one query
        ("id INT, s VARCHAR(20)", [1, 1, 2]),  # no key: one query
    ],
)
def test_a_table_checksummed_over_key_ranges_sums_to_the_one_query_checksum(
    target, mysql_server, columns_sql, keys
):
    info = target.create(columns_sql)
    rows = [[Number(b"%d" % k) if isinstance(k, int) else k.encode(), b"row %d" % i] for i, k in enumerate(keys)]
    target.load(rows)
    target.conn.commit()
    whole = fetch_target_checksum(target.conn, info)
    assert whole.rows == len(keys)
    opened = []

    def connect():
        opened.append(mysql_server.connect(target.database, init_command="SET NAMES binary"))
        return opened[-1]

    for concurrency in (1, 2, 5):
        assert fetch_target_checksum_concurrently(connect, info, concurrency=concurrency) == whole
    assert all(conn.open is False for conn in opened)  # every connection it opened is closed


def test_an_empty_table_checksummed_concurrently_is_empty(target, mysql_server):
    info = target.create("id INT PRIMARY KEY")

    def connect():
        return mysql_server.connect(target.database)

    assert fetch_target_checksum_concurrently(connect, info, concurrency=4) == RowChecksum()


def test_not_null_columns_hash_alike_on_both_sides(target):
    target.create(
        "id INT NOT NULL PRIMARY KEY, c CHAR(5) NOT NULL, v VARCHAR(9) NOT NULL, d DECIMAL(6,2) NOT NULL, "
        "n VARCHAR(9) NULL, e ENUM('x','y') NOT NULL, day DATE NOT NULL"
    )
    rows = [
        [Number(b"1"), b"ab ", b"", Number(b"1.5"), None, b"y", b"2026-03-04"],
        [Number(b"2"), b"", b"N", Number(b"-0.25"), b"N", b"x", b"1999-12-31"],
        [Number(b"3"), b"x", b"1:a", Number(b"7"), b"", Number(b"2"), b"2026-01-01"],
    ]
    target.load(rows)
    assert "IFNULL(CONCAT(LENGTH(CAST(`id`" not in row_hash_sql(target.info.columns)  # NOT NULL: no IFNULL
    assert_checksums_agree(target, rows)


# --- strings sent in a file's character set -------------------------------------------------------------

CHARSET_COLUMNS = (
    "id INT, u VARCHAR(40) CHARACTER SET utf8mb4, m VARCHAR(40) CHARACTER SET utf8mb3, "
    "l VARCHAR(40) CHARACTER SET latin1, g VARCHAR(40) CHARACTER SET gbk, c CHAR(10) CHARACTER SET latin1, "
    "e ENUM('é', 'x') CHARACTER SET latin1, b VARBINARY(80)"
)
# Characters each charset holds, and some none of them do (an emoji, which utf8mb3 cannot hold either).
CHARSET_TEXT = st.text(alphabet=st.sampled_from("aZ '\\é€ü\x81中文ä😀ßΩ"), max_size=8)


@pytest.mark.parametrize("source", ["utf8mb4", "latin1", "gbk"])
def test_the_source_hashes_what_text_columns_hold_after_the_servers_conversion(target, source):
    target.create(CHARSET_COLUMNS)
    python = {"utf8mb4": "utf-8", "latin1": "cp1252", "gbk": "gbk"}[source]

    @EXAMPLES
    @given(st.lists(CHARSET_TEXT, min_size=7, max_size=7), st.booleans())
    def check(texts, enum_member):
        # What a file in `source` carries: each string in that charset (what it cannot spell, left out).
        sent = [t.encode(python, "ignore") for t in texts]
        if source == "latin1":  # latin1 bytes that read as UTF-8 text are taken for it (docs/checksum.md)
            assume(not any(looks_like_utf8(s) for s in sent))
        row = [Number(b"1"), *sent[:5], b"\xe9" if source == "latin1" and enum_member else b"x", sent[6]]
        with target.conn.cursor() as cur:
            cur.execute(f"SET NAMES {source}")
        try:
            target.load([row])
        finally:
            with target.conn.cursor() as cur:
                cur.execute("SET NAMES binary")
        hasher = RowHasher(target.info.columns, source_charset=source)
        assert hasher.add_rows([row]) == fetch_target_checksum(target.conn, target.info)
        raw = b"(" + b",".join(sql_literal(v) for v in row) + b")"
        assert hasher.hash_sql_rows([raw]) == [hasher.hash_row(decode_row(raw))]  # the fast path agrees

    check()


def test_utf8_declared_as_latin1_never_matches_its_double_encoded_target(target):
    target.create("u VARCHAR(20) CHARACTER SET utf8mb4")
    row = ["café".encode()]
    with target.conn.cursor() as cur:
        cur.execute("SET NAMES latin1")
    target.load([row])
    with target.conn.cursor() as cur:
        cur.execute("SET NAMES binary")
    hasher = RowHasher(target.info.columns, source_charset="latin1")
    assert hasher.add_rows([row]) != fetch_target_checksum(target.conn, target.info)


def test_a_mismatch_with_double_encoded_strings_names_that_cause_first():
    findings = ["2 values of column u look double-encoded (UTF-8 text read as latin1)"]
    message = compare_checksums("`db`.`t`", RowChecksum(2, 1), RowChecksum(2, 2), findings=findings)
    first = message.split("Likely causes: ", 1)[1].split("; (2)", 1)[0]
    assert "2 values of column u look double-encoded" in first and "data-character-set" in first


def test_question_marks_in_strings_are_only_a_hint_beside_the_charset_cause():
    findings = ["3 values of column url hold '?', which the server writes for ..."]
    message = compare_checksums("`db`.`t`", RowChecksum(2, 1), RowChecksum(2, 2), findings=findings)
    first = message.split("Likely causes: ", 1)[1].split("; (2)", 1)[0]
    assert "url" not in first and "3 values of column url hold '?'" in message


# --- MariaDB's INET4, INET6 and UUID ------------------------------------------------------------------------


def test_inet4_inet6_and_uuid_hash_as_the_text_the_server_prints_for_them(target):
    # mariadb-dump writes them as text on a utf8mb4 session; the server stores their raw bytes and prints
    # its own normal form (zero runs shortened, IPv4-mapped addresses dotted, UUIDs in lower case).
    target.create("a INET4 NULL, b INET6 NULL, c UUID NULL")
    rows = [
        [b"0.0.0.0", b"::", b"00000000-0000-0000-0000-000000000000"],
        [b"010.000.000.001", b"1:0:2:3:4:5:6:7", b"123E4567-E89B-12D3-A456-426614174000"],
        [b"255.255.255.255", b"0:0:0:0:0:ffff:0a00:1", b"123e4567e89b12d3a456426614174000"],
        [None, b"1:0:0:2:0:0:3:4", b"5c5c5c5c-2727-0000-1a1a-000000000000"],
        [b"10.0.0.1", b"::1.2.3.4", None],
        [b"1.2.3.4", b"::100", None],
        [b"1.2.3.4", b"2001:DB8::5C27", None],
    ]
    with target.conn.cursor() as cur:
        cur.execute("SET NAMES utf8mb4")
    try:
        target.load(rows)
    finally:
        with target.conn.cursor() as cur:
            cur.execute("SET NAMES binary")
    assert_checksums_agree(target, rows)
