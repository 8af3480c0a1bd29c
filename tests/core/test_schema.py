"""Schema files: splitting them, finding what they create, and recreating it on a real MariaDB."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.errors import ConfigError, ParseError, TargetError
from airflow_provider_lightning.core.mydump.schema import (
    SchemaFile,
    ServerFlavor,
    ServerVersion,
    collation_for_server,
    parse_schema_file,
    quote_identifier,
    rewrite_create,
    schema_file_definer,
    split_statements,
    statements_not_run,
)
from tests.conftest import MySQLServer, run_mydumper

MARIADB_10_11 = ServerVersion(ServerFlavor.MARIADB, (10, 11, 19))
MARIADB_10_6 = ServerVersion(ServerFlavor.MARIADB, (10, 6, 16))
MYSQL_8 = ServerVersion(ServerFlavor.MYSQL, (8, 0, 36))
TIDB_7 = ServerVersion(ServerFlavor.TIDB, (7, 5, 0))

# The files mydumper 0.10 wrote for the examples in the project brief.
MYDUMPER_DATABASE = (
    b"CREATE DATABASE `probe1` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */;\n"
)
MYDUMPER_TABLE = (
    b"/*!40101 SET NAMES binary*/;\n"
    b"/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n"
    b"\n"
    b"/*!40103 SET TIME_ZONE='+00:00' */;\n"
    b"CREATE TABLE `t` (\n"
    b"  `id` int(11) NOT NULL,\n"
    b"  `j` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`j`)),\n"
    b"  PRIMARY KEY (`id`)\n"
    b") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;\n"
)
MYDUMPER_VIEW = (
    b"/*!40101 SET NAMES binary*/;\n"
    b"DROP TABLE IF EXISTS `v`;\n"
    b"DROP VIEW IF EXISTS `v`;\n"
    b"SET @PREV_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT;\n"
    b"SET character_set_client = utf8mb4;\n"
    b"CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER VIEW `v` AS "
    b"select `t`.`id` AS `id`,`t`.`s` AS `s` from `t`;\n"
    b"SET character_set_client = @PREV_CHARACTER_SET_CLIENT;\n"
)


def sqls(data: bytes) -> list[bytes]:
    return [s.sql for s in split_statements(data)]


# --- splitting ----------------------------------------------------------------------------------------


def test_statements_end_at_semicolons():
    assert sqls(b"SET a=1;\nSET b=2;\n") == [b"SET a=1", b"SET b=2"]


@pytest.mark.parametrize(
    "statement",
    [
        b"SELECT 'a;b'",
        b'SELECT "a;b"',
        b"SELECT `a;b`",
        b"SELECT 1 /* ; */ + 1",
        b"SELECT 1 -- ;\n + 1",
        b"SELECT 1 # ;\n + 1",
    ],
)
def test_semicolons_inside_quotes_and_comments_do_not_end_a_statement(statement):
    assert sqls(statement + b";SELECT 2;") == [statement, b"SELECT 2"]


@pytest.mark.parametrize(
    "statement",
    [
        b"SELECT 'it''s;'",
        b"SELECT 'it\\'s;'",
        b'SELECT "say ""x;"""',
        b"SELECT `a``;b`",
        b"SELECT 'back\\\\'",
    ],
)
def test_escaped_and_doubled_quotes_stay_inside_their_quotes(statement):
    assert sqls(statement + b";SELECT 2;") == [statement, b"SELECT 2"]


def test_two_dashes_without_a_space_are_not_a_comment():
    assert sqls(b"SELECT 1--1;SELECT 2;") == [b"SELECT 1--1", b"SELECT 2"]


def test_comments_before_a_statement_are_not_part_of_it():
    assert sqls(b"-- header\n# more\n/* block; */\n  CREATE TABLE t (a int);") == [b"CREATE TABLE t (a int)"]


def test_executable_comments_are_kept_in_the_statement():
    assert sqls(MYDUMPER_TABLE)[:3] == [
        b"/*!40101 SET NAMES binary*/",
        b"/*!40014 SET FOREIGN_KEY_CHECKS=0*/",
        b"/*!40103 SET TIME_ZONE='+00:00' */",
    ]


def test_statement_offset_and_line_point_at_its_first_byte():
    data = b"SET a=1;\n\n  -- note\n  CREATE TABLE t (\n a int);"
    create = split_statements(data)[1]
    assert data[create.offset :].startswith(b"CREATE TABLE")
    assert create.line == 4


def test_a_last_statement_without_semicolon_is_kept():
    assert sqls(b"SET a=1;\nCREATE TABLE t (a int)\n\n") == [b"SET a=1", b"CREATE TABLE t (a int)"]


def test_comments_and_blanks_after_the_last_semicolon_are_no_statement():
    assert sqls(b"SET a=1;\n-- end\n/* done */\n\n") == [b"SET a=1"]


def test_delimiter_command_lets_a_body_contain_semicolons():
    data = (
        b"DELIMITER ;;\n"
        b"CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = ';'; END ;;\n"
        b"DELIMITER ;\n"
        b"SET a=1;\n"
    )
    assert sqls(data) == [
        b"CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = ';'; END",
        b"SET a=1",
    ]


def test_mariadb_dump_sandbox_line_is_not_a_statement():
    data = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\n"
    assert sqls(data) == [b"/*!40101 SET NAMES utf8mb4 */"]


@pytest.mark.parametrize(
    ("data", "offset", "line", "what"),
    [
        (b"SET a=1;\nSELECT 'abc;\n", 16, 2, "unterminated string"),
        (b"SET a=1;\nSELECT `abc;\n", 16, 2, "unterminated quoted identifier"),
        (b'SET a=1;\nSELECT "abc\\";\n', 16, 2, "unterminated string"),
        (b"SET a=1;\n\nSELECT 1 /* abc;\n", 19, 3, "unterminated comment"),
        (b"SET a=1;\n/*!40101 SET b=2;\n", 9, 2, "unterminated executable comment"),
        (b"/*!40101 SET b=2", 0, 1, "unterminated executable comment"),
    ],
)
def test_unterminated_quote_or_comment_is_a_parse_error_where_it_starts(data, offset, line, what):
    with pytest.raises(ParseError, match=what) as caught:
        split_statements(data, path="db.t-schema.sql")
    assert (caught.value.path, caught.value.offset, caught.value.line) == ("db.t-schema.sql", offset, line)
    assert "db.t-schema.sql at byte" in str(caught.value)


