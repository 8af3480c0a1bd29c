"""The source tables of the differential suite: every column type MariaDB has, hostile values, generated rows.

Each table is a ``CREATE TABLE`` and its rows, inserted through a utf8mb4 connection so that the server
converts every string into its column's character set, as an application would have stored it. Every table
has an ``id`` primary key, so both copies can be read back in the same order.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

GENERATED_ROWS = 40  # hypothesis examples per generated table: enough variety, still a fast suite


@dataclass(frozen=True)
class SourceTable:
    name: str
    ddl: str  # the column and key definitions and the table options, after CREATE TABLE `name`
    columns: tuple[str, ...]  # the columns the rows give, id first
    rows: tuple[tuple[Any, ...], ...]


# --- values that break naive dumpers and parsers ---------------------------------------------------------

# Bytes every SQL string parser must get right: quotes of both kinds, the backslash (also before % and _,
# where MySQL keeps it), NUL, the line ends, tab, Ctrl-Z (\Z in a dump), a lone '--' and '/*' as if comments.
ASCII_HOSTILE = (
    "it's",
    'say "hi"',
    "back\\slash",
    "100\\%",
    "a\\_b",
    "nul\x00byte",
    "line\nbreak",
    "cr\rlf\r\n",
    "tab\there",
    "ctrl-z\x1a",
    "-- not a comment",
    "/* nor this */",
    "); DROP TABLE x; --",
    "",
    " ",
    "trailing  ",
    "`backtick`",
    "semi;colon",
    "\\",
    "'",
    '"',
    "\\'",
    "(",
    "0x41",
    "NULL",
)
UTF8MB4_HOSTILE = (
    "é",
    "日本語",
    "中文",
    "😀",
    "𝄞 clef",
    "emoji 👍🏽 skin",
    "Ω≈ç√",
    "\u00a0nbsp",
    "zero\u200bwidth",
    "ﬁ ligature",
    "RTL \u202e txt",
    "𠀀 (U+20000)",
    "\U0010ffff",
)
# MySQL's latin1 is cp1252, with 0x81, 0x8D, 0x8F, 0x90 and 0x9D as the C1 controls U+0081 etc.
LATIN1_HOSTILE = (
    "café",
    "ñandú",
    "ÿ",
    "€ 5",
    "‰ per mille",
    "“smart” ‘quotes’",
    "Œuvre",
    "\u0081\u008d\u008f\u0090\u009d",
    "ß",
    "×÷",
    "\u00a0",
    "¿¡",
)
# GBK characters whose second byte is 0x5C (a backslash) or 0x7C, a trap for any byte-level escape handling
GBK_HOSTILE = (
    "中文",
    "乗俓僜刓匼",
    "表",
    "鍂",
    "数据库",
    "标点：，。",
    "ａｂｃ full width",
    "㈱",
    "‰",
    "中\\文",
)
BINARY_HOSTILE = (
    bytes(range(256)),
    b"\x00",
    b"\x00\x00\xff",
    b"\xc3\x28 invalid utf-8",
    b"\\'",
    b"\x5c",
    b"\x27",
    b"\x1a",
    b"\x81\x5c gbk trap",
    b"",
    b"\xff" * 16,
)


# --- the tables --------------------------------------------------------------------------------------------

INT_TYPES = (
    ("ti", "TINYINT", -(2**7), 2**7 - 1),
    ("tiu", "TINYINT UNSIGNED", 0, 2**8 - 1),
    ("si", "SMALLINT", -(2**15), 2**15 - 1),
    ("siu", "SMALLINT UNSIGNED", 0, 2**16 - 1),
    ("mi", "MEDIUMINT", -(2**23), 2**23 - 1),
    ("miu", "MEDIUMINT UNSIGNED", 0, 2**24 - 1),
    ("i", "INT", -(2**31), 2**31 - 1),
    ("iu", "INT UNSIGNED", 0, 2**32 - 1),
    ("bi", "BIGINT", -(2**63), 2**63 - 1),
    ("biu", "BIGINT UNSIGNED", 0, 2**64 - 1),
)


def integers_table() -> SourceTable:
    names = tuple(n for n, *_ in INT_TYPES)
    lows = tuple(lo for *_, lo, _ in INT_TYPES)
    highs = tuple(hi for *_, hi in INT_TYPES)
    rows = [
        lows,
        highs,
        tuple(0 for _ in INT_TYPES),
        tuple(None for _ in INT_TYPES),
        tuple(-1 if lo < 0 else 1 for _, _, lo, _ in INT_TYPES),
        tuple(lo + 1 for lo in lows),
        tuple(hi - 1 for hi in highs),
    ]
    ddl = ", ".join(f"`{n}` {t} NULL" for n, t, *_ in INT_TYPES) + ", `flag` BOOLEAN NULL"
    rows = [(*r, [None, True, False][i % 3]) for i, r in enumerate(rows)]
    return _table("integers", ddl, (*names, "flag"), rows, "ENGINE=InnoDB")


def numbers_table() -> SourceTable:
    ddl = (
        "`d65` DECIMAL(65,30) NULL, `d10` DECIMAL(10,0) NULL, `d52` DECIMAL(5,2) NULL, "
        "`du` DECIMAL(20,10) UNSIGNED NULL, `f` FLOAT NULL, `f73` FLOAT(7,3) NULL, `dbl` DOUBLE NULL, "
        "`b1` BIT(1) NULL, `b8` BIT(8) NULL, `b64` BIT(64) NULL, "
    )
    big = decimal.Decimal(
        "9" * 35 + "." + "9" * 30
    )  # unary minus would round it to 28 digits: build -big as text
    rows = [
        (
            big,
            decimal.Decimal(9999999999),
            decimal.Decimal("999.99"),
            decimal.Decimal("9999999999.9999999999"),
            3.4028234663852886e38,
            9999.999,
            1.7976931348623157e308,
            1,
            255,
            2**64 - 1,
        ),
        (
            decimal.Decimal(f"-{big}"),
            decimal.Decimal(-9999999999),
            decimal.Decimal("-999.99"),
            decimal.Decimal(0),
            -3.4028234663852886e38,
            -9999.999,
            -1.7976931348623157e308,
            0,
            0,
            0,
        ),
        (
            decimal.Decimal("0.000000000000000000000000000001"),
            0,
            decimal.Decimal("0.01"),
            decimal.Decimal("0.0000000001"),
            1.1754943508222875e-38,
            0.001,
            5e-324,
            1,
            0x80,
            2**63,
        ),
        (
            decimal.Decimal("-0.5"),
            1,
            decimal.Decimal("-0.50"),
            decimal.Decimal("1.5"),
            0.1,
            1.5,
            0.1,
            0,
            1,
            1,
        ),
        (None,) * 10,
        (
            decimal.Decimal("123.456"),
            -1,
            decimal.Decimal("1.23"),
            decimal.Decimal(2),
            -0.0,
            -0.0,
            -0.0,
            1,
            0x5C,
            0x27,
        ),
        (1, 2, 3, 4, 2.2250738585072014e-308, 3.141, 2.2250738585072014e-308, 0, 0x1A, 0x5C27),
    ]
    names = ("d65", "d10", "d52", "du", "f", "f73", "dbl", "b1", "b8", "b64")
    return _table("numbers", ddl, names, rows)


def temporal_table() -> SourceTable:
    ddl = (
        "`d` DATE NULL, `t` TIME NULL, `t3` TIME(3) NULL, `t6` TIME(6) NULL, `dt` DATETIME NULL, "
        "`dt3` DATETIME(3) NULL, `dt6` DATETIME(6) NULL, `ts` TIMESTAMP NULL DEFAULT NULL, "
        "`ts6` TIMESTAMP(6) NULL DEFAULT NULL, `y` YEAR NULL, "
    )
    rows = [
        (
            "1000-01-01",
            "-838:59:59",
            "-838:59:59.000",
            "-838:59:58.999999",
            "1000-01-01 00:00:00",
            "1000-01-01 00:00:00.000",
            "1000-01-01 00:00:00.000000",
            "1970-01-01 00:00:01",
            "1970-01-01 00:00:01.000000",
            1901,
        ),
        (
            "9999-12-31",
            "838:59:59",
            "838:59:59.000",
            "838:59:58.999999",
            "9999-12-31 23:59:59",
            "9999-12-31 23:59:59.999",
            "9999-12-31 23:59:59.999999",
            "2038-01-19 03:14:07",
            "2038-01-19 03:14:07.999999",
            2155,
        ),
        (
            "2024-02-29",
            "00:00:00",
            "-00:00:00.001",
            "-00:00:00.000001",
            "2024-02-29 12:34:56",
            "2024-02-29 12:34:56.789",
            "2024-02-29 12:34:56.000001",
            "2024-02-29 12:34:56",
            "2024-02-29 12:34:56.5",
            2000,
        ),
        (None,) * 10,
        (
            "1999-12-31",
            "23:59:59",
            "12:00:00.5",
            "01:02:03.04",
            "2021-03-28 02:30:00",  # a DST gap in Europe
            "2021-10-31 02:30:00.25",
            "1969-07-20 20:17:40.123456",
            "2021-03-28 02:30:00",
            "2021-10-31 02:30:00.25",
            1970,
        ),
    ]
    names = ("d", "t", "t3", "t6", "dt", "dt3", "dt6", "ts", "ts6", "y")
    return _table("temporal", ddl, names, rows)


def zero_dates_table() -> SourceTable:
    """Zero dates and zero parts: MariaDB keeps them outside NO_ZERO_DATE, and dumps carry them as written."""
    ddl = "`d` DATE NULL, `dt` DATETIME NULL, `dt6` DATETIME(6) NULL, `y` YEAR NULL, "
    rows = [
        ("0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00.000000", 0),
        ("2020-00-00", "2020-01-00 10:00:00", "2020-00-15 00:00:00.000001", 2000),
    ]
    return _table("zero_dates", ddl, ("d", "dt", "dt6", "y"), rows)


# The characters of each character set, from which its string columns take their values
CHARSET_HOSTILE = {
    "utf8mb4": ASCII_HOSTILE + UTF8MB4_HOSTILE + LATIN1_HOSTILE + GBK_HOSTILE,
    "latin1": ASCII_HOSTILE + LATIN1_HOSTILE,
    "gbk": ASCII_HOSTILE + GBK_HOSTILE,
    "ascii": ASCII_HOSTILE + tuple(chr(c) * 3 for c in range(128)),
}
# The longest string each column takes, in characters: a value at the limit must not be cut
VARCHAR_LENGTH = 40
CHAR_LENGTH = 10
ENUM_MEMBERS = ("a", "it''s", "back\\\\slash", "é", "")
SET_MEMBERS = ("x", "y", "z", "ö")  # not ü: latin1_swedish_ci holds ü = y


def strings_table(charset: str) -> SourceTable:
    """CHAR, VARCHAR, the TEXTs, ENUM and SET in ``charset``: every hostile value, values at max length."""

    # Non-ASCII members only in utf8mb4: mydumper 0.10 writes a schema file's DDL (utf-8, as the server
    # reports it) under SET NAMES binary, so `mariadb < file` makes ENUM('é') of a gbk or latin1 table the
    # member of the bytes c3 a9 in that charset, and the data no longer matches it: the oracle would fail.
    def members_of(all_members: tuple[str, ...]) -> list[str]:
        return [m for m in all_members if charset == "utf8mb4" or m.isascii()]

    enum = ", ".join(f"'{m}'" for m in members_of(ENUM_MEMBERS))
    sets = ", ".join(f"'{m}'" for m in members_of(SET_MEMBERS))
    ddl = (
        f"`c` CHAR({CHAR_LENGTH}) NULL, `v` VARCHAR({VARCHAR_LENGTH}) NULL, "
        "`tt` TINYTEXT NULL, `t` TEXT NULL, "
        f"`e` ENUM({enum}) NULL, `s` SET({sets}) NULL, `mt` MEDIUMTEXT NULL, `lt` LONGTEXT NULL, "
    )
    values = CHARSET_HOSTILE[charset]
    members = [m.replace("''", "'").replace("\\\\", "\\") for m in members_of(ENUM_MEMBERS)]
    set_values = ["", "x", "x,y", "x,y,z", "z,x"] + (["ö,x"] if charset == "utf8mb4" else [])
    rows = []
    for i, value in enumerate(values):
        rows.append(
            (
                value[:CHAR_LENGTH],
                value[:VARCHAR_LENGTH],
                value,
                value * 3,
                members[i % len(members)],
                set_values[i % len(set_values)],
                value[::-1],
                f"{value}|{value}",
            )
        )
    widest = [v for v in values if len(v) == 1 and not v.isspace()][
        -1
    ]  # a multi-byte char where there is one
    tiny_limit = 255 // len(widest.encode(_python_codec(charset)))
    rows.append(
        (
            widest * CHAR_LENGTH,
            widest * VARCHAR_LENGTH,
            widest * tiny_limit,
            widest * 5000,
            None,
            None,
            widest * 70000,
            widest * 3,
        )
    )  # a MEDIUMTEXT past TEXT's 64 KiB
    rows.append((None,) * 8)
    return _table(
        f"strings_{charset}",
        ddl,
        ("c", "v", "tt", "t", "e", "s", "mt", "lt"),
        rows,
        f"DEFAULT CHARSET={charset}",
    )


def binary_table() -> SourceTable:
    ddl = (
        "`bn` BINARY(8) NULL, `vb` VARBINARY(300) NULL, `tb` TINYBLOB NULL, `b` BLOB NULL, "
        "`cb` CHAR(10) CHARACTER SET binary NULL, `mb` MEDIUMBLOB NULL, `lb` LONGBLOB NULL, "
    )
    rows = [(v[:8], v, v[:255], v * 40, v[:10], v[::-1], v + v) for v in BINARY_HOSTILE]
    rows.append(
        (b"\xff" * 8, b"\x00" * 300, b"\x5c" * 255, b"", b"\x00" * 10, bytes(range(256)) * 300, b"\x27")
    )
    rows.append((None,) * 7)
    return _table("strings_binary", ddl, ("bn", "vb", "tb", "b", "cb", "mb", "lb"), rows)


def json_table() -> SourceTable:
    documents = [
        {"a": 1, "b": [1, 2.5, None, True, False], "c": {"d": "e"}},
        {"quote": 'it\'s "quoted"', "back": "\\", "nul": "\u0000", "nl": "\n", "emoji": "😀", "latin": "é"},
        [],
        {},
        "a plain string",
        12345678901234567890,
        -0.0,
        1e308,
        None,
        {"deep": [[[[[[[["x"]]]]]]]]},
    ]
    rows = [(json.dumps(d, ensure_ascii=False),) for d in documents]
    rows.append(('{"spaces" :  [1 ,2],"kept":"as written"}',))
    rows.append((None,))
    return _table("documents", "`j` JSON NULL, ", ("j",), rows)


def odd_names_table() -> SourceTable:
    """Column names that must be quoted: a reserved word, a space, a dot, non-ASCII, a digit first, a quote.

    No backtick in a name: mydumper 0.10 --complete-insert writes `x`y` unescaped, a dump no client loads.
    """
    ddl = (
        "`select` INT NULL, `a b` VARCHAR(10) NULL, `it's` VARCHAR(10) NULL, `t.c` INT NULL, "
        "`é` VARCHAR(5) NULL, "
        "`1st` INT NULL, "
    )
    rows = [(1, "a b", "x`y", 2, "é", 3), (None, "`", "``", None, "", 0)]
    return _table("odd_names", ddl, ("select", "a b", "it's", "t.c", "é", "1st"), rows)


