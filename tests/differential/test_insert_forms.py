"""Every INSERT form the dumpers write and MySQL accepts lands as ``mariadb < file`` stores it.

Each form is one small data file, written by the test into a mydumper-style dump directory with one table,
loaded by ``lightning import`` (the real CLI, checksum required) and by the ``mariadb`` client.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class InsertForm:
    name: str
    data: str
    config: str = ""  # more of the import's config, after [post-restore]


FORMS = (
    InsertForm("values-empty-rows", "INSERT INTO `t` VALUES (), ();\nINSERT INTO `t` VALUES ( );\n"),
    InsertForm("empty-column-list", "INSERT INTO `t` () VALUES (), ();\n"),
    InsertForm("columns-reordered", "INSERT INTO `t` (`d`,`c`,`b`,`a`,`id`) VALUES (3,'cc',2.5,'aa',1),(4,'c2',1e3,'a2',2);\n"),
    InsertForm("columns-omit-auto-increment", "INSERT INTO `t` (`a`,`b`) VALUES ('p',1),('q',2);\n"),
    InsertForm("columns-omit-defaulted", "INSERT INTO `t` (`id`,`c`) VALUES (1,'z'),(2,NULL);\n"),
    InsertForm("insert-ignore", "INSERT IGNORE INTO `t` VALUES (1,'a',1,'b',1),(2,'c',3,'e',3);\n"),
    # Duplicates inside the file: the verb is read, but as in Lightning [conflict] strategy resolves them
    InsertForm(
        "insert-ignore-duplicates",
        "INSERT IGNORE INTO `t` VALUES (1,'a',1,'b',1),(1,'dup',2,'d',2),(2,'c',3,'e',3);\n",
        '[conflict]\nstrategy = "ignore"\n',
    ),
    InsertForm(
        "replace-duplicates",
        "REPLACE INTO `t` VALUES (1,'a',1,'b',1),(1,'dup',2,'d',2);\nREPLACE INTO `t` VALUES (1,'c',3,'e',3);\n",
        '[conflict]\nstrategy = "replace"\n',
    ),
    InsertForm("replace", "REPLACE INTO `t` VALUES (1,'a',1,'b',1);\nREPLACE INTO `t` VALUES (2,'c',3,'e',3);\n"),
    InsertForm("one-row-per-statement", "INSERT INTO `t` VALUES (1,'a',1,'b',1);\nINSERT INTO `t` VALUES (2,'b',2,'c',2);\nINSERT INTO `t` VALUES (3,'c',3,'d',3);\n"),
    InsertForm("insert-without-into", "INSERT `t` VALUES (1,'a',1,'b',1);\n"),
    InsertForm("lowercase-keywords", "insert into t values (1,'a',1,'b',1);\n"),
    InsertForm("value-keyword", "INSERT INTO `t` VALUE (1,'a',1,'b',1),(2,'b',2,'c',2);\n"),
    InsertForm("introducers", "INSERT INTO `t` VALUES (1,_utf8mb4'é',1,_binary 'ab\\0c',1),(2,_latin1'x',2,_binary'\\'q',2),(3,N'n',3,X'00ff',3);\n"),
    InsertForm("bit-literals", "INSERT INTO `t` VALUES (1,'a',1,b'0101',b'11'),(2,'b',2,B'1',0b101),(3,'c',3,NULL,b'');\n"),
    InsertForm("hex-literals", "INSERT INTO `t` VALUES (1,x'6869',1,x'00ff',x'0f'),(2,X'',2,0xDEADBEEF,0x3),(3,0x6162,3,_binary 0x00,1);\n"),
    InsertForm("scientific-floats", "INSERT INTO `t` VALUES (1,'a',1e10,'b',1),(2,'b',-1.5E-3,'c',2),(3,'c',.5e+2,'d',3),(4,'d',2.,'e',4),(5,'e',1.7976931348623157e308,'f',5);\n"),
    InsertForm("comments-everywhere", "/* header */ INSERT /* a */ INTO `t` -- line\n VALUES # hash\n (1, /* v */ 'a' , 2 -- x\n ,'b',1) /* between */ , (2,'b',2,'c',2) /* end */ ;\n-- trailing\n# trailing\n"),
    InsertForm("lock-tables-wrapper", "LOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\nINSERT INTO `t` VALUES (1,'a',1,'b',1);\n/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nUNLOCK TABLES;\n"),
    InsertForm("alter-table-plain", "ALTER TABLE `t` DISABLE KEYS;\nINSERT INTO `t` VALUES (1,'a',1,'b',1);\nALTER TABLE `t` ENABLE KEYS;\n"),
    InsertForm("mariadb-sandbox-line", "/*M!999999\\- enable the sandbox mode */ \nINSERT INTO `t` VALUES (1,'a',1,'b',1);\n"),
    InsertForm("set-header", "/*!40101 SET NAMES utf8mb4 */;\nSET FOREIGN_KEY_CHECKS=0;\n/*!40103 SET TIME_ZONE='+00:00' */;\nINSERT INTO `t` VALUES (1,'a',1,'b',1);\n"),
    InsertForm("qualified-table-name", "INSERT INTO `{db}`.`t` VALUES (1,'a',1,'b',1);\n"),
)


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
def test_an_insert_form_lands_as_the_mariadb_client_loads_it(
    form, mysql_server, session_database, tmp_path
):
    source = session_database("lt_fsrc")
    dump_dir = tmp_path / "dump"
    dump_dir.mkdir()
    (dump_dir / f"{source}-schema-create.sql").write_text(f"CREATE DATABASE `{source}`;\n")
    (dump_dir / f"{source}.t-schema.sql").write_text(SCHEMA)
    (dump_dir / f"{source}.t.000000001.sql").write_text(form.data.replace("{db}", source))
    oracle = session_database("lt_foracle")
    # the oracle reads the qualified name as its own database: rename it there
    oracle_files = dump_files_in_load_order(dump_dir, source)
    oracle_dir = tmp_path / "oracle"
    oracle_dir.mkdir()
    for path in oracle_files:
        (oracle_dir / path.name).write_text(path.read_text().replace(f"`{source}`.", f"`{oracle}`."))
    load_with_mariadb_client(mysql_server, oracle, [oracle_dir / p.name for p in oracle_files])
    ours = session_database("lt_fours")
    run = import_with_lightning(
        mysql_server, dump_dir, source, ours, session_database("lt_fti"), tmp_path / "lightning",
        extra_config='[post-restore]\nchecksum = "required"\n' + form.config,
    )
    assert run.returncode == 0, run.summary()
    assert_same_table(mysql_server, oracle, ours, "t", run.summary())


# Different column lists in one chunk: the import's checksum compares over one column set, so it cannot
# vouch for such a table (the rows themselves land right).
MIXED_COLUMN_FORMS = (
    InsertForm("all-defaults-after-full-row", "INSERT INTO `t` VALUES (1,'x',2,'y',1);\nINSERT INTO `t` () VALUES ();\n"),
    InsertForm("column-list-then-empty-rows", "INSERT INTO `t` (`id`) VALUES (5);\nINSERT INTO `t` VALUES (), ();\n"),
)


@pytest.mark.xfail(reason="a chunk's checkpoint keeps only its last column list: the checksum mismatches", strict=True)
@pytest.mark.parametrize("form", MIXED_COLUMN_FORMS, ids=[f.name for f in MIXED_COLUMN_FORMS])
def test_column_lists_that_change_within_a_file_land_as_the_mariadb_client_loads_them(
    form, mysql_server, session_database, tmp_path
):
    test_an_insert_form_lands_as_the_mariadb_client_loads_it(form, mysql_server, session_database, tmp_path)


def test_on_duplicate_key_update_is_refused_naming_the_file_the_offset_and_a_way_out(
    mysql_server, session_database, tmp_path
):
    source = session_database("lt_fsrc")
    dump_dir = tmp_path / "dump"
    dump_dir.mkdir()
    (dump_dir / f"{source}-schema-create.sql").write_text(f"CREATE DATABASE `{source}`;\n")
    (dump_dir / f"{source}.t-schema.sql").write_text(SCHEMA)
    data = "INSERT INTO `t` VALUES (1,'a',1,'b',1) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`);\n"
    (dump_dir / f"{source}.t.000000001.sql").write_text(data)
    run = import_with_lightning(
        mysql_server, dump_dir, source, session_database("lt_fours"), session_database("lt_fti"),
        tmp_path / "lightning",
    )
    assert run.returncode != 0
    assert "ON DUPLICATE KEY UPDATE is not supported" in run.output
    assert f"{source}.t.000000001.sql" in run.output
    assert f"byte {data.index('ON')}" in run.output or f"offset {data.index('ON')}" in run.output, run.summary()
    assert "mariadb client" in run.output
