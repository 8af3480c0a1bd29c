"""Writes the bad-input corpus: one directory per case, each a tiny data source and its ``expect.toml``.

Run it (``.venv/bin/python tests/data/bad/make_corpus.py``) after changing a case: it rewrites every case
directory it knows and leaves other files alone. The files are committed, so the test never runs it; it
exists so that the binary cases (compressed, truncated, corrupt, garbage) can be reproduced and reviewed.

Every case's database is called ``bad``; the test routes it to a fresh database. ``@VICTIM@`` in a file
name or content stands for a database the test creates and checks is still there afterwards. What
``expect.toml`` may say is described in ``tests/core/test_bad_inputs.py``.
"""

from __future__ import annotations

import gzip
import random
import re
import shutil
import textwrap
import zlib
from pathlib import Path

import zstandard

HERE = Path(__file__).resolve().parent

TABLE = "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `v` varchar(10) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n);\n"
MYDUMPER_HEAD = b"/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n"
DATA = "bad.t.000000001.sql"


def rows_sql(first: int, last: int, table: str = "t") -> bytes:
    values = ",\n".join(f"({i},'row{i}')" for i in range(first, last + 1))
    return f"INSERT INTO `{table}` VALUES\n{values};\n".encode()


CASES: dict[str, dict[str, bytes | str]] = {}


def case(name: str, expect: str, **files: bytes | str) -> None:
    CASES[name] = {"expect.toml": textwrap.dedent(expect).lstrip(), **files}


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zst(data: bytes, **options) -> bytes:
    return zstandard.ZstdCompressor(level=3, **options).compress(data)


# --- compression ----------------------------------------------------------------------------------------

