"""Character sets: every string lands as the `mariadb` client would store it, and the checksum sees when not.

The `mariadb` client is the oracle: the same data file is loaded by it into one database and by the import
into another, and the tables must be equal (CHECKSUM TABLE and rows).
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from airflow_provider_lightning.core.charsets import (
    decode_latin1,
    encode_latin1,
    looks_like_utf8,
    lookup,
    server_conversion,
)
from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore
from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.ctl import error_ignore
from airflow_provider_lightning.core.errors import ChecksumMismatch, LightningError
from airflow_provider_lightning.core.failpoints import ENV_VAR, InjectedFault
from airflow_provider_lightning.core.importer.steps import run_import
from airflow_provider_lightning.core.importer.table import _charset_converter
from airflow_provider_lightning.core.mydump.sql_parser import SqlParser, charset_before

SOURCE = "src_charsets"
TABLE_DDL = (
    "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `u` varchar(40) CHARACTER SET utf8mb4 DEFAULT NULL,\n"
    "  `l` varchar(40) CHARACTER SET latin1 DEFAULT NULL,\n  `g` varchar(40) CHARACTER SET gbk DEFAULT NULL,\n"
    "  `b` varbinary(40) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
)


# --- MySQL's latin1 ------------------------------------------------------------------------------------


def test_mysql_latin1_keeps_the_five_bytes_windows_leaves_undefined_as_c1_controls():
    assert decode_latin1(b"\x81\x8d\x8f\x90\x9d") == "\x81\x8d\x8f\x90\x9d"
    assert decode_latin1(b"\x80\xe9") == "€é"


def test_mysql_latin1_reads_and_writes_every_byte():
    every = bytes(range(256))
    assert "\ufffd" not in decode_latin1(every)
    assert encode_latin1(decode_latin1(every)) == every


def test_server_conversion_turns_what_a_column_cannot_hold_into_question_marks():
    convert = server_conversion(lookup("utf8mb4"), lookup("latin1"))
    assert convert("café 中".encode()) == b"caf\xe9 ?"


def test_server_conversion_leaves_utf8_declared_as_latin1_unconverted_so_it_cannot_match():
    convert = server_conversion(lookup("latin1"), lookup("utf8mb4"))
    assert convert(b"caf\xe9") == "café".encode()
    assert convert("café".encode()) == "café".encode()  # not the double-encoded "cafÃ©"


def test_latin1_text_that_decodes_to_rare_utf8_letters_is_not_taken_for_utf8():
    # "Æ«" in latin1 is C6 AB, U+01AB in UTF-8: a letter of no living language, so it is latin1 text
    assert not looks_like_utf8(encode_latin1("Æ«"))
    assert not looks_like_utf8(encode_latin1("ß€"))
    assert all(looks_like_utf8(text.encode()) for text in ("café", "Łódź", "Sơn", "nǚ", "ștefan", "日本"))


# --- CSV conversion ---------------------------------------------------------------------------------------


def test_csv_gbk_fields_become_utf8():
    assert _charset_converter("gbk")("中文".encode("gbk")) == "中文".encode()


def test_csv_conversion_writes_data_invalid_char_replace_for_bytes_that_do_not_convert():
    assert _charset_converter("gb18030", "#")(b"ok\xff") == b"ok#"


def test_csv_utf8mb4_ascii_and_binary_are_not_converted():
    assert [_charset_converter(c) for c in ("utf8mb4", "ascii", "binary")] == [None, None, None]


# --- what an SQL file sets ------------------------------------------------------------------------------

MYSQLDUMP_FILE = (
    b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    b"/*!40101 SET NAMES utf8mb4 */;\n"
    b"INSERT INTO `t` VALUES (1,'a'),(2,'b');\n"
    b"/*!40101 SET NAMES latin1*/;\n"
    b"INSERT INTO `t` VALUES (3,'c');\n"
    b"SET character_set_client = binary;\n"
    b"INSERT INTO `t` VALUES (4,'d');\n"
    b"/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n"
    b"INSERT INTO `t` VALUES (5,'e');\n"
)


@pytest.mark.parametrize("block_size", [1, 5, 65536])
def test_each_row_is_read_in_the_charset_the_file_set_before_it(block_size):
    parser = SqlParser(io.BytesIO(MYSQLDUMP_FILE), path="f.sql", block_size=block_size)
    charsets = [parser.charset for _ in parser.iter_raw_rows()]
    assert charsets == ["utf8mb4", "utf8mb4", "latin1", "binary", None]


@pytest.mark.parametrize("row", range(5))
def test_a_resumed_chunk_finds_the_charset_in_force_where_it_starts(row):
    ends = [end for _, end in SqlParser(io.BytesIO(MYSQLDUMP_FILE), path="f.sql").iter_raw_rows()]
    expected = ["utf8mb4", "utf8mb4", "latin1", "binary", None][row]
    found = charset_before(lambda: io.BytesIO(MYSQLDUMP_FILE), ends[row], path="f.sql", block_size=7)
    assert found == expected


def test_a_charset_python_cannot_read_is_a_clear_error():
    parser = SqlParser(io.BytesIO(b"SET NAMES klingon;\nINSERT INTO t VALUES (1);"), path="f.sql")
    with pytest.raises(Exception, match=r"f\.sql.*'klingon'.*convert the file to utf8mb4"):
        list(parser.iter_raw_rows())


# --- whole imports against the mariadb client ----------------------------------------------------------


def _dump(tmp_path: Path, data: bytes, *, ext: str = "sql") -> Path:
    root = tmp_path / "dump"
    root.mkdir()
    (root / f"{SOURCE}-schema-create.sql").write_bytes(f"CREATE DATABASE `{SOURCE}`;\n".encode())
    (root / f"{SOURCE}.t-schema.sql").write_bytes(TABLE_DDL.encode())
    (root / f"{SOURCE}.t.000000001.{ext}").write_bytes(data)
    return root


def _import(
    mysql_server, root: Path, database: str, *, tidb: dict | None = None, store=None, extra=None, **mydumper
) -> None:
    config = load_config(
        data={
            "mydumper": {"data-source-dir": str(root), **mydumper},
            "tidb": {
                "host": mysql_server.host, "port": mysql_server.port,
                "user": mysql_server.user, "password": mysql_server.password, **(tidb or {}),
            },
            "routes": [{"schema-pattern": SOURCE, "target-schema": database}],
            **(extra or {}),
        }
    )
    run_import(config, store if store is not None else MemoryCheckpointStore())


def _load_with_client(mysql_server, database: str, data: bytes, *, client_charset: str = "utf8mb4") -> None:
    """What `mariadb --default-character-set=... db < file` stores: the oracle."""
    conn = mysql_server.connect(database, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute(TABLE_DDL)
    conn.close()
    subprocess.run(
        [
            "mariadb", f"--host={mysql_server.host}", f"--port={mysql_server.port}",
            f"--user={mysql_server.user}", f"--password={mysql_server.password}",
            f"--default-character-set={client_charset}", database,
        ],
        input=data, check=True, capture_output=True,
    )


def _table(mysql_server, database: str) -> tuple[int, list[tuple]]:
    conn = mysql_server.connect(database, charset="utf8mb4", use_unicode=False, conv={})
    with conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE `t` EXTENDED")
        checksum = cur.fetchone()[1]
        cur.execute("SELECT id, HEX(u), HEX(l), HEX(g), HEX(b) FROM `t` ORDER BY id")
        rows = list(cur.fetchall())
    conn.close()
    return checksum, rows


ROWS_UTF8 = "(1,'café','café','中文','café'),(2,'naïve – “q”','naïve','汉','\\0x')".encode()


def test_a_mysqldump_file_in_utf8mb4_lands_as_the_mariadb_client_stores_it(
    mysql_server, make_database, tmp_path
):
    data = b"/*!40101 SET NAMES utf8mb4 */;\nINSERT INTO `t` VALUES " + ROWS_UTF8 + b";\n"
    ours, oracle = make_database(), make_database()
    _import(mysql_server, _dump(tmp_path, data), ours)
    _load_with_client(mysql_server, oracle, data)
    assert _table(mysql_server, ours) == _table(mysql_server, oracle)
    assert _table(mysql_server, ours)[1][0][2] == b"636166E9"  # latin1 é, not the double-encoded C3A9


def test_a_latin1_file_that_changes_to_utf8mb4_mid_file_lands_as_the_client_stores_it(
    mysql_server, make_database, tmp_path
):
    data = (
        b"/*!40101 SET NAMES latin1 */;\nINSERT INTO `t` VALUES (1,'caf\xe9','caf\xe9 \x81','x','\xe9');\n"
        b"/*!40101 SET NAMES utf8mb4 */;\nINSERT INTO `t` VALUES " + ROWS_UTF8.replace(b"(1,", b"(3,") + b";\n"
    )
    ours, oracle = make_database(), make_database()
    _import(mysql_server, _dump(tmp_path, data), ours)
    _load_with_client(mysql_server, oracle, data)
    assert _table(mysql_server, ours) == _table(mysql_server, oracle)


def test_a_chunk_resumed_after_a_failure_reads_on_in_the_charset_the_file_set(
    mysql_server, make_database, tmp_path, monkeypatch
):
    rows = b",".join(b"(%d,'caf\xe9 %d','caf\xe9','x','\xe9')" % (i, i) for i in range(1, 31))
    data = b"/*!40101 SET NAMES latin1 */;\nINSERT INTO `t` VALUES " + rows + b";\n"
    ours, oracle = make_database(), make_database()
    failpoints = tmp_path / "fp.json"
    failpoints.write_text(json.dumps({"fail-after-batches": {"table": f"`{ours}`.`t`", "batches": 1}}))
    monkeypatch.setenv(ENV_VAR, str(failpoints))
    store = FileCheckpointStore(tmp_path / "cp.json")
    root = _dump(tmp_path, data)
    settings = {"tikv-importer": {"logical-import-batch-rows": 10}}
    with pytest.raises(InjectedFault):
        _import(mysql_server, root, ours, store=store, extra=settings)
    error_ignore(FileCheckpointStore(tmp_path / "cp.json"), "all")
    _import(mysql_server, root, ours, store=FileCheckpointStore(tmp_path / "cp.json"), extra=settings)
    _load_with_client(mysql_server, oracle, data)
    assert _table(mysql_server, ours) == _table(mysql_server, oracle)


def test_data_character_set_reads_an_sql_file_that_sets_nothing(mysql_server, make_database, tmp_path):
    data = b"INSERT INTO `t` VALUES (1,'caf\xe9','caf\xe9','x','\xe9');\n"
    ours, oracle = make_database(), make_database()
    _import(mysql_server, _dump(tmp_path, data), ours, **{"data-character-set": "latin1"})
    _load_with_client(mysql_server, oracle, data, client_charset="latin1")
    assert _table(mysql_server, ours) == _table(mysql_server, oracle)


def test_a_mydumper_binary_file_keeps_its_bytes(mysql_server, make_database, tmp_path):
    data = b"/*!40101 SET NAMES binary*/;\nINSERT INTO `t` VALUES (1,'caf\xc3\xa9','caf\xe9','x','\xff\x00');\n"
    ours = make_database()
    _import(mysql_server, _dump(tmp_path, data), ours, **{"data-character-set": "latin1"})
    assert _table(mysql_server, ours)[1] == [(b"1", b"636166C3A9", b"636166E9", b"78", b"FF00")]


def test_a_gbk_csv_lands_converted_into_every_text_column(mysql_server, make_database, tmp_path):
    data = "id,u,l,g,b\n1,中文,abc,中文,x\n2,汉字,def,汉,y\n".encode("gbk")
    ours = make_database()
    _import(mysql_server, _dump(tmp_path, data, ext="csv"), ours, **{"data-character-set": "gbk"})
    rows = _table(mysql_server, ours)[1]
    hexed = [text.hex().upper().encode() for text in ("中文".encode(), "中文".encode("gbk"))]
    assert rows[0] == (b"1", hexed[0], b"616263", hexed[1], b"78")


def test_a_gbk_csv_whose_characters_end_in_the_escape_byte_lands_whole(mysql_server, make_database, tmp_path):
    # 乗 is 0x81 0x5C: LOAD DATA ... CHARACTER SET gbk reads it as one character, not as 0x81 and an escape
    data = 'id,u,l,g,b\n1,"乗","a","乗\\"中","乗"\n2,乗,b,中文,"x\\\\"\n'.encode("gbk")
    ours = make_database()
    _import(mysql_server, _dump(tmp_path, data, ext="csv"), ours, **{"data-character-set": "gbk"})
    rows = _table(mysql_server, ours)[1]
    hexed = lambda text, codec: text.encode(codec).hex().upper().encode()  # noqa: E731
    assert rows == [
        (b"1", hexed("乗", "utf-8"), b"61", hexed('乗"中', "gbk"), b"815C"),
        (b"2", hexed("乗", "utf-8"), b"62", hexed("中文", "gbk"), b"785C"),
    ]


def test_a_gb18030_csv_lands_converted_also_beyond_gbk(mysql_server, make_database, tmp_path):
    data = "id,u,l,g,b\n1,中文😀€,abc,中文,x\n".encode("gb18030")
    ours = make_database()
    _import(mysql_server, _dump(tmp_path, data, ext="csv"), ours, **{"data-character-set": "gb18030"})
    assert _table(mysql_server, ours)[1][0][1] == "中文😀€".encode().hex().upper().encode()


def test_an_sql_file_in_gbk_lands_as_the_mariadb_client_stores_it(mysql_server, make_database, tmp_path):
    data = "SET NAMES gbk;\nINSERT INTO `t` VALUES (1,'中文','abc','中文','中');\n".encode("gbk")
    ours, oracle = make_database(), make_database()
    _import(mysql_server, _dump(tmp_path, data), ours)
    _load_with_client(mysql_server, oracle, data)
    assert _table(mysql_server, ours) == _table(mysql_server, oracle)


def test_a_latin1_csv_keeps_the_five_c1_bytes(mysql_server, make_database, tmp_path):
    data = b"id,u,l,g,b\n1,caf\xe9 \x81\x9d,caf\xe9 \x81,x,y\n"
    ours = make_database()
    _import(mysql_server, _dump(tmp_path, data, ext="csv"), ours, **{"data-character-set": "latin1"})
    rows = _table(mysql_server, ours)[1]
    assert rows[0][1:3] == ("café \x81\x9d".encode().hex().upper().encode(), b"636166E92081")


# --- deliberately wrong charsets fail, naming the table and the settings ---------------------------------
#
# The import session is strict (STRICT_TRANS_TABLES): bytes that are not valid in the declared charset are
# refused by the server as type errors; in a non-strict session the server stores '?' for them and the
# checksum fails instead. UTF-8 declared as latin1 converts without complaint, and only the checksum sees it.

_CHARSET_SETTINGS = ("SET NAMES", "data-character-set")


@pytest.mark.parametrize(
    ("data", "ext", "settings"),
    [
        pytest.param(
            "id,u,l,g,b\n1,café,x,x,x\n".encode(), "csv", {"data-character-set": "latin1"},
            id="utf8-csv-declared-latin1",
        ),
        pytest.param(
            b"SET NAMES latin1;\nINSERT INTO `t` VALUES (1,'caf\xc3\xa9','x','x','x');\n", "sql", {},
            id="utf8-sql-declared-latin1",
        ),
    ],
)
def test_utf8_declared_as_latin1_fails_the_checksum_as_double_encoded(
    mysql_server, make_database, tmp_path, data, ext, settings
):
    database = make_database()
    with pytest.raises(ChecksumMismatch) as failure:
        _import(mysql_server, _dump(tmp_path, data, ext=ext), database, **settings)
    message = str(failure.value)
    assert f"`{database}`.`t`" in message
    assert "1 values of column u look double-encoded" in message
    assert all(setting in message for setting in _CHARSET_SETTINGS)


@pytest.mark.parametrize(
    ("data", "ext", "settings"),
    [
        pytest.param(
            b"id,u,l,g,b\n1,caf\xe9,x,x,x\n", "csv", {"data-character-set": "utf8mb4"},
            id="latin1-csv-declared-utf8mb4",
        ),
        pytest.param(
            b"SET NAMES utf8mb4;\nINSERT INTO `t` VALUES (1,'caf\xe9','x','x','x');\n", "sql", {},
            id="latin1-sql-declared-utf8mb4",
        ),
    ],
)
def test_latin1_declared_as_utf8mb4_is_refused_naming_the_charset_settings(
    mysql_server, make_database, tmp_path, data, ext, settings
):
    database = make_database()
    with pytest.raises(LightningError) as failure:
        _import(mysql_server, _dump(tmp_path, data, ext=ext), database, **settings)
    message = str(failure.value)
    assert f"`{database}`.`t`" in message and "Incorrect string value" in message
    assert all(setting in message for setting in _CHARSET_SETTINGS)


def test_latin1_declared_as_utf8mb4_fails_the_checksum_in_a_non_strict_session(
    mysql_server, make_database, tmp_path
):
    data = b"SET NAMES utf8mb4;\nINSERT INTO `t` VALUES (1,'caf\xe9','x','x','x');\n"
    database = make_database()
    with pytest.raises(ChecksumMismatch) as failure:
        _import(mysql_server, _dump(tmp_path, data), database, tidb={"sql-mode": ""})
    message = str(failure.value)
    assert f"`{database}`.`t`" in message and "1 values of column u hold '?'" in message
    assert all(setting in message for setting in _CHARSET_SETTINGS)


def test_column_names_beyond_ascii_are_spelled_in_the_files_charset(mysql_server, make_database, tmp_path):
    root = tmp_path / "dump"
    root.mkdir()
    (root / f"{SOURCE}-schema-create.sql").write_bytes(f"CREATE DATABASE `{SOURCE}`;\n".encode())
    (root / f"{SOURCE}.t-schema.sql").write_bytes(
        "CREATE TABLE `t` (`id` int PRIMARY KEY, `naïve` varchar(10) CHARACTER SET latin1);\n".encode()
    )
    (root / f"{SOURCE}.t.000000001.sql").write_bytes(
        b"SET NAMES latin1;\nINSERT INTO `t` (`id`, `na\xefve`) VALUES (1,'caf\xe9');\n"
    )
    ours = make_database()
    _import(mysql_server, root, ours)
    conn = mysql_server.connect(ours, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute("SELECT `naïve` FROM `t`")
        assert cur.fetchall() == (("café",),)
    conn.close()


# The server (and `mariadb --default-character-set=gbk`) reads a GBK string a character at a time, so the
# second byte 0x5C of 乗 (0x815C) is part of the character, never an escape; a backslash after it is one.
GBK_815C = "乗".encode("gbk")  # 0x81 0x5C
GBK_BACKSLASH_ROWS = b",".join(
    (
        # the character, then the closing quote (not an escaped quote)
        b"(1,'" + GBK_815C + b"','x','" + GBK_815C + b"','" + GBK_815C + b"')",
        # the character, then an escaped n; a character that does not end in 0x5C, then an escaped n
        b"(2,'" + GBK_815C + b"\\n','x','" + GBK_815C + b"\\n','\xd6\xd0\\n')",
        # the character, then an escaped quote / a doubled quote / an escaped backslash
        b"(3,'" + GBK_815C + b"\\'" + GBK_815C + b"','x','" + GBK_815C + b"''" + GBK_815C + b"','"
        + GBK_815C + b"\\\\')",
    )
)


@pytest.mark.parametrize("declared", ["SET NAMES gbk", "/*!40101 SET NAMES gbk */", None])
def test_a_gbk_character_whose_second_byte_is_a_backslash_lands_as_the_client_stores_it(
    mysql_server, make_database, tmp_path, declared
):
    head = f"{declared};\n".encode() if declared else b""
    data = head + b"INSERT INTO `t` VALUES " + GBK_BACKSLASH_ROWS + b";\n"
    ours, oracle = make_database(), make_database()
    _import(mysql_server, _dump(tmp_path, data), ours, **({} if declared else {"data-character-set": "gbk"}))
    _load_with_client(mysql_server, oracle, data, client_charset="gbk")
    assert _table(mysql_server, ours) == _table(mysql_server, oracle)
    assert [row[3] for row in _table(mysql_server, ours)[1]] == [b"815C", b"815C0A", b"815C27815C"]


def test_a_create_table_under_set_names_gbk_lands_as_the_client_creates_it(
    mysql_server, make_database, tmp_path
):
    # mariadb-dump --default-character-set=gbk: the CREATE is UTF-8 under character_set_client = utf8mb4,
    # but the connection charset stays gbk, so the server stores the member ö (not in gbk) as '?', as the
    # data file (written in gbk) then spells it.
    schema = (
        "/*!40101 SET NAMES gbk */;\n/*!40101 SET character_set_client = utf8mb4 */;\n"
        "CREATE TABLE `t` (`id` int NOT NULL, `s` set('x','ö') DEFAULT NULL,\n"
        "  `e` enum('é','中') DEFAULT NULL,\n"
        "  PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    ).encode()
    data = b"/*!40101 SET NAMES gbk */;\nINSERT INTO `t` VALUES (1,'x,?','" + "中".encode("gbk") + b"');\n"
    root = _dump(tmp_path, data)
    (root / f"{SOURCE}.t-schema.sql").write_bytes(schema)
    ours, oracle = make_database(), make_database()
    _import(mysql_server, root, ours)
    for content in (schema, data):
        subprocess.run(
            [
                "mariadb", f"--host={mysql_server.host}", f"--port={mysql_server.port}",
                f"--user={mysql_server.user}", f"--password={mysql_server.password}", oracle,
            ],
            input=content, check=True, capture_output=True,
        )
    conn = mysql_server.connect(charset="utf8mb4")
    with conn.cursor() as cur:
        found = []
        for database in (ours, oracle):
            cur.execute(
                "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "ORDER BY ORDINAL_POSITION",
                (database,),
            )
            columns = cur.fetchall()
            cur.execute(f"SELECT id, s, e FROM `{database}`.`t`")
            found.append((columns, cur.fetchall()))
    conn.close()
    assert found[0] == found[1]
    assert found[0][0][1] == ("set('x','?')",)