def test_delimiter_command_without_a_delimiter_is_a_parse_error():
    with pytest.raises(ParseError, match="DELIMITER"):
        split_statements(b"DELIMITER \nSET a=1;", path="f.sql")


_statement_piece = st.one_of(
    st.from_regex(rb"\A[A-Za-z0-9_ ,()=.@]{1,12}\Z"),
    st.binary(max_size=8).map(lambda b: b"'" + b.replace(b"\\", b"\\\\").replace(b"'", b"''") + b"'"),
    st.binary(max_size=8).map(lambda b: b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b"\\\"") + b'"'),
    st.binary(max_size=8).map(lambda b: b"`" + b.replace(b"`", b"``") + b"`"),
    st.binary(max_size=8).filter(lambda b: b"*/" not in b).map(lambda b: b"/* " + b + b" */"),
    st.binary(max_size=8).filter(lambda b: b"\n" not in b).map(lambda b: b"-- " + b + b"\n"),
    # The content of an executable comment is SQL, with its own quotes.
    st.from_regex(rb"\A[A-Za-z0-9_ ,()=.@]{0,12}\Z").map(lambda b: b"/*!40101 " + b + b"*/"),
)
_statement = st.lists(_statement_piece, min_size=1, max_size=6).map(
    lambda parts: b"X " + b" ".join(parts) + b" Y"
)


@given(st.lists(_statement, min_size=1, max_size=5))
def test_joined_statements_split_back_into_the_same_statements(statements):
    data = b";\n".join(statements) + b";"
    split = split_statements(data)
    assert [s.sql for s in split] == statements
    assert all(data[s.offset :].startswith(s.sql) for s in split)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(alphabet="'\"`;-#/*!\\\n abD", max_size=200).map(str.encode),
    )
)
def test_any_input_splits_or_raises_a_parse_error(data):
    try:
        statements = split_statements(data, path="fuzz.sql")
    except ParseError as exc:
        assert exc.path == "fuzz.sql" and 0 <= exc.offset <= len(data)
    else:
        assert all(0 <= s.offset < len(data) and s.sql for s in statements)


# --- reading schema files -----------------------------------------------------------------------------


def test_database_file_gives_the_database_name():
    schema_file = parse_schema_file(MYDUMPER_DATABASE, path="probe1-schema-create.sql", kind="database")
    assert (schema_file.kind, schema_file.schema, schema_file.name) == ("database", None, "probe1")


def test_table_file_gives_the_table_name_and_its_create_statement():
    schema_file = parse_schema_file(MYDUMPER_TABLE, path="probe1.t-schema.sql", kind="table")
    assert (schema_file.schema, schema_file.name) == (None, "t")
    assert schema_file.create_sql.startswith(b"CREATE TABLE `t` (")
    assert schema_file.create_sql.endswith(b"COLLATE=utf8mb4_general_ci")
    assert len(schema_file.statements) == 4 and schema_file.path == "probe1.t-schema.sql"


def test_view_file_gives_the_view_name_and_keeps_every_statement():
    schema_file = parse_schema_file(MYDUMPER_VIEW, path="probe1.v-schema-view.sql", kind="view")
    assert schema_file.name == "v"
    assert schema_file.create_sql.startswith(b"CREATE ALGORITHM=UNDEFINED DEFINER=")
    assert [s.sql[:14] for s in schema_file.statements][1:3] == [b"DROP TABLE IF ", b"DROP VIEW IF E"]


@pytest.mark.parametrize(
    ("create", "schema", "name"),
    [
        (b"CREATE TABLE `db`.`t` (a int)", "db", "t"),
        (b"CREATE TABLE db.t (a int)", "db", "t"),
        (b"CREATE TABLE plain (a int)", None, "plain"),
        (b"CREATE TABLE `a``b;c` (a int)", None, "a`b;c"),
        (b"CREATE TABLE `\xf0\x9f\x90\xac`.`\xe9\xad\x9a\xf0\x9f\x90\x9f` (a int)", "🐬", "魚🐟"),
        (b"create or replace table if not exists `t` (a int)", None, "t"),
        (b"CREATE /*!32312 IF NOT EXISTS*/ `t` (a int)", None, None),
    ],
)
def test_table_names_are_unquoted(create, schema, name):
    if name is None:
        with pytest.raises(ParseError):
            parse_schema_file(create, path="f.sql", kind="table")
        return
    schema_file = parse_schema_file(create, path="f.sql", kind="table")
    assert (schema_file.schema, schema_file.name) == (schema, name)


def test_mysqldump_create_database_with_if_not_exists_in_a_comment_is_read():
    schema_file = parse_schema_file(
        b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;",
        path="shop-schema-create.sql",
        kind="database",
    )
    assert schema_file.name == "shop"


@pytest.mark.parametrize(
    "definer",
    [b"`root`@`127.0.0.1`", b"'app'@'%'", b"CURRENT_USER", b"CURRENT_USER()", b"app@localhost", b"`a_role`"],
)
def test_view_names_are_read_past_any_definer(definer):
    data = b"CREATE ALGORITHM=MERGE DEFINER=" + definer + b" SQL SECURITY INVOKER VIEW `s`.`v` AS select 1"
    schema_file = parse_schema_file(data, path="s.v-schema-view.sql", kind="view")
    assert (schema_file.schema, schema_file.name) == ("s", "v")


def test_file_without_the_expected_create_is_a_parse_error_saying_what_was_expected():
    data = b"/*!40101 SET NAMES binary*/;\n/*!40014 SET FOREIGN_KEY_CHECKS=0*/;\n"
    with pytest.raises(ParseError, match=r"expected a CREATE TABLE statement.*found SET NAMES") as caught:
        parse_schema_file(data, path="db.t-schema.sql", kind="table")
    assert caught.value.path == "db.t-schema.sql" and caught.value.offset == len(data)


def test_create_of_another_kind_does_not_count():
    with pytest.raises(ParseError, match="expected a CREATE VIEW statement"):
        parse_schema_file(MYDUMPER_TABLE, path="db.t-schema-view.sql", kind="view")


def test_second_create_of_the_same_kind_is_a_parse_error_at_the_second():
    data = b"CREATE TABLE a (x int);\nCREATE TABLE b (x int);\n"
    with pytest.raises(ParseError, match="second CREATE TABLE") as caught:
        parse_schema_file(data, path="f.sql", kind="table")
    assert (caught.value.offset, caught.value.line) == (24, 2)