def mariadb_types_table() -> SourceTable:
    """MariaDB's INET4, INET6 and UUID: text in a dump, but a binary string is read as their raw bytes."""
    ddl = "`ip4` INET4 NULL, `ip6` INET6 NULL, `uid` UUID NULL, "
    rows = [
        ("0.0.0.0", "::", "00000000-0000-0000-0000-000000000000"),
        (
            "255.255.255.255",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ),
        ("10.0.0.1", "::ffff:10.0.0.1", "123e4567-e89b-12d3-a456-426614174000"),
        (None, "2001:db8::5c27", "5c5c5c5c-2727-0000-1a1a-000000000000"),
        (None, None, None),
    ]
    return _table("mariadb_types", ddl, ("ip4", "ip6", "uid"), rows)


# --- generated rows ----------------------------------------------------------------------------------------


def _charset_text(charset: str, max_size: int) -> st.SearchStrategy[str]:
    """Text a column of ``charset`` stores unchanged: characters drawn from the set's own repertoire."""
    if charset == "utf8mb4":
        alphabet = st.characters(codec="utf-8", exclude_categories=("Cs",))
    elif charset == "ascii":
        alphabet = st.characters(max_codepoint=127)
    elif charset == "latin1":
        alphabet = st.sampled_from(
            [chr(c) for c in range(256) if c not in _CP1252_HOLES] + list(_CP1252_EXTRAS)
        )
    else:  # gbk: ASCII, the hostile set and the CJK block GBK covers whole
        alphabet = st.one_of(
            st.characters(max_codepoint=127),
            st.sampled_from("".join(GBK_HOSTILE)),
            st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
        )
    return st.text(alphabet, max_size=max_size)


