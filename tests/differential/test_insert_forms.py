"""Every INSERT form the dumpers write and MySQL accepts lands as ``mariadb < file`` stores it.

Each form is one small data file, written by the test into a mydumper-style dump directory with one table,
loaded by ``lightning import`` (the real CLI, checksum required) and by the ``mariadb`` client; the tables
must then hold the same rows and give the same ``CHECKSUM TABLE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.differential.compare import assert_same_table
from tests.differential.dumps import dump_files_in_load_order, import_with_lightning, load_with_mariadb_client

SCHEMA = (
    "CREATE TABLE `t` (\n"
    "  `id` int NOT NULL AUTO_INCREMENT,\n"
    "  `a` varchar(20) DEFAULT 'dflt',\n"
    "  `b` double DEFAULT 1.5,\n"
    "  `c` varbinary(16) DEFAULT NULL,\n"
    "  `d` bit(8) DEFAULT b'101',\n"
    "  PRIMARY KEY (`id`)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
)
ROW = "INSERT INTO `t` VALUES (1,'a',1,'b',1);"


@dataclass(frozen=True)
class InsertForm:
    name: str
    data: str  # the data file; `{db}` stands for the source database's name
    config: str = ""  # more of the import's config, after its [post-restore] section


def form(name: str, *lines: str, config: str = "") -> InsertForm:
    return InsertForm(name, "".join(line + "\n" for line in lines), config)


FORMS = (
    form("values-empty-rows", "INSERT INTO `t` VALUES (), ();", "INSERT INTO `t` VALUES ( );"),
    form("empty-column-list", "INSERT INTO `t` () VALUES (), ();"),
    form(
        "columns-reordered",
        "INSERT INTO `t` (`d`,`c`,`b`,`a`,`id`) VALUES (3,'cc',2.5,'aa',1),(4,'c2',1e3,'a2',2);",
    ),
    form("columns-omit-auto-increment", "INSERT INTO `t` (`a`,`b`) VALUES ('p',1),('q',2);"),
    form("columns-omit-defaulted", "INSERT INTO `t` (`id`,`c`) VALUES (1,'z'),(2,NULL);"),
    form("insert-ignore", "INSERT IGNORE INTO `t` VALUES (1,'a',1,'b',1),(2,'c',3,'e',3);"),
    form("replace", "REPLACE INTO `t` VALUES (1,'a',1,'b',1);", "REPLACE INTO `t` VALUES (2,'c',3,'e',3);"),
    # Duplicates inside the file: the verb is read, but as in Lightning [conflict] strategy resolves them
    form(
        "insert-ignore-duplicates",
        "INSERT IGNORE INTO `t` VALUES (1,'a',1,'b',1),(1,'dup',2,'d',2),(2,'c',3,'e',3);",
        config='[conflict]\nstrategy = "ignore"\n',
    ),
    form(
        "replace-duplicates",
        "REPLACE INTO `t` VALUES (1,'a',1,'b',1),(1,'dup',2,'d',2);",
        "REPLACE INTO `t` VALUES (1,'c',3,'e',3);",
        config='[conflict]\nstrategy = "replace"\n',
    ),
    form(
        "one-row-per-statement",
        "INSERT INTO `t` VALUES (1,'a',1,'b',1);",
        "INSERT INTO `t` VALUES (2,'b',2,'c',2);",
        "INSERT INTO `t` VALUES (3,'c',3,'d',3);",
    ),
    form("insert-without-into", "INSERT `t` VALUES (1,'a',1,'b',1);"),
    form("lowercase-keywords", "insert into t values (1,'a',1,'b',1);"),
    form("value-keyword", "INSERT INTO `t` VALUE (1,'a',1,'b',1),(2,'b',2,'c',2);"),
    form(
        "introducers",
        "INSERT INTO `t` VALUES (1,_utf8mb4'é',1,_binary 'ab\\0c',1),",
        "(2,_latin1'x',2,_binary'\\'q',2),(3,N'n',3,X'00ff',3);",
    ),
    form(
        "bit-literals",
        "INSERT INTO `t` VALUES (1,'a',1,b'0101',b'11'),(2,'b',2,B'1',0b101),(3,'c',3,NULL,b'');",
    ),
    form(
        "hex-literals",
        "INSERT INTO `t` VALUES (1,x'6869',1,x'00ff',x'0f'),(2,X'',2,0xDEADBEEF,0x3),",
        "(3,0x6162,3,_binary 0x00,1);",
    ),
    form(
        "scientific-floats",
        "INSERT INTO `t` VALUES (1,'a',1e10,'b',1),(2,'b',-1.5E-3,'c',2),(3,'c',.5e+2,'d',3),",
        "(4,'d',2.,'e',4),(5,'e',1.7976931348623157e308,'f',5);",
    ),
    form(
        "comments-everywhere",
        "/* header */ INSERT /* a */ INTO `t` -- line",
        " VALUES # hash",
        " (1, /* v */ 'a' , 2 -- x",
        " ,'b',1) /* between */ , (2,'b',2,'c',2) /* end */ ;",
        "-- trailing",
        "# trailing",
    ),
    form(
        "lock-tables-wrapper",
        "LOCK TABLES `t` WRITE;",
        "/*!40000 ALTER TABLE `t` DISABLE KEYS */;",
        ROW,
        "/*!40000 ALTER TABLE `t` ENABLE KEYS */;",
        "UNLOCK TABLES;",
    ),
    form("alter-table-plain", "ALTER TABLE `t` DISABLE KEYS;", ROW, "ALTER TABLE `t` ENABLE KEYS;"),
    form("mariadb-sandbox-line", "/*M!999999\\- enable the sandbox mode */ ", ROW),
    form(
        "set-header",
        "/*!40101 SET NAMES utf8mb4 */;",
        "SET FOREIGN_KEY_CHECKS=0;",
        "/*!40103 SET TIME_ZONE='+00:00' */;",
        ROW,
    ),
    form("qualified-table-name", "INSERT INTO `{db}`.`t` VALUES (1,'a',1,'b',1);"),
)

# Different column lists in one file: the import's checksum compares over one column set, so it fails for
# such a table although its rows land right.
MIXED_COLUMN_FORMS = (
    form(
        "all-defaults-after-full-row",
        "INSERT INTO `t` VALUES (1,'x',2,'y',1);",
        "INSERT INTO `t` () VALUES ();",
    ),
    form("column-list-then-empty-rows", "INSERT INTO `t` (`id`) VALUES (5);", "INSERT INTO `t` VALUES ();"),
)


def write_dump(dump_dir: Path, source: str, data: str) -> Path:
    """A mydumper-style dump of ``source`` with the one table `t`, whose data file holds ``data``."""
    dump_dir.mkdir()
    (dump_dir / f"{source}-schema-create.sql").write_text(f"CREATE DATABASE `{source}`;\n")
    (dump_dir / f"{source}.t-schema.sql").write_text(SCHEMA)
    (dump_dir / f"{source}.t.000000001.sql").write_text(data.replace("{db}", source))
    return dump_dir


@pytest.mark.parametrize("insert_form", FORMS, ids=[f.name for f in FORMS])
def test_an_insert_form_lands_as_the_mariadb_client_loads_it(
    insert_form, mysql_server, session_database, tmp_path
):
    source = session_database("lt_fsrc")
    dump_dir = write_dump(tmp_path / "dump", source, insert_form.data)
    # The oracle loads into a database of its own: a qualified table name is renamed to it.
    oracle = session_database("lt_foracle")
    oracle_dir = tmp_path / "oracle"
    oracle_dir.mkdir()
    for path in dump_files_in_load_order(dump_dir, source):
        (oracle_dir / path.name).write_text(path.read_text().replace(f"`{source}`.", f"`{oracle}`."))
    load_with_mariadb_client(mysql_server, oracle, dump_files_in_load_order(oracle_dir, source))
    ours = session_database("lt_fours")
    run = import_with_lightning(
        mysql_server,
        dump_dir,
        source,
        ours,
        session_database("lt_fti"),
        tmp_path / "lightning",
        extra_config='[post-restore]\nchecksum = "required"\n' + insert_form.config,
    )
    assert run.returncode == 0, run.summary()
    assert_same_table(mysql_server, oracle, ours, "t", run.summary())


@pytest.mark.xfail(reason="a chunk's checkpoint keeps only its last column list", strict=True)
@pytest.mark.parametrize("insert_form", MIXED_COLUMN_FORMS, ids=[f.name for f in MIXED_COLUMN_FORMS])
def test_column_lists_that_change_within_a_file_land_as_the_mariadb_client_loads_them(
    insert_form, mysql_server, session_database, tmp_path
):
    test_an_insert_form_lands_as_the_mariadb_client_loads_it(
        insert_form, mysql_server, session_database, tmp_path
    )


def test_on_duplicate_key_update_is_refused_naming_the_file_the_offset_and_a_way_out(
    mysql_server, session_database, tmp_path
):
    source = session_database("lt_fsrc")
    data = "INSERT INTO `t` VALUES (1,'a',1,'b',1) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`);\n"
    dump_dir = write_dump(tmp_path / "dump", source, data)
    run = import_with_lightning(
        mysql_server,
        dump_dir,
        source,
        session_database("lt_fours"),
        session_database("lt_fti"),
        tmp_path / "lightning",
    )
    assert run.returncode != 0
    assert "ON DUPLICATE KEY UPDATE is not supported" in run.output, run.summary()
    assert f"{source}.t.000000001.sql" in run.output
    assert f"byte {data.index('ON')}" in run.output, run.summary()
    assert "mariadb client" in run.output