@pytest.mark.parametrize(
    ("data", "culprit", "line", "message"),
    [
        (b"SET a=1;\nCREATE TABLE t (\n  a int,\n  b decimal(10,2;", b"(", 4, "'\\(' is never closed"),
        (b"SET a=1;\nCREATE TABLE t (\n  a int)\n);", b")", 4, "'\\)' closes nothing"),
    ],
)
def test_unbalanced_parentheses_are_a_parse_error_at_the_parenthesis(data, culprit, line, message):
    with pytest.raises(ParseError, match=message) as caught:
        parse_schema_file(data, path="f.sql", kind="table")
    assert (caught.value.offset, caught.value.line) == (data.rindex(culprit), line)


def test_unterminated_quote_in_a_schema_file_is_a_parse_error():
    with pytest.raises(ParseError, match="unterminated string") as caught:
        parse_schema_file(b"CREATE TABLE t (a varchar(3) DEFAULT 'x);", path="f.sql", kind="table")
    assert caught.value.offset == 37


def test_table_without_columns_is_a_parse_error():
    with pytest.raises(ParseError, match="CREATE TABLE without columns"):
        parse_schema_file(b"CREATE TABLE `t`;", path="f.sql", kind="table")


def test_view_without_a_query_is_a_parse_error():
    with pytest.raises(ParseError, match="without AS"):
        parse_schema_file(b"CREATE VIEW `v`;", path="f.sql", kind="view")


_names = st.text(min_size=1, max_size=20)


@given(_names, _names)
def test_any_quoted_name_reads_back_as_itself(schema, name):
    create = f"CREATE TABLE {quote_identifier(schema)}.{quote_identifier(name)} (a int);".encode("utf-8")
    schema_file = parse_schema_file(create, path="f.sql", kind="table")
    assert (schema_file.schema, schema_file.name) == (schema, name)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.text(alphabet="'\"`;()-#/*!.=@ abCREATtbleVIW\n", max_size=120).map(str.encode),
        st.text(alphabet="'\"`;()-#/*!.= xy\n", max_size=80).map(lambda s: b"CREATE TABLE " + s.encode()),
    )
)
def test_any_input_parses_or_raises_a_parse_error(data):
    try:
        schema_file = parse_schema_file(data, path="fuzz.sql", kind="table")
    except ParseError as exc:
        assert exc.path == "fuzz.sql" and 0 <= exc.offset <= len(data)
    else:
        assert schema_file.kind == "table"


# --- character sets -----------------------------------------------------------------------------------

GB18030_TABLE = "/*!40101 SET NAMES binary*/;\nCREATE TABLE `表格` (`名字` varchar(10) COMMENT '注释');\n"


def test_auto_reads_a_non_utf8_file_as_gb18030():
    schema_file = parse_schema_file(GB18030_TABLE.encode("gb18030"), path="f.sql", kind="table")
    assert schema_file.name == "表格"
    assert schema_file.create_sql == GB18030_TABLE.split(";\n")[1].encode("utf-8")


def test_statement_offsets_of_a_converted_file_point_into_the_file():
    data = GB18030_TABLE.encode("gb18030")
    create = parse_schema_file(data, path="f.sql", kind="table").statements[1]
    assert data[create.offset :].startswith("CREATE TABLE `表格`".encode("gb18030"))


@given(st.lists(st.text(alphabet="表格名字注释aé ", min_size=1, max_size=6), min_size=1, max_size=4))
def test_gb18030_statement_offsets_point_at_the_statements(comments):
    text = "".join(f"SET @x{i} = '{c}';\n" for i, c in enumerate(comments)) + "CREATE TABLE t (a int);"
    data = text.encode("gb18030")
    schema_file = parse_schema_file(data, path="f.sql", kind="table", charset="gb18030")
    for statement in schema_file.statements:
        assert data[statement.offset :].startswith(statement.sql.decode("utf-8").encode("gb18030"))


def test_errors_in_a_converted_file_name_the_offset_in_the_file():
    data = "SET @a = '表格';\nCREATE TABLE `t` (a int".encode("gb18030") + b"\n;"
    with pytest.raises(ParseError, match="never closed") as caught:
        parse_schema_file(data, path="f.sql", kind="table", charset="gb18030")
    assert data[caught.value.offset : caught.value.offset + 1] == b"("


def test_utf8mb4_rejects_a_file_that_is_not_utf8_at_the_first_bad_byte():
    data = GB18030_TABLE.encode("gb18030")
    with pytest.raises(ParseError, match="not valid UTF-8") as caught:
        parse_schema_file(data, path="f.sql", kind="table", charset="utf8mb4")
    assert caught.value.offset == data.index("表".encode("gb18030")) and caught.value.line == 2


def test_auto_rejects_a_file_that_is_neither_utf8_nor_gb18030():
    data = b"CREATE TABLE `t\x80\xff` (a int);"
    with pytest.raises(ParseError, match="neither UTF-8") as caught:
        parse_schema_file(data, path="f.sql", kind="table")
    assert caught.value.offset == 15


def test_latin1_is_read_as_windows_1252():
    data = "CREATE TABLE `café€` (a int);".encode("cp1252")
    assert parse_schema_file(data, path="f.sql", kind="table", charset="latin1").name == "café€"


def test_latin1_keeps_the_bytes_windows_leaves_undefined_as_mysql_does():
    data = b"CREATE TABLE `t` (a varchar(3) DEFAULT '\x81\x8d\x9d');"
    schema_file = parse_schema_file(data, path="f.sql", kind="table", charset="latin1")
    assert schema_file.create_sql.endswith("DEFAULT '\x81\x8d\x9d')".encode())


def test_gbk_is_read_as_gbk_and_offsets_count_its_bytes():
    data = "SET NAMES gbk;\nCREATE TABLE `中文` (a int);".encode("gbk")
    schema_file = parse_schema_file(data, path="f.sql", kind="table", charset="gbk")
    assert schema_file.name == "中文"
    assert data[schema_file.statements[1].offset :].startswith(b"CREATE")


def test_binary_passes_the_bytes_through():
    data = b"CREATE TABLE `t\xff` (a varchar(3) DEFAULT '\xfe');"
    schema_file = parse_schema_file(data, path="f.sql", kind="table", charset="binary")
    assert schema_file.create_sql == data[:-1]
    statement = rewrite_create(schema_file, target_schema="s", target_name="t", server=MARIADB_10_11)[0]
    assert statement.encode("utf-8", "surrogateescape").endswith(b"DEFAULT '\xfe')")