_TIME_LIMIT = datetime.timedelta(hours=838, minutes=59, seconds=59)


def _json_documents() -> st.SearchStrategy[str]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.text(max_size=10)
        | st.floats(allow_nan=False, allow_infinity=False)
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )
    return values.map(lambda v: json.dumps(v, ensure_ascii=False))


_CP1252_HOLES = set(range(0x80, 0xA0)) - {0x81, 0x8D, 0x8F, 0x90, 0x9D}
_CP1252_EXTRAS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"

# Generated rows come in two tables: one of values whose dump text is ASCII, and one of strings in every
# character set, so that a charset mistake in the second never hides a number or date mistake in the first.
GENERATED_VALUE_COLUMNS = (
    ("n", "BIGINT NULL", st.none() | st.integers(-(2**63), 2**63 - 1)),
    ("u", "INT UNSIGNED NULL", st.none() | st.integers(0, 2**32 - 1)),
    (
        "dec",
        "DECIMAL(20,6) NULL",
        st.none() | st.decimals(min_value=-(10**14) + 1, max_value=10**14 - 1, places=6, allow_nan=False),
    ),
    (
        "d65",
        "DECIMAL(65,30) NULL",
        st.none() | st.decimals(min_value=-(10**35) + 1, max_value=10**35 - 1, places=30, allow_nan=False),
    ),
    ("dbl", "DOUBLE NULL", st.none() | st.floats(allow_nan=False, allow_infinity=False)),
    ("flt", "FLOAT NULL", st.none() | st.floats(width=32, allow_nan=False, allow_infinity=False)),
    (
        "dt",
        "DATETIME(6) NULL",
        st.none() | st.datetimes(datetime.datetime(1000, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59)),
    ),
    ("tm", "TIME(6) NULL", st.none() | st.timedeltas(-_TIME_LIMIT, _TIME_LIMIT)),
    (
        "ts",
        "TIMESTAMP(6) NULL DEFAULT NULL",
        st.none()
        | st.datetimes(datetime.datetime(1970, 1, 1, 0, 0, 1), datetime.datetime(2038, 1, 19, 3, 14, 7)),
    ),
    ("yr", "YEAR NULL", st.none() | st.integers(1901, 2155)),
    ("bits", "BIT(13) NULL", st.none() | st.integers(0, 2**13 - 1)),
    ("bin", "VARBINARY(30) NULL", st.none() | st.binary(max_size=30)),
    ("js", "JSON NULL", st.none() | _json_documents()),
)
GENERATED_STRING_COLUMNS = (
    ("s_utf8mb4", "VARCHAR(30) CHARACTER SET utf8mb4 NULL", st.none() | _charset_text("utf8mb4", 30)),
    ("s_latin1", "VARCHAR(30) CHARACTER SET latin1 NULL", st.none() | _charset_text("latin1", 30)),
    ("s_gbk", "VARCHAR(30) CHARACTER SET gbk NULL", st.none() | _charset_text("gbk", 30)),
    ("s_ascii", "VARCHAR(30) CHARACTER SET ascii NULL", st.none() | _charset_text("ascii", 30)),
    ("s_binary", "VARBINARY(30) NULL", st.none() | st.binary(max_size=30)),
    ("txt", "TEXT CHARACTER SET utf8mb4 NULL", st.none() | _charset_text("utf8mb4", 200)),
)


