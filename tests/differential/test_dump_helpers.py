"""The suite's own helpers: the splitter that cuts one mariadb-dump file into mydumper's file names (as a
user's script would), and the order in which the oracle runs a dump's files."""

from __future__ import annotations

import subprocess

import pytest

from tests.differential.dumps import (
    UnsplittableDump,
    dump_files_in_load_order,
    load_with_mariadb_client,
    split_mariadb_dump,
)

HEADER = (
    b"/*M!999999\\- enable the sandbox mode */ \n"
    b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n"
    b"\n"
    b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    b"/*!40101 SET NAMES latin1 */;\n"
    b"/*!40103 SET TIME_ZONE='+00:00' */;\n"
    b"\n"
)
DUMP = HEADER + (
    b"--\n-- Current Database: `shop`\n--\n\n"
    b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET latin1 */;\n\n"
    b"USE `shop`;\n\n"
    b"--\n-- Table structure for table `odd``name`\n--\n\n"
    b"DROP TABLE IF EXISTS `odd``name`;\n"
    b"CREATE TABLE `odd``name` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB;\n\n"
    b"--\n-- Dumping data for table `odd``name`\n--\n\n"
    b"LOCK TABLES `odd``name` WRITE;\n"
    b"INSERT INTO `odd``name` VALUES (1),(2);\n"
    b"UNLOCK TABLES;\n\n"
    b"--\n-- Table structure for table `t`\n--\n\n"
    b"DROP TABLE IF EXISTS `t`;\n"
    b"CREATE TABLE `t` (\n  `s` varchar(5)\n);\n\n"
    b"--\n-- Dumping data for table `t`\n--\n\n"
    b"LOCK TABLES `t` WRITE;\n"
    b"INSERT INTO `t` VALUES ('caf\xe9');\n"
    b"UNLOCK TABLES;\n"
    b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n"
    b"/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n\n"
    b"-- Dump completed on 2026-12-07 22:53:58\n"
)


def test_a_dump_is_cut_into_mydumpers_file_names(tmp_path):
    written = split_mariadb_dump(DUMP, tmp_path)
    assert [p.name for p in written] == [
        "shop-schema-create.sql",
        "shop.odd`name-schema.sql",
        "shop.odd`name.000000001.sql",
        "shop.t-schema.sql",
        "shop.t.000000001.sql",
    ]


def test_every_file_starts_with_the_dumps_session_header(tmp_path):
    for path in split_mariadb_dump(DUMP, tmp_path):
        assert path.read_bytes().startswith(HEADER), path.name


def test_the_schema_create_file_holds_only_the_create_database(tmp_path):
    split_mariadb_dump(DUMP, tmp_path)
    body = (tmp_path / "shop-schema-create.sql").read_bytes()[len(HEADER) :]
    assert (
        body == b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET latin1 */;\n"
    )


def test_a_schema_file_creates_and_never_drops(tmp_path):
    split_mariadb_dump(DUMP, tmp_path)
    body = (tmp_path / "shop.t-schema.sql").read_bytes()[len(HEADER) :]
    assert b"DROP TABLE" not in body
    assert body.strip() == b"CREATE TABLE `t` (\n  `s` varchar(5)\n);"


def test_a_data_file_keeps_its_section_and_bytes_and_leaves_out_the_footer(tmp_path):
    split_mariadb_dump(DUMP, tmp_path)
    body = (tmp_path / "shop.t.000000001.sql").read_bytes()[len(HEADER) :]
    assert body.strip() == b"LOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES ('caf\xe9');\nUNLOCK TABLES;"


def test_a_dump_without_database_sections_is_refused(tmp_path):
    without_databases = DUMP.replace(b"--\n-- Current Database: `shop`\n--\n", b"")
    with pytest.raises(UnsplittableDump, match="--databases"):
        split_mariadb_dump(without_databases, tmp_path)


def test_a_view_is_refused_rather_than_put_in_the_wrong_file(tmp_path):
    with_view = DUMP + b"--\n-- Final view structure for view `v`\n--\n\nCREATE VIEW `v` AS SELECT 1;\n"
    with pytest.raises(UnsplittableDump, match="Final view structure for view `v`"):
        split_mariadb_dump(with_view, tmp_path)


def test_the_split_files_load_as_the_whole_dump_does(mysql_server, make_database, tmp_path):
    """A real mariadb-dump, split and loaded file by file, gives the database the whole file gives."""
    source, whole, split = make_database("lt_spsrc"), make_database("lt_spwhole"), make_database("lt_spsplit")
    conn = mysql_server.connect(source, charset="utf8mb4")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE a (id INT PRIMARY KEY, s VARCHAR(10) CHARACTER SET latin1)")
        cur.execute("INSERT INTO a VALUES (1, 'café'), (2, 'it''s\\\\'), (3, NULL)")
        cur.execute("CREATE TABLE b (id INT PRIMARY KEY, s VARCHAR(10) CHARACTER SET gbk)")
        cur.execute("INSERT INTO b VALUES (1, '中文'), (2, '乗')")
    conn.close()
    dump_file = tmp_path / "dump.sql"
    subprocess.run(
        [
            "mariadb-dump",
            "-h",
            mysql_server.host,
            "-P",
            str(mysql_server.port),
            "-u",
            mysql_server.user,
            f"-p{mysql_server.password}",
            "--default-character-set=latin1",
            "--databases",
            source,
            f"--result-file={dump_file}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    dump = dump_file.read_bytes()
    # the whole file names the source database (USE): load it with its name changed, bytes untouched
    load_with_mariadb_client(
        mysql_server, whole, [_renamed(dump_file, source, whole, tmp_path / "whole.sql")]
    )
    files = split_mariadb_dump(dump, tmp_path / "split")
    schema_files = [p for p in files if p.name.endswith("-schema.sql")]
    load_with_mariadb_client(
        mysql_server, split, schema_files + [p for p in files if p.name.endswith(".000000001.sql")]
    )
    for table in ("a", "b"):
        assert _rows(mysql_server, split, table) == _rows(mysql_server, whole, table)
    assert _rows(mysql_server, split, "a") == [(1, "café"), (2, "it's\\"), (3, None)]


def _renamed(path, old: str, new: str, out):
    out.write_bytes(path.read_bytes().replace(f"`{old}`".encode(), f"`{new}`".encode()))
    return out


def _rows(server, database: str, table: str) -> list[tuple]:
    conn = server.connect(database, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM `{table}` ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def test_the_oracle_runs_every_schema_file_before_any_data_file(tmp_path):
    names = [
        "db-schema-create.sql",
        "metadata",
        "db.b.00001.sql.gz",
        "db.b-schema.sql.gz",
        "db.a.000000001.sql",
        "db.a-schema.sql",
        "db.a.000000002.sql",
        "other.t-schema.sql",
        "db.c.sql",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in dump_files_in_load_order(tmp_path, "db")] == [
        "db.a-schema.sql",
        "db.b-schema.sql.gz",
        "db.a.000000001.sql",
        "db.a.000000002.sql",
        "db.b.00001.sql.gz",
        "db.c.sql",
    ]