def test_binary_names_that_are_not_utf8_keep_their_bytes_as_target_names():
    schema_file = parse_schema_file(b"CREATE TABLE `t\xff` (a int);", path="f.sql", kind="table", charset="binary")
    [create] = rewrite_create(schema_file, target_schema="s", target_name=schema_file.name, server=MYSQL_8)
    assert create.encode("utf-8", "surrogateescape") == b"CREATE TABLE IF NOT EXISTS `s`.`t\xff` (a int)"


def test_utf8_byte_order_mark_is_skipped_and_offsets_count_it():
    data = b"\xef\xbb\xbfSET a=1;\nCREATE TABLE t (a int);"
    schema_file = parse_schema_file(data, path="f.sql", kind="table")
    assert schema_file.statements[0].sql == b"SET a=1" and schema_file.statements[0].offset == 3
    assert data[schema_file.statements[1].offset :].startswith(b"CREATE")


def test_unknown_character_set_is_a_config_error():
    with pytest.raises(ConfigError, match="mydumper.character-set"):
        parse_schema_file(MYDUMPER_TABLE, path="f.sql", kind="table", charset="utf16")


# --- rewriting for the target -------------------------------------------------------------------------


def test_quote_identifier_doubles_backquotes():
    assert quote_identifier("a`b") == "`a``b`"


def test_database_becomes_create_if_not_exists_under_the_target_name_with_its_options():
    schema_file = parse_schema_file(MYDUMPER_DATABASE, path="f.sql", kind="database")
    assert rewrite_create(schema_file, target_schema="new`db", server=MARIADB_10_11) == [
        "CREATE DATABASE IF NOT EXISTS `new``db` "
        "/*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */"
    ]


def test_table_gets_if_not_exists_and_the_qualified_target_name():
    schema_file = parse_schema_file(MYDUMPER_TABLE, path="f.sql", kind="table")
    [create] = rewrite_create(schema_file, target_schema="s", target_name="t2", server=MARIADB_10_11)
    assert create.startswith("CREATE TABLE IF NOT EXISTS `s`.`t2` (\n  `id` int(11) NOT NULL,")
    assert create.endswith(schema_file.create_sql.decode()[len("CREATE TABLE `t`") :])


def test_qualified_or_replace_table_becomes_if_not_exists_under_the_target_name():
    schema_file = parse_schema_file(b"CREATE OR REPLACE TABLE `old`.`t` (a int);", path="f.sql", kind="table")
    assert rewrite_create(schema_file, target_schema="s", target_name="t", server=MARIADB_10_11) == [
        "CREATE TABLE IF NOT EXISTS `s`.`t` (a int)"
    ]


def test_view_comes_after_use_drops_nothing_and_reads_as_its_invoker():
    schema_file = parse_schema_file(MYDUMPER_VIEW, path="f.sql", kind="view")
    assert rewrite_create(schema_file, target_schema="s", target_name="v2", server=MARIADB_10_11) == [
        "USE `s`",
        "CREATE OR REPLACE ALGORITHM=UNDEFINED SQL SECURITY INVOKER VIEW `s`.`v2` AS "
        "select `t`.`id` AS `id`,`t`.`s` AS `s` from `t`",
    ]


@pytest.mark.parametrize("definer", [b"'app'@'%'", b"CURRENT_USER()", b"app@localhost", b"`some_role`"])
def test_view_loses_any_definer_and_reads_as_its_invoker(definer):
    data = b"CREATE DEFINER=" + definer + b" SQL SECURITY DEFINER VIEW IF NOT EXISTS `v` (`a`) AS select 1"
    schema_file = parse_schema_file(data, path="f.sql", kind="view")
    assert rewrite_create(schema_file, target_schema="s", target_name="v", server=MYSQL_8)[1] == (
        "CREATE OR REPLACE SQL SECURITY INVOKER VIEW `s`.`v` (`a`) AS select 1"
    )


@pytest.mark.parametrize("definer", [b"'app'@'%'", b"CURRENT_USER()", b"app@localhost", b"`some_role`"])
def test_keep_definer_keeps_the_definer_and_security_as_written(definer):
    data = b"CREATE DEFINER=" + definer + b" SQL SECURITY DEFINER VIEW `v` AS select 1"
    schema_file = parse_schema_file(data, path="f.sql", kind="view")
    statements = rewrite_create(schema_file, target_schema="s", target_name="v", server=MYSQL_8, keep_definer=True)
    assert statements[1] == (
        "CREATE OR REPLACE DEFINER=" + definer.decode() + " SQL SECURITY DEFINER VIEW `s`.`v` AS select 1"
    )


@pytest.mark.parametrize(
    ("definer", "account"),
    [
        (b"'app'@'%'", "'app'@'%'"),
        (b"`root`@`localhost`", "'root'@'localhost'"),
        (b"app@localhost", "'app'@'localhost'"),
        (b"'o''neil'@'%'", "'o''neil'@'%'"),
        (b"CURRENT_USER", "CURRENT_USER"),
    ],
)
def test_the_definer_of_a_schema_file_is_read_as_an_account(definer, account):
    data = b"/*!50013 DEFINER=" + definer + b" SQL SECURITY DEFINER */ VIEW `v` AS select 1"
    schema_file = parse_schema_file(b"CREATE " + data, path="f.sql", kind="view")
    assert schema_file_definer(schema_file) == account
    no_definer = parse_schema_file(b"CREATE VIEW `v` AS select 1", path="f.sql", kind="view")
    assert schema_file_definer(no_definer) is None


def test_statements_beside_the_create_are_listed_and_the_dumpers_own_are_marked_by_design():
    data = (
        b"/*!40101 SET NAMES binary*/;\nSET character_set_client = utf8mb4;\n"
        b"DROP TABLE IF EXISTS `v`;\n/*!50001 DROP VIEW IF EXISTS `v`*/;\nCREATE TABLE `v` (`a` int);\n"
        b"GRANT ALL ON *.* TO 'x'@'%';\nDROP DATABASE `victim`;\nINSERT INTO t VALUES (1);\n"
        b"CREATE VIEW `v` AS select 1;\nSET GLOBAL max_connections = 1;\n"
        b"CREATE DEFINER=root@localhost TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;\n"
    )
    schema_file = parse_schema_file(data, path="f.sql", kind="view")
    listed = [(s.what, s.by_design, s.statement.line) for s in statements_not_run(schema_file)]
    assert listed == [
        ("DROP TABLE", True, 3),
        ("DROP VIEW", True, 4),
        ("CREATE TABLE", True, 5),
        ("GRANT", False, 6),
        ("DROP DATABASE", False, 7),
        ("INSERT", False, 8),
        ("SET GLOBAL", False, 10),
        ("CREATE TRIGGER", False, 11),
    ]