def generated_table(name: str, columns: Sequence[tuple[str, str, st.SearchStrategy[Any]]]) -> SourceTable:
    """Rows hypothesis draws for ``columns``, the same on every run (derandomized)."""
    rows: list[tuple[Any, ...]] = []

    @settings(
        derandomize=True,
        max_examples=GENERATED_ROWS,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.tuples(*(strategy for _, _, strategy in columns)))
    def collect(row: tuple[Any, ...]) -> None:
        rows.append(row)

    collect()
    ddl = "".join(f"`{column}` {sqltype}, " for column, sqltype, _ in columns)
    return _table(name, ddl, tuple(column for column, _, _ in columns), rows)


@functools.cache  # hypothesis takes a second or two: draw the rows once per session
def source_tables() -> tuple[SourceTable, ...]:
    return (
        integers_table(),
        numbers_table(),
        temporal_table(),
        zero_dates_table(),
        *(strings_table(cs) for cs in ("utf8mb4", "latin1", "gbk", "ascii")),
        binary_table(),
        json_table(),
        odd_names_table(),
        mariadb_types_table(),
        generated_table("generated_values", GENERATED_VALUE_COLUMNS),
        generated_table("generated_strings", GENERATED_STRING_COLUMNS),
    )


def _table(
    name: str, ddl: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], options: str = ""
) -> SourceTable:
    return SourceTable(
        name=name,
        ddl=f"(`id` INT NOT NULL PRIMARY KEY, {ddl.rstrip(', ')}) {options}".rstrip(),
        columns=("id", *columns),
        rows=tuple((i + 1, *row) for i, row in enumerate(rows)),
    )


def _python_codec(charset: str) -> str:
    return {"utf8mb4": "utf-8", "latin1": "cp1252", "gbk": "gbk", "ascii": "ascii"}[charset]


def create_source(conn, tables: Sequence[SourceTable]) -> None:
    """Create and fill ``tables`` on ``conn`` (a utf8mb4 connection in the source database)."""
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES', time_zone = '+00:00'")
        for table in tables:
            cur.execute(f"CREATE TABLE `{table.name}` {table.ddl}")
            placeholders = ", ".join(["%s"] * len(table.columns))
            names = ", ".join("`" + c.replace("`", "``") + "`" for c in table.columns)
            cur.executemany(f"INSERT INTO `{table.name}` ({names}) VALUES ({placeholders})", table.rows)