_gz_cut = gz(MYDUMPER_HEAD + rows_sql(1, 4000))
_gz_cut = _gz_cut[: len(_gz_cut) // 2]
# What a reader can still get out of the first half: the complete rows of its decompressed prefix.
_gz_rows = len(re.findall(rb"\(\d+,'row\d+'\)", zlib.decompressobj(wbits=31).decompress(_gz_cut)))
case(
    "gz-truncated",
    f"""
    description = "a .gz cut off in the middle: an error saying it is truncated; the rows before the cut arrive"
    # (big enough that the first data file's head, which the import reads first, is complete)
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql\\.gz', 'at byte \\d+', 'truncated']
    rows_before_error = true
    [tables]
    t = {{ ids = [1, {_gz_rows}], v = "row{{id}}" }}
    """,
    **{"bad.t-schema.sql": TABLE, DATA + ".gz": _gz_cut},
)

# Two frames, as a streaming writer makes them; the second one damaged where zstd notices it.
_zst_second = bytearray(zst(rows_sql(201, 400), write_checksum=True))
_zst_second[len(_zst_second) * 2 // 3] ^= 0xFF
case(
    "zst-corrupt",
    """
    description = '''
    a .zst whose second frame is damaged: an error saying the data is corrupt, found when the first
    data file's head is read (both frames come in the first read), before any table is created'''
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql\\.zst', 'at byte \\d+', 'corrupt zstd data']
    [tables]
    """,
    **{"bad.t-schema.sql": TABLE, DATA + ".zst": zst(MYDUMPER_HEAD + rows_sql(1, 200)) + bytes(_zst_second)},
)

case(
    "zst-starting-with-a-skippable-frame",
    """
    description = "pzstd starts its files with a skippable frame: still zstd, imported (not taken for a misnamed file)"
    outcome = "ok"
    [tables]
    t = { ids = [1, 3], v = "row{id}" }
    """,
    **{
        "bad.t-schema.sql": TABLE,
        DATA + ".zst": b"\x50\x2a\x4d\x18" + (8).to_bytes(4, "little") + b"pzstd\0\0\0" + zst(rows_sql(1, 3)),
    },
)

case(
    "gz-empty-file",
    """
    description = '''
    a 0-byte .gz is not a gzip stream (gzip of nothing is 20 bytes): an error, found when the first data
    file's head is read, before any table is created'''
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql\\.gz', 'empty \\(0 bytes\\)', 'not a valid gz stream']
    [tables]
    """,
    **{"bad.t-schema.sql": TABLE, DATA + ".gz": b""},
)

case(
    "snappy-empty-file",
    """
    description = "a 0-byte .snappy is a valid, empty framed-snappy stream: no rows, no error"
    outcome = "ok"
    [tables]
    t = []
    """,
    **{"bad.t-schema.sql": TABLE, DATA + ".snappy": b""},
)

case(
    "snappy-corrupt",
    """
    description = "a .snappy with a valid stream header and then a damaged chunk: an error naming the file"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql\\.snappy', 'at byte 0', 'corrupt snappy data']
    [tables]
    """,
    **{"bad.t-schema.sql": TABLE, DATA + ".snappy": b"\xff\x06\x00\x00sNaPpY\x00\x09\x00\x00garbage!!"},
)

case(
    "gz-that-is-plain-text",
    """
    description = "a file named .gz that is plain SQL: an error saying it is not gzip but plain text"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql\\.gz', 'at byte 0', 'not gzip data', 'plain text', 'extension']
    [tables]
    """,
    **{"bad.t-schema.sql": TABLE, DATA + ".gz": rows_sql(1, 3)},
)

case(
    "sql-that-is-gzip",
    """
    description = "a file named .sql that is gzip-compressed: an error saying to name it .gz, never 0 rows"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql', 'at byte 0', 'gzip-compressed', '\\.gz extension']
    [tables]
    t = []
    [[syntax_errors]]
    table = "t"
    path = "bad.t.000000001.sql"
    offset = 0
    """,
    **{"bad.t-schema.sql": TABLE, DATA: gz(rows_sql(1, 3))},
)

_rng = random.Random(20261125)
_garbage = bytes(_rng.randrange(256) for _ in range(3000))
case(
    "sql-binary-garbage",
    """
    description = "a .sql file of random bytes: an error at the first byte that cannot be SQL text, never 0 rows"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql', 'at byte 0:', 'binary data \\(byte 0x04\\)', 'not an SQL text file']
    [tables]
    t = []
    [[syntax_errors]]
    table = "t"
    path = "bad.t.000000001.sql"
    offset = 0
    """,
    **{"bad.t-schema.sql": TABLE, DATA: _garbage},
)

# --- SQL syntax -----------------------------------------------------------------------------------------


def syntax_case(name: str, what: str, data: str | bytes, offset: int, messages: str, rows: str) -> None:
    case(
        name,
        f"""
        description = "{what}"
        outcome = "error"
        messages = ['bad\\.t\\.000000001\\.sql', 'at byte {offset}:', {messages}]
        rows_before_error = true
        [tables]
        t = {rows}
        [[syntax_errors]]
        table = "t"
        path = "bad.t.000000001.sql"
        offset = {offset}
        """,
        **{"bad.t-schema.sql": TABLE, DATA: data},
    )


syntax_case(
    "sql-bad-quoting",
    "an unescaped quote inside a string: a syntax error at the word after it, with its line",
    "INSERT INTO `t` VALUES\n(1,'a'),(2,'b'),(3,'it's'),(4,'d');\n",
    46,
    """'line 2', "expected ',' or '\\\\)' after a value, found 's'\"""",
    '[[1, "a"], [2, "b"]]',
)
syntax_case(
    "sql-unterminated-string-at-eof",
    "the last string never closes (a truncated file): an error at the opening quote",
    "INSERT INTO `t` VALUES (1,'a'),(2,'b'),(3,'c);\n",
    42,
    "'unterminated string'",
    '[[1, "a"], [2, "b"]]',
)
syntax_case(
    "sql-truncated-mid-row",
    "the file ends inside a row: an error saying it is truncated, at the row",
    "INSERT INTO `t` VALUES (1,'a'),(2,'b'),(3,",
    39,
    "'the file ends inside this row'",
    '[[1, "a"], [2, "b"]]',
)
syntax_case(
    "sql-insert-select",
    "INSERT ... SELECT is never run: an error naming the statement",
    "INSERT INTO `t` VALUES (1,'a');\nINSERT INTO `t` SELECT 2, CURRENT_USER();\n",
    48,
    "'INSERT \\.\\.\\. SELECT statements are not supported'",
    '[[1, "a"]]',
)
syntax_case(
    "sql-on-duplicate-key-update",
    "INSERT ... ON DUPLICATE KEY UPDATE is refused, not half-run",
    "INSERT INTO `t` VALUES (1,'a') ON DUPLICATE KEY UPDATE v = (SELECT 1);\n",
    31,
    "'ON DUPLICATE KEY UPDATE is not supported'",
    '[[1, "a"]]',
)
syntax_case(
    "sql-function-call-in-row",
    "an expression in a row (a function call) is not a value: an error, nothing evaluated",
    "INSERT INTO `t` VALUES (1,'a'),(2,SLEEP(5));\n",
    34,
    "\"expected a value .*found 'SLEEP'\"",
    '[[1, "a"]]',
)

case(
    "sql-insert-for-another-table",
    """
    description = '''
    a table's file holds INSERTs naming other tables: as in Lightning, the rows go to the table the file
    is routed to, and the other names never reach the server (no table `other` appears anywhere)'''
    outcome = "ok"
    [tables]
    t = [[1, "a"], [2, "b"]]
    """,
    **{
        "bad.t-schema.sql": TABLE,
        DATA: "INSERT INTO `other` VALUES (1,'a');\nINSERT INTO `@VICTIM@`.`other` VALUES (2,'b');\n",
    },
)

case(
    "sql-other-statements-are-not-run",
    """
    description = "statements in a data file other than INSERT (DROP, UPDATE, CREATE, SET) are skipped, never run"
    outcome = "ok"
    absent_databases = ["bad_sneaky"]
    [tables]
    t = [[1, "a"]]
    """,
    **{
        "bad.t-schema.sql": TABLE,
        DATA: "DROP DATABASE `@VICTIM@`;\nCREATE DATABASE `bad_sneaky`;\nSET GLOBAL max_connections = 1;\n"
        "INSERT INTO `t` VALUES (1,'a');\nUPDATE `t` SET `v` = 'changed';\nDELETE FROM `t`;\n",
    },
)

case(
    "sql-unknown-column-in-list",
    """
    description = "an INSERT's column list names a column the table lacks: an error naming the column"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql', "column 'nope' is not a column of the target table"]
    [tables]
    t = []
    """,
    **{"bad.t-schema.sql": TABLE, DATA: "INSERT INTO `t` (`id`,`nope`) VALUES (1,'a');\n"},
)

case(
    "sql-empty-file",
    """
    description = "an empty data file: no rows, no error"
    outcome = "ok"
    [tables]
    t = []
    """,
    **{"bad.t-schema.sql": TABLE, DATA: b""},
)

case(
    "sql-only-comments",
    """
    description = "a data file of comments and session settings only: no rows, no error"
    outcome = "ok"
    [tables]
    t = []
    """,
    **{
        "bad.t-schema.sql": TABLE,
        DATA: MYDUMPER_HEAD + b"-- nothing here\n# nor here\n/* INSERT INTO t VALUES (9,'no'); */\n",
    },
)

case(
    "sql-utf8-bom",
    """
    description = "a UTF-8 byte order mark at the start of a data file is skipped"
    outcome = "ok"
    [tables]
    t = [[1, "a"], [2, "é"]]
    """,
    **{"bad.t-schema.sql": TABLE, DATA: "\ufeffINSERT INTO `t` VALUES (1,'a'),(2,'é');\n".encode()},
)

case(
    "sql-crlf-line-endings",
    """
    description = "CRLF line endings are whitespace between rows; a CR LF inside a string is data"
    outcome = "ok"
    [tables]
    t = [[1, "a"], [2, "b\\r\\nc"]]
    """,
    **{
        "bad.t-schema.sql": TABLE.replace("\n", "\r\n"),
        DATA: b"/*!40101 SET NAMES binary*/;\r\nINSERT INTO `t` VALUES\r\n(1,'a'),\r\n(2,'b\r\nc');\r\n",
    },
)

# --- values the target rejects ----------------------------------------------------------------------------

_TYPES = (
    "CREATE TABLE `t` (\n  `id` int NOT NULL PRIMARY KEY,\n  `ti` tinyint DEFAULT NULL,\n"
    "  `u` int unsigned DEFAULT NULL,\n  `d` date DEFAULT NULL,\n  `v` varchar(5) DEFAULT NULL,\n"
    "  `nn` varchar(5) NOT NULL DEFAULT '',\n  `s` varchar(20) CHARACTER SET utf8mb4 DEFAULT NULL\n"
    ") DEFAULT CHARSET=utf8mb4;\n"
)
_GOOD_1 = b"(1,1,1,'2021-01-01','a','x','s')"
_GOOD_3 = b"(3,3,3,'2021-01-03','c','z','u')"


def type_case(name: str, what: str, bad_row: bytes, error: str) -> None:
    data = b"INSERT INTO `t` VALUES " + _GOOD_1 + b"," + bad_row + b"," + _GOOD_3 + b";\n"
    case(
        name,
        f"""
        description = "{what}: the row goes to type_error_v1 with its offset; every good row arrives"
        outcome = "ok"
        [config.lightning]
        max-error = 10
        [tables]
        t = [[1, 1, 1, "2021-01-01", "a", "x", "s"], [3, 3, 3, "2021-01-03", "c", "z", "u"]]
        [[type_errors]]
        table = "t"
        path = "bad.t.000000001.sql"
        offset = {data.index(bad_row)}
        error = "{error}"
        """,
        **{"bad.t-schema.sql": _TYPES, DATA: data},
    )


type_case(
    "value-tinyint-out-of-range", "TINYINT 300", b"(2,300,2,'2021-01-02','b','y','t')",
    "Out of range value for column 'ti'",
)
type_case(
    "value-unsigned-negative", "UNSIGNED -1", b"(2,2,-1,'2021-01-02','b','y','t')",
    "Out of range value for column 'u'",
)
type_case(
    "value-date-february-30", "2021-02-30", b"(2,2,2,'2021-02-30','b','y','t')",
    "Incorrect date value: '2021-02-30'",
)
type_case(
    "value-date-month-13", "the 13th month", b"(2,2,2,'2021-13-01','b','y','t')",
    "Incorrect date value: '2021-13-01'",
)
type_case(
    "value-varchar-too-long", "a 6-character value for VARCHAR(5)", b"(2,2,2,'2021-01-02','bbbbbb','y','t')",
    "Data too long for column 'v'",
)
type_case(
    "value-null-into-not-null", "NULL into NOT NULL", b"(2,2,2,'2021-01-02','b',NULL,'t')",
    "Column 'nn' cannot be null",
)
type_case(
    "value-invalid-utf8", "bytes that are not UTF-8 in a utf8mb4 column", b"(2,2,2,'2021-01-02','b','y','\xff\xfe\xc3')",
    "Incorrect string value",
)
type_case(
    "value-wrong-column-count", "a row with one value too many", b"(2,2,2,'2021-01-02','b','y','t','extra')",
    "Column count doesn't match value count",
)

case(
    "value-out-of-range-beyond-max-error",
    """
    description = "a bad value with max-error = 0 stops the table, naming the file, the row's offset and max-error"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql', 'byte \\d+', "Out of range value for column 'ti'", 'max-error', 'byte 56\\)']
    rows_before_error = true
    [tables]
    t = [[1, 1, 1, "2021-01-01", "a", "x", "s"]]
    """,
    **{
        "bad.t-schema.sql": _TYPES,
        DATA: b"INSERT INTO `t` VALUES " + _GOOD_1 + b",(2,300,2,'2021-01-02','b','y','t')," + _GOOD_3 + b";\n",
    },
)

# --- duplicate keys -------------------------------------------------------------------------------------

_DUPS = b"INSERT INTO `t` VALUES (1,'a'),(2,'b'),(1,'c'),(3,'d');\n"
case(
    "duplicate-key-strategy-error",
    """
    description = "a duplicate key under strategy error stops the table, naming the key and the row's offset"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.sql', 'byte \\d+', "Duplicate entry '1' for key 'PRIMARY'", 'strategy', 'byte 39\\)']
    rows_before_error = true
    [tables]
    t = [[1, "a"], [2, "b"]]
    [[conflicts]]
    table = "t"
    path = "bad.t.000000001.sql"
    offset = 39
    error = "Duplicate entry '1' for key 'PRIMARY'"
    """,
    **{"bad.t-schema.sql": TABLE, DATA: _DUPS},
)
case(
    "duplicate-key-strategy-replace",
    """
    description = "strategy replace: the newest row wins, the replaced row is in conflict_records"
    outcome = "ok"
    [config.conflict]
    strategy = "replace"
    [tables]
    t = [[1, "c"], [2, "b"], [3, "d"]]
    [[conflicts]]
    table = "t"
    path = "bad.t.000000001.sql"
    offset = 39
    error = "Duplicate entry '1' for key 'PRIMARY'"
    """,
    **{"bad.t-schema.sql": TABLE, DATA: _DUPS},
)
case(
    "duplicate-key-strategy-ignore",
    """
    description = "strategy ignore: the first row stays, the later duplicate is in conflict_records"
    outcome = "ok"
    [config.conflict]
    strategy = "ignore"
    [tables]
    t = [[1, "a"], [2, "b"], [3, "d"]]
    [[conflicts]]
    table = "t"
    path = "bad.t.000000001.sql"
    offset = 39
    error = "Duplicate entry '1' for key 'PRIMARY'"
    """,
    **{"bad.t-schema.sql": TABLE, DATA: _DUPS},
)

# --- schema files ---------------------------------------------------------------------------------------

case(
    "data-file-without-table",
    """
    description = "a data file with no schema file and no table in the target: the precheck names the table"
    outcome = "error"
    messages = ['no table in the target and no schema file in the source for `[^`]+`\\.`t`']
    [tables]
    """,
    **{DATA: rows_sql(1, 2)},
)

case(
    "schema-unbalanced-parentheses",
    """
    description = "a schema file with a syntax error our reader sees: an error with file, offset and line"
    outcome = "error"
    messages = ['bad\\.t-schema\\.sql', 'at byte 17:', 'line 1', "this '\\\\(' is never closed"]
    [tables]
    """,
    **{"bad.t-schema.sql": "CREATE TABLE `t` (`id` int PRIMARY KEY, `v` varchar(10);\n", DATA: rows_sql(1, 2)},
)

case(
    "schema-rejected-by-the-server",
    """
    description = "a schema file the server cannot parse: an error naming the table, the file and the server's message"
    outcome = "error"
    messages = ["creating table `[^`]+`\\\\.`t`", 'You have an error in your SQL syntax', 'bad\\.t-schema\\.sql']
    [tables]
    """,
    **{"bad.t-schema.sql": "CREATE TABLE `t` (`id` int PRIMARY KEY, `v` varchar(10) NOT NULLL);\n", DATA: rows_sql(1, 2)},
)

case(
    "schema-without-create",
    """
    description = "a schema file with no CREATE TABLE: an error naming the file and what it found"
    outcome = "error"
    messages = ['bad\\.t-schema\\.sql', 'at byte \\d+', 'expected a CREATE TABLE statement', 'found SET NAMES, SET']
    [tables]
    """,
    **{"bad.t-schema.sql": "/*!40101 SET NAMES binary*/;\nSET @x = 1;\n", DATA: rows_sql(1, 2)},
)

case(
    "schema-with-extra-statements",
    """
    description = '''
    only the CREATE of a schema file runs: a DROP DATABASE, an INSERT and a DROP TABLE beside it never do, and
    the precheck report lists each of them with its file and line'''
    outcome = "ok"
    output = [
        'schema statements +warn +3 statements of schema files are not run',
        'bad\\.t-schema\\.sql line 1: DROP DATABASE',
        'bad\\.t-schema\\.sql line 7: INSERT',
        'bad\\.t-schema\\.sql line 8: DROP TABLE',
    ]
    [tables]
    t = [[1, "row1"], [2, "row2"]]
    """,
    **{
        "bad.t-schema.sql": "DROP DATABASE `@VICTIM@`;\n" + TABLE + "INSERT INTO `t` VALUES (99,'sneaky');\nDROP TABLE `t`;\n",
        DATA: rows_sql(1, 2),
    },
)

case(
    "schema-create-table-as-select",
    """
    description = "CREATE TABLE ... SELECT would fill the table from a query on the target: refused"
    outcome = "error"
    messages = ['bad\\.t-schema\\.sql', 'at byte 46:', 'CREATE TABLE \\.\\.\\. SELECT in a schema file']
    [tables]
    """,
    **{"bad.t-schema.sql": "CREATE TABLE `t` (`id` int, `v` varchar(200)) SELECT 1 AS id, CURRENT_USER() AS v;\n"},
)

case(
    "schema-create-table-like",
    """
    description = "CREATE TABLE ... LIKE would copy a table of the target (here mysql.user): refused"
    outcome = "error"
    messages = ['bad\\.t-schema\\.sql', 'at byte 17:', 'CREATE TABLE \\.\\.\\. LIKE in a schema file']
    [tables]
    """,
    **{"bad.t-schema.sql": "CREATE TABLE `t` LIKE `mysql`.`user`;\n", DATA: rows_sql(1, 2)},
)

case(
    "view-with-data-file",
    """
    description = "a data file for a view: an error naming the file and the view's schema file"
    outcome = "error"
    messages = ['bad\\.v\\.000000001\\.sql', 'bad\\.v-schema-view\\.sql', 'defines as a view']
    [tables]
    """,
    **{
        "bad.v-schema-view.sql": "CREATE VIEW `v` AS SELECT 1 AS `id`;\n",
        "bad.v.000000001.sql": "INSERT INTO `v` VALUES (1);\n",
    },
)

# --- hostile identifiers --------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


# name in the file name -> table name (Dumpling percent-escapes what a file name cannot hold)
_HOSTILE = {
    "tick`tock": "tick`tock",
    "semi;colon": "semi;colon",
    "quo'te\"s": "quo'te\"s",
    "x'; DROP DATABASE @VICTIM@; --": "x'; DROP DATABASE @VICTIM@; --",
    "y`; DROP DATABASE `@VICTIM@`; --": "y`; DROP DATABASE `@VICTIM@`; --",
    "with space": "with space",
    "ünï表": "ünï表",
    "pct%2Fslash%2Edot": "pct/slash.dot",
    "back\\slash": "back\\slash",
}
_hostile_files: dict[str, bytes | str] = {}
_hostile_tables = []
for _i, (_in_file, _name) in enumerate(_HOSTILE.items(), start=1):
    _quoted = "`" + _name.replace("`", "``") + "`"
    _hostile_files[f"bad.{_in_file}-schema.sql"] = f"CREATE TABLE {_quoted} (`id` int PRIMARY KEY, `v` varchar(60));\n"
    _hostile_files[f"bad.{_in_file}.000000001.sql"] = f"INSERT INTO {_quoted} VALUES ({_i},{_sql_string(_name)});\n"
    _hostile_tables.append(f"{_toml_string(_name)} = [[{_i}, {_toml_string(_name)}]]")
case(
    "hostile-table-names",
    """
    description = '''
    table names with backquotes, semicolons, quotes, SQL, spaces, unicode, a slash, a dot and a backslash
    arrive as names: each table exists with exactly that name and its row, and nothing else happens'''
    outcome = "ok"
    [tables]
    """
    + "\n".join(_hostile_tables)
    + "\n",
    **_hostile_files,
)

case(
    "hostile-database-name",
    """
    description = "a database name that is SQL, routed to the target: only the target database is written"
    outcome = "ok"
    route_schema = "*"
    [tables]
    t = [[1, "row1"], [2, "row2"]]
    """,
    **{
        "x'; DROP DATABASE @VICTIM@; --`-schema-create.sql": "CREATE DATABASE `x'; DROP DATABASE @VICTIM@; --``` ;\n",
        "x'; DROP DATABASE @VICTIM@; --`.t-schema.sql": TABLE,
        "x'; DROP DATABASE @VICTIM@; --`.t.000000001.sql": rows_sql(1, 2),
    },
)

case(
    "hostile-table-name-in-recovery-commands",
    """
    description = '''
    a table whose name holds a quote fails: the `lightning ctl` commands the message suggests must quote it
    so that a shell reads it as one argument (pasted as printed, the rest of the name would run)'''
    outcome = "error"
    messages = ["bad\\\\.x'; echo pwned; '\\\\.000000001\\\\.sql", 'at byte 30:', "found ';'"]
    rows_before_error = true
    [tables]
    "x'; echo pwned; '" = [[1]]
    [[syntax_errors]]
    table = "x'; echo pwned; '"
    path = "bad.x'; echo pwned; '.000000001.sql"
    offset = 30
    """,
    **{
        "bad.x'; echo pwned; '-schema.sql": "CREATE TABLE `x'; echo pwned; '` (`id` int PRIMARY KEY);\n",
        "bad.x'; echo pwned; '.000000001.sql": "INSERT INTO `t` VALUES (1),(2,;\n",
    },
)

case(
    "table-name-outside-the-bmp",
    """
    description = '''
    MariaDB and MySQL names cannot hold characters outside the Basic Multilingual Plane (an emoji): an
    error naming the table and the server's reason'''
    outcome = "error"
    messages = ["creating table `[^`]+`\\\\.`emoji😀`", 'Invalid utf8mb4 character string', 'bad\\.emoji😀-schema\\.sql']
    [tables]
    """,
    **{"bad.emoji😀-schema.sql": "CREATE TABLE `emoji😀` (`id` int);\n", "bad.emoji😀.000000001.sql": "INSERT INTO `emoji😀` VALUES (1);\n"},
)

# --- CSV ------------------------------------------------------------------------------------------------

CSV = "bad.t.000000001.csv"

case(
    "csv-unterminated-quote",
    """
    description = "a quoted CSV field that never closes: an error at its row"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.csv', 'at byte 15:', 'line 4', 'unterminated quoted field']
    rows_before_error = true
    [tables]
    t = [[1, "a"], [2, "b"]]
    [[syntax_errors]]
    table = "t"
    path = "bad.t.000000001.csv"
    offset = 15
    """,
    **{"bad.t-schema.sql": TABLE, CSV: 'id,v\n1,a\n2,b\n3,"c\n4,d\n'},
)

case(
    "csv-wrong-separator",
    """
    description = '''
    a ';'-separated file read with separator ',' gives one field per row: the first row stops the table
    (max-error 0) with a message that points at the separator'''
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.csv', 'byte 0', "Column count doesn't match", 'separator']
    [config.mydumper.csv]
    header = false
    [tables]
    t = []
    """,
    **{"bad.t-schema.sql": TABLE, CSV: "1;a\n2;b\n"},
)

case(
    "csv-header-names-a-missing-column",
    """
    description = "a CSV header naming a column the table lacks: an error naming the column and the file"
    outcome = "error"
    messages = ['bad\\.t\\.000000001\\.csv', "(no column 'extra'|column 'extra' is not a column of the target table)"]
    [tables]
    t = []
    """,
    **{"bad.t-schema.sql": TABLE, CSV: "id,v,extra\n1,a,x\n"},
)

case(
    "csv-more-fields-than-columns",
    """
    description = "a CSV row with more fields than columns is a type error; the other rows arrive"
    outcome = "ok"
    [config.lightning]
    max-error = 10
    [config.mydumper.csv]
    header = false
    [tables]
    t = [[1, "a"], [3, "c"]]
    [[type_errors]]
    table = "t"
    path = "bad.t.000000001.csv"
    offset = 4
    error = "Column count doesn't match"
    """,
    **{"bad.t-schema.sql": TABLE, CSV: "1,a\n2,b,zzz\n3,c\n"},
)

case(
    "csv-utf8-bom-and-crlf",
    """
    description = "a CSV file with a byte order mark and CRLF line endings imports as if it had neither"
    outcome = "ok"
    [tables]
    t = [[1, "a"], [2, "b"]]
    """,
    **{"bad.t-schema.sql": TABLE, CSV: "\ufeffid,v\r\n1,a\r\n2,b\r\n".encode()},
)

case(
    "csv-invalid-utf8",
    """
    description = "CSV bytes that are not UTF-8 for a utf8mb4 column: a type error, the good rows arrive"
    outcome = "ok"
    [config.lightning]
    max-error = 10
    [tables]
    t = [[1, "a"], [3, "c"]]
    [[type_errors]]
    table = "t"
    path = "bad.t.000000001.csv"
    offset = 9
    error = "Incorrect string value"
    """,
    **{
        "bad.t-schema.sql": TABLE.replace("varchar(10)", "varchar(10) CHARACTER SET utf8mb4"),
        CSV: b"id,v\n1,a\n2,\xff\xfe\n3,c\n",
    },
)

# --- a row larger than the server's max_allowed_packet --------------------------------------------------

_huge = b"INSERT INTO `t` VALUES (1,'small'),(2,'" + b"x" * (20 * 1024 * 1024) + b"');\n"
case(
    "row-larger-than-max-allowed-packet",
    """
    description = '''
    one 20 MiB row (the test server's max_allowed_packet is 16 MiB), in a .zst to keep the corpus small:
    an error that names the row and says to raise max_allowed_packet'''
    outcome = "error"
    messages = ["max_allowed_packet", 'bad\\.t\\.000000001\\.sql\\.zst', 'byte 35', 'SET GLOBAL max_allowed_packet']
    rows_before_error = true
    [tables]
    t = [[1, "small"]]
    """,
    **{
        "bad.t-schema.sql": TABLE.replace("varchar(10)", "longtext"),
        DATA + ".zst": zstandard.ZstdCompressor(level=19).compress(_huge),
    },
)


def main() -> None:
    for name, files in CASES.items():
        folder = HERE / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for file, content in files.items():
            (folder / file).write_bytes(content.encode() if isinstance(content, str) else content)
    print(f"{len(CASES)} cases written to {HERE}")


if __name__ == "__main__":
    main()