def test_dropping_another_object_is_never_by_design():
    data = b"DROP TABLE IF EXISTS `other`;\nDROP TABLE `t`;\nCREATE TABLE `t` (a int);\n"
    schema_file = parse_schema_file(data, path="f.sql", kind="table")
    assert [(s.what, s.by_design) for s in statements_not_run(schema_file)] == [
        ("DROP TABLE", False),
        ("DROP TABLE", False),
    ]


def test_view_query_names_qualified_with_its_source_schema_follow_it_to_the_target_schema():
    data = (
        b"CREATE VIEW `v` AS select `src`.`t`.`id` AS `src` from `t` join `other`.`u` join src.w "
        b"where 'src.' = `t`.`src`"
    )
    schema_file = parse_schema_file(data, path="src.v-schema-view.sql", kind="view")
    statements = rewrite_create(
        schema_file, target_schema="dst", target_name="v", server=MYSQL_8, source_schema="src"
    )
    assert statements[1] == (
        "CREATE OR REPLACE SQL SECURITY INVOKER VIEW `dst`.`v` AS select `dst`.`t`.`id` AS `src` from `t` join `other`.`u` "
        "join `dst`.w where 'src.' = `t`.`src`"
    )


MYSQLDUMP_VIEW = (
    b"/*!50001 DROP VIEW IF EXISTS `v`*/;\n"
    b"/*!50001 SET character_set_client      = utf8mb4 */;\n"
    b"/*!50001 CREATE ALGORITHM=UNDEFINED */\n"
    b"/*!50013 DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER */\n"
    b"/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */;\n"
)


@pytest.mark.parametrize("server", [MARIADB_10_11, MYSQL_8, TIDB_7])
def test_mysqldump_view_in_executable_comments_is_opened_up_for_the_target(server):
    schema_file = parse_schema_file(MYSQLDUMP_VIEW, path="f.sql", kind="view")
    create = rewrite_create(schema_file, target_schema="s", target_name="v", server=server)[1]
    assert re.sub(r"\s+", " ", create) == (
        "CREATE OR REPLACE ALGORITHM=UNDEFINED SQL SECURITY INVOKER VIEW `s`.`v` "
        "AS select `t`.`id` AS `id` from `t`"
    )


def test_executable_comment_the_target_skips_drops_the_create():
    schema_file = SchemaFile("view", None, "v", b"/*!99999 CREATE VIEW `v` AS select 1 */", [], "f.sql")
    with pytest.raises(ParseError, match="does not create a view on mariadb 10.11.19"):
        rewrite_create(schema_file, target_schema="s", target_name="v", server=MARIADB_10_11)


@pytest.mark.parametrize(
    ("collation", "server", "expected"),
    [
        ("utf8mb4_0900_ai_ci", MARIADB_10_11, "utf8mb4_uca1400_nopad_ai_ci"),
        ("utf8mb4_0900_as_cs", MARIADB_10_11, "utf8mb4_uca1400_nopad_as_cs"),
        ("utf8mb4_0900_as_ci", MARIADB_10_11, "utf8mb4_uca1400_nopad_as_ci"),
        ("UTF8MB4_0900_BIN", MARIADB_10_11, "utf8mb4_nopad_bin"),
        ("utf8mb4_de_pb_0900_ai_ci", MARIADB_10_11, "utf8mb4_uca1400_german2_nopad_ai_ci"),
        ("utf8mb4_es_trad_0900_as_cs", MARIADB_10_11, "utf8mb4_uca1400_spanish2_nopad_as_cs"),
        ("utf8mb4_ja_0900_as_cs_ks", MARIADB_10_11, "utf8mb4_uca1400_nopad_as_cs"),
        ("utf8mb4_0900_ai_ci", MARIADB_10_6, "utf8mb4_unicode_520_nopad_ci"),
        ("utf8mb4_sv_0900_as_cs", MARIADB_10_6, "utf8mb4_nopad_bin"),
        ("utf8mb4_general_ci", MARIADB_10_11, "utf8mb4_general_ci"),
        ("utf8mb4_uca1400_ai_ci", MYSQL_8, "utf8mb4_0900_ai_ci"),
        ("utf8mb4_uca1400_swedish_nopad_as_ci", MYSQL_8, "utf8mb4_sv_0900_as_cs"),
        ("utf8mb4_uca1400_ai_cs", MYSQL_8, "utf8mb4_0900_as_cs"),
        ("utf8mb4_nopad_bin", MYSQL_8, "utf8mb4_0900_bin"),
        ("utf8mb4_unicode_520_nopad_ci", MYSQL_8, "utf8mb4_unicode_520_ci"),
        ("utf8mb4_0900_ai_ci", MYSQL_8, "utf8mb4_0900_ai_ci"),
        ("utf8mb4_uca1400_ai_ci", TIDB_7, "utf8mb4_uca1400_ai_ci"),
    ],
)
def test_collation_for_server_maps_what_the_target_lacks(collation, server, expected):
    assert collation_for_server(collation, server) == expected


MYSQL8_TABLE = (
    b"/*!40101 SET NAMES binary*/;\n"
    b"CREATE TABLE `m8` (\n"
    b"  `id` bigint unsigned NOT NULL AUTO_INCREMENT,\n"
    b"  `name` varchar(64) COLLATE utf8mb4_0900_ai_ci NOT NULL,\n"
    b"  `code` varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin DEFAULT NULL,\n"
    b"  `sv` varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_sv_0900_as_cs DEFAULT NULL,\n"
    b"  `hidden` int DEFAULT NULL /*!80023 INVISIBLE */,\n"
    b"  `pt` point NOT NULL /*!80003 SRID 4326 */,\n"
    b"  `pt2` point DEFAULT NULL SRID 4326,\n"
    b"  `created` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
    b"  PRIMARY KEY (`id`) /*T![clustered_index] CLUSTERED */,\n"
    b"  UNIQUE KEY `uq_name` (`name`)\n"
    b") ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci "
    b"/*!80016 ENCRYPTION='N' */ ENCRYPTION='N', COMPRESSION='zlib' /*T! SHARD_ROW_ID_BITS=4 */;\n"
)
MYSQL8_DATABASE = (
    b"CREATE DATABASE `m8db` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci */ "
    b"/*!80016 DEFAULT ENCRYPTION='N' */ DEFAULT ENCRYPTION='N';\n"
)


def test_mysql8_only_options_are_removed_for_mariadb():
    schema_file = parse_schema_file(MYSQL8_TABLE, path="f.sql", kind="table")
    [create] = rewrite_create(schema_file, target_schema="s", target_name="m8", server=MARIADB_10_11)
    assert "ENCRYPTION" not in create and "COMPRESSION" not in create and "SRID" not in create
    assert "/*!80023 INVISIBLE */" in create and "/*T! SHARD_ROW_ID_BITS=4 */" in create


def test_tidb_gets_the_statement_as_written():
    schema_file = parse_schema_file(MYSQL8_TABLE, path="f.sql", kind="table")
    [create] = rewrite_create(schema_file, target_schema="s", target_name="m8", server=TIDB_7)
    rest = schema_file.create_sql.decode()[len("CREATE TABLE `m8`") :]
    assert create == "CREATE TABLE IF NOT EXISTS `s`.`m8`" + rest


@pytest.mark.parametrize(
    ("version", "flavor", "parts"),
    [
        ("10.11.19-MariaDB-0+deb12u1", ServerFlavor.MARIADB, (10, 11, 19)),
        ("5.5.5-10.11.19-MariaDB", ServerFlavor.MARIADB, (10, 11, 19)),
        ("8.0.36", ServerFlavor.MYSQL, (8, 0, 36)),
        ("8.0.11-TiDB-v7.5.0", ServerFlavor.TIDB, (7, 5, 0)),
        ("5.7.25-TiDB-v6.5.0", ServerFlavor.TIDB, (6, 5, 0)),
    ],
)
def test_server_info_reads_select_version(version, flavor, parts):
    assert ServerVersion.from_version_string(version) == ServerVersion(flavor, parts)


def test_unreadable_version_is_a_target_error():
    with pytest.raises(TargetError, match="SELECT VERSION"):
        ServerVersion.from_version_string("banana")


# --- on a real MariaDB --------------------------------------------------------------------------------

SOURCE_TABLES = {
    "t": """CREATE TABLE t (
        id int NOT NULL AUTO_INCREMENT,
        tiny tinyint(3) unsigned zerofill DEFAULT 7,
        bits bit(5) DEFAULT b'101',
        s varchar(20) DEFAULT 'a;b''c\\\\d',
        fixed char(3) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT '',
        d decimal(65,30) DEFAULT NULL,
        f float(7,3) DEFAULT NULL,
        dbl double DEFAULT -1.5e-7,
        e enum('x','y;','z`','"q"') DEFAULT 'x',
        st set('a','b') DEFAULT 'a,b',
        j json,
        g geometry DEFAULT NULL,
        pt point NOT NULL,
        yr year DEFAULT 2024,
        dt date DEFAULT '2024-02-29',
        tm time(3) DEFAULT '-838:59:59.000',
        dtm datetime(6) DEFAULT '2024-01-01 00:00:00.000001',
        ts timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
        gen int GENERATED ALWAYS AS (tiny * 2) VIRTUAL,
        stored varchar(40) AS (concat(s, '-', tiny)) STORED,
        b blob,
        vb varbinary(16) DEFAULT 0x00FF,
        txt mediumtext COLLATE utf8mb4_unicode_520_ci COMMENT 'a "comment"; with `ticks` and ''quotes''',
        PRIMARY KEY (id),
        KEY ix_s (s(10)),
        UNIQUE KEY uq (d, e),
        FULLTEXT KEY ft (txt),
        SPATIAL KEY sp (pt),
        CONSTRAINT positive CHECK (dbl < 1e9)
    ) ENGINE=InnoDB ROW_FORMAT=DYNAMIC COMMENT='a "table"; comment'""",
    "魚fish": "CREATE TABLE `魚fish` (`名前` varchar(10) DEFAULT '鮭' COMMENT 'ñ', `x` int) ENGINE=MyISAM",
    "semi;colon": "CREATE TABLE `semi;colon` (`a;b` int PRIMARY KEY, `c'd` text, `e\"f` int)",
    "parent": "CREATE TABLE parent (id int PRIMARY KEY)",
    "child": "CREATE TABLE child (id int PRIMARY KEY, p int, CONSTRAINT fk_parent FOREIGN KEY (p) "
    "REFERENCES parent (id) ON DELETE CASCADE)",
    "parts": "CREATE TABLE parts (id int NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id) "
    "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN MAXVALUE)",
}
# The server prints the default of `vb` (0x00FF) as raw bytes, so this file is not UTF-8.
TABLES_WITH_RAW_BYTES = {"t"}
SOURCE_VIEWS = {
    # Another definer than the importing user, who must end up owning the view.
    "v": "CREATE DEFINER=`lt_nobody`@`%` VIEW v AS SELECT t.id, t.s FROM t WHERE s <> ';' WITH CHECK OPTION",
    "v魚": "CREATE SQL SECURITY INVOKER VIEW `v魚` AS SELECT `名前` FROM `魚fish`",
}


def _connect(server: MySQLServer, database: str | None = None) -> pymysql.connections.Connection:
    # A restoring session creates tables in any order, so it runs without foreign key checks (as mydumper's
    # files ask); MariaDB refuses a foreign key to a missing table otherwise.
    return server.connect(database, charset="utf8mb4", init_command="SET FOREIGN_KEY_CHECKS=0")


def _run(server: MySQLServer, statements: list[str], database: str | None = None) -> None:
    conn = _connect(server, database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def _query_one(server: MySQLServer, sql: str, args: tuple = ()) -> tuple:
    conn = _connect(server)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def source_database(mysql_server: MySQLServer) -> Iterator[str]:
    name = f"lt_schema_src_{uuid.uuid4().hex[:10]}"
    statements = [f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"]
    statements += [*SOURCE_TABLES.values(), *SOURCE_VIEWS.values()]
    try:
        _run(mysql_server, statements[:1])
        _run(mysql_server, statements[1:], name)
        yield name
    finally:
        _run(mysql_server, [f"DROP DATABASE IF EXISTS `{name}`"])


@pytest.fixture(scope="module")
def mydumper_dump(mysql_server: MySQLServer, source_database: str, tmp_path_factory) -> Path:
    return run_mydumper(mysql_server, source_database, tmp_path_factory.mktemp("dump") / "out")


@pytest.fixture
def target_database(make_database) -> str:
    return make_database("lt_schema")


def _show_create_table(server: MySQLServer, database: str, table: str) -> bytes:
    """SHOW CREATE TABLE as the server's bytes (it prints binary defaults raw)."""
    conn = server.connect(init_command="SET NAMES binary", use_unicode=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW CREATE TABLE {quote_identifier(database)}.{quote_identifier(table)}")
            return cur.fetchone()[1]
    finally:
        conn.close()


def _charset_of(table: str) -> str:
    return "binary" if table in TABLES_WITH_RAW_BYTES else "auto"


def _restore(
    server: MySQLServer,
    path: Path,
    kind: str,
    target: str,
    name: str = "",
    *,
    charset: str = "auto",
    source: str | None = None,
) -> SchemaFile:
    schema_file = parse_schema_file(path.read_bytes(), path=str(path), kind=kind, charset=charset)
    statements = rewrite_create(
        schema_file, target_schema=target, target_name=name, server=MARIADB_10_11, source_schema=source
    )
    _run(server, statements)
    _run(server, statements)  # again: restoring must be idempotent
    return schema_file


@pytest.mark.slow
@pytest.mark.parametrize("table", sorted(SOURCE_TABLES))
def test_mydumper_table_file_recreates_the_same_table_twice_over(
    mysql_server, source_database, mydumper_dump, target_database, table
):
    path = mydumper_dump / f"{source_database}.{table}-schema.sql"
    schema_file = _restore(mysql_server, path, "table", target_database, table, charset=_charset_of(table))
    assert schema_file.name == table
    assert _show_create_table(mysql_server, target_database, table) == _show_create_table(
        mysql_server, source_database, table
    )


@pytest.mark.slow
def test_server_writes_binary_defaults_as_raw_bytes_which_auto_rejects_where_they_are(
    source_database, mydumper_dump
):
    path = mydumper_dump / f"{source_database}.t-schema.sql"
    data = path.read_bytes()
    with pytest.raises(ParseError, match="neither UTF-8") as caught:
        parse_schema_file(data, path=str(path), kind="table")
    offset = caught.value.offset
    assert data[offset - 3 : offset + 2] == b"'\\0\xff'"  # DEFAULT '\0<0xFF>'


@pytest.mark.slow
def test_mydumper_table_file_recreates_the_table_under_a_routed_name(
    mysql_server, source_database, mydumper_dump, target_database
):
    path = mydumper_dump / f"{source_database}.semi;colon-schema.sql"
    _restore(mysql_server, path, "table", target_database, "r`t")
    original = _show_create_table(mysql_server, source_database, "semi;colon")
    renamed = original.replace(b"`semi;colon`", b"`r``t`", 1)
    assert _show_create_table(mysql_server, target_database, "r`t") == renamed


@pytest.mark.slow
def test_mydumper_database_file_recreates_the_database_under_its_target_name(
    mysql_server, source_database, mydumper_dump, make_database
):
    target = f"lt_schema_db_{uuid.uuid4().hex[:10]}"
    try:
        _restore(mysql_server, mydumper_dump / f"{source_database}-schema-create.sql", "database", target)
        created = _query_one(mysql_server, f"SHOW CREATE DATABASE `{target}`")[1]
        original = _query_one(mysql_server, f"SHOW CREATE DATABASE `{source_database}`")[1]
        assert created == original.replace(source_database, target)
    finally:
        _run(mysql_server, [f"DROP DATABASE IF EXISTS `{target}`"])


def _restore_view(server: MySQLServer, dump: Path, source: str, target: str, view: str) -> None:
    # The placeholder table of the dump (db.view-schema.sql) is not created: the loader lets the view win.
    _restore(server, dump / f"{source}.{view}-schema-view.sql", "view", target, view, source=source)


def _same_view(created: str, original: str, *, source: str, target: str) -> bool:
    """Whether two SHOW CREATE VIEW outputs match but for the definer, its security (INVOKER, as the import
    writes it) and the schema (which MariaDB prints when the session's current database is another one)."""

    def normalized(create_view: str) -> str:
        create_view = re.sub(r" SQL SECURITY (DEFINER|INVOKER)", " SQL SECURITY INVOKER", create_view)
        return re.sub(r" DEFINER=`[^`]*`@`[^`]*`", "", create_view)

    renamed = normalized(original).replace(quote_identifier(source), quote_identifier(target))
    return normalized(created) == renamed


@pytest.mark.slow
@pytest.mark.parametrize("view", sorted(SOURCE_VIEWS))
def test_mydumper_view_files_recreate_the_view_owned_by_the_importing_user(
    mysql_server, source_database, mydumper_dump, target_database, view
):
    for table in SOURCE_TABLES:
        path = mydumper_dump / f"{source_database}.{table}-schema.sql"
        _restore(mysql_server, path, "table", target_database, table, charset=_charset_of(table))
    _restore_view(mysql_server, mydumper_dump, source_database, target_database, view)
    show = f"SHOW CREATE VIEW {quote_identifier(target_database)}.{quote_identifier(view)}"
    created = _query_one(mysql_server, show)[1]
    original = _query_one(mysql_server, show.replace(target_database, source_database))[1]
    assert _same_view(created, original, source=source_database, target=target_database)
    definer, current_user = _query_one(
        mysql_server,
        "SELECT DEFINER, CURRENT_USER() FROM information_schema.VIEWS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (target_database, view),
    )
    assert definer == current_user


@pytest.mark.slow
def test_view_query_reads_the_tables_of_the_target_schema(
    mysql_server, source_database, mydumper_dump, target_database
):
    path = mydumper_dump / f"{source_database}.t-schema.sql"
    _restore(mysql_server, path, "table", target_database, "t", charset="binary")
    _restore_view(mysql_server, mydumper_dump, source_database, target_database, "v")
    insert = "INSERT INTO t (id, s, fixed, pt) VALUES (42, 'target', 'x', POINT(0, 0))"
    _run(mysql_server, [insert], target_database)
    assert _query_one(mysql_server, f"SELECT id, s FROM `{target_database}`.v") == (42, "target")


@pytest.mark.slow
def test_mydumper_cannot_dump_a_backquoted_table_name_and_we_say_the_file_lacks_its_create(
    mysql_server, make_database, tmp_path
):
    source = make_database("lt_schema_bq")
    _run(mysql_server, ["CREATE TABLE `we``ird;name` (`a``b` int PRIMARY KEY)"], source)
    with pytest.raises(subprocess.CalledProcessError):
        run_mydumper(mysql_server, source, tmp_path / "out")
    path = tmp_path / "out" / f"{source}.we`ird;name-schema.sql"
    with pytest.raises(ParseError, match="expected a CREATE TABLE statement") as caught:
        parse_schema_file(path.read_bytes(), path=str(path), kind="table")
    assert caught.value.path == str(path)


@pytest.mark.slow
def test_dumpling_style_file_recreates_a_table_with_backquotes_and_semicolons_in_its_names(
    mysql_server, make_database, tmp_path
):
    source, target = make_database("lt_schema_bq"), make_database("lt_schema")
    create = "CREATE TABLE `we``ird;name` (`a``b` int PRIMARY KEY, `c;d` text DEFAULT 'x`;y')"
    _run(mysql_server, [create], source)
    original = _show_create_table(mysql_server, source, "we`ird;name")
    # Dumpling writes SHOW CREATE TABLE's output after SET NAMES, one file per table.
    path = tmp_path / f"{source}.we%60ird%3Bname-schema.sql"
    path.write_bytes(b"/*!40101 SET NAMES binary*/;\n" + original + b";\n")
    schema_file = _restore(mysql_server, path, "table", target, "we`ird;name")
    assert schema_file.name == "we`ird;name"
    assert _show_create_table(mysql_server, target, "we`ird;name") == original


@pytest.mark.slow
def test_mysqldump_output_splits_around_its_triggers_and_routines(mysql_server, make_database):
    source = make_database("lt_schema_md")
    _run(
        mysql_server,
        [
            "CREATE TABLE t (s varchar(10))",
            "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.s = CONCAT(NEW.s, ';'); END",
            "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT ';'; END",
        ],
        source,
    )
    dump = subprocess.run(
        ["mysqldump", "-h", mysql_server.host, "-P", str(mysql_server.port), "-u", mysql_server.user,
         f"-p{mysql_server.password}", "--routines", "--triggers", source],
        check=True, capture_output=True, timeout=60,
    ).stdout
    statements = [s.sql for s in split_statements(dump, path="dump.sql")]
    trigger = [s for s in statements if b"TRIGGER trg" in s]
    procedure = [s for s in statements if b"PROCEDURE `p`" in s]
    assert len(trigger) == 1 and trigger[0].rstrip(b"*/ \n").endswith(b"END")
    assert len(procedure) == 1 and b"SELECT ';'" in procedure[0] and procedure[0].endswith(b"END")
    assert not any(s.upper().startswith(b"DELIMITER") for s in statements)


@pytest.mark.slow
def test_mysqldump_view_recreates_the_view(mysql_server, make_database, tmp_path):
    source, target = make_database("lt_schema_md"), make_database("lt_schema")
    _run(mysql_server, ["CREATE TABLE t (id int)", "CREATE VIEW v AS SELECT id FROM t WHERE id > 1"], source)
    dump = subprocess.run(
        ["mysqldump", "-h", mysql_server.host, "-P", str(mysql_server.port), "-u", mysql_server.user,
         f"-p{mysql_server.password}", source],
        check=True, capture_output=True, timeout=60,
    ).stdout
    final_view = [s for s in split_statements(dump) if b"VIEW `v` AS select" in s.sql]
    path = tmp_path / f"{source}.v-schema-view.sql"
    path.write_bytes(b";\n".join(s.sql for s in final_view) + b";\n")
    _run(mysql_server, ["CREATE TABLE t (id int)"], target)
    _restore(mysql_server, path, "view", target, "v")
    created = _query_one(mysql_server, f"SHOW CREATE VIEW `{target}`.v")[1]
    original = _query_one(mysql_server, f"SHOW CREATE VIEW `{source}`.v")[1]
    assert _same_view(created, original, source=source, target=target)


@pytest.mark.slow
def test_mysql8_schema_runs_on_mariadb(mysql_server, tmp_path):
    target = f"lt_schema_m8_{uuid.uuid4().hex[:10]}"
    database_file, table_file = tmp_path / "m8db-schema-create.sql", tmp_path / "m8db.m8-schema.sql"
    database_file.write_bytes(MYSQL8_DATABASE)
    table_file.write_bytes(MYSQL8_TABLE)
    try:
        _restore(mysql_server, database_file, "database", target)
        _restore(mysql_server, table_file, "table", target, "m8")
        collations = _query_one(
            mysql_server,
            "SELECT GROUP_CONCAT(COLLATION_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'm8' AND COLLATION_NAME IS NOT NULL",
            (target,),
        )[0]
        assert collations.split(",") == [
            "utf8mb4_uca1400_nopad_ai_ci",
            "utf8mb4_nopad_bin",
            "utf8mb4_uca1400_swedish_nopad_as_cs",
        ]
        default = _query_one(
            mysql_server,
            "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            (target,),
        )[0]
        assert default == "utf8mb4_uca1400_nopad_ai_ci"
    finally:
        _run(mysql_server, [f"DROP DATABASE IF EXISTS `{target}`"])


@pytest.mark.slow
def test_mapped_mysql8_collations_keep_values_distinct_that_mysql8_keeps_distinct(
    mysql_server, target_database
):
    schema_file = parse_schema_file(MYSQL8_TABLE, path="m8.sql", kind="table")
    statements = rewrite_create(
        schema_file, target_schema=target_database, target_name="m8", server=MARIADB_10_11
    )
    _run(mysql_server, statements)
    # utf8mb4_0900_ai_ci is NO PAD: 'a' and 'a ' are different keys on MySQL 8, so they must be here too.
    _run(
        mysql_server,
        [
            "INSERT INTO m8 (name, pt) VALUES ('a', POINT(0, 0))",
            "INSERT INTO m8 (name, pt) VALUES ('a ', POINT(0, 0))",
        ],
        target_database,
    )


@pytest.mark.slow
def test_every_collation_mapped_for_mariadb_exists_on_it(mysql_server):
    server = ServerVersion.from_version_string(_query_one(mysql_server, "SELECT VERSION()")[0])
    assert server.flavor is ServerFlavor.MARIADB and server.version >= (10, 10)
    languages = "- cs da de_pb eo es es_trad et hr hu is la lt lv nb nn pl ro sk sl sv tr vi ja zh ru".split()
    languages = ["" if language == "-" else f"{language}_" for language in languages]
    mapped = {
        collation_for_server(f"utf8mb4_{language}0900_{strength}", version)
        for language in languages
        for strength in ("ai_ci", "as_cs", "as_ci", "bin")
        for version in (server, MARIADB_10_6)
    }
    conn = _connect(mysql_server)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT FULL_COLLATION_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY"
            )
            existing = {row[0] for row in cur.fetchall()}
    finally:
        conn.close()
    assert mapped - existing == set()
