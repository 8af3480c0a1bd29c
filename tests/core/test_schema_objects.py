"""Triggers, stored routines and events in a dump (mydumper's -G -R -E): recognised by the default file
rules, listed by the precheck with what each file holds, and not imported."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from airflow_provider_lightning.core.importer.prechecks.files import check_schema_objects
from airflow_provider_lightning.core.mydump.loader import discover
from airflow_provider_lightning.core.mydump.router import FileRouter, RouteResult, SourceType
from airflow_provider_lightning.core.storage import Compression, LocalStorage
from tests.conftest import run_mydumper
from tests.core.test_cli import run_lightning
from tests.core.test_loader import FileRule, Route

OBJECTS = SourceType.SCHEMA_OBJECTS
NONE, GZ, ZSTD = Compression.NONE, Compression.GZ, Compression.ZSTD


# --- file names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # mydumper 0.9 to today, -G: one file per table with triggers
        ("db.t-schema-triggers.sql", RouteResult("db", "t", OBJECTS, "", NONE)),
        ("db.t-schema-triggers.sql.gz", RouteResult("db", "t", OBJECTS, "", GZ)),
        ("db.t-schema-triggers.sql.zst", RouteResult("db", "t", OBJECTS, "", ZSTD)),
        ("out/db.my-t-schema-triggers.sql", RouteResult("db", "my-t", OBJECTS, "", NONE)),
        # the singular form Lightning's default rule names
        ("db.t-schema-trigger.sql", RouteResult("db", "t", OBJECTS, "", NONE)),
        # current mydumper: a database's triggers in one file
        ("db-schema-triggers.sql", RouteResult("db", "", OBJECTS, "", NONE)),
        # -R -E: a database's procedures, functions and events
        ("db-schema-post.sql", RouteResult("db", "", OBJECTS, "", NONE)),
        ("db-schema-post.sql.gz", RouteResult("db", "", OBJECTS, "", GZ)),
        ("DB.T-SCHEMA-TRIGGERS.SQL", RouteResult("DB", "T", OBJECTS, "", NONE)),
    ],
)
def test_default_rules_route_trigger_routine_and_event_files_as_schema_objects(path, expected):
    assert FileRouter().route(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("db.t-schema.sql", SourceType.TABLE_SCHEMA),
        ("db.t-schema-view.sql", SourceType.VIEW_SCHEMA),
        ("db.t.00000.sql", SourceType.SQL),
        ("db.triggers.sql", SourceType.SQL),  # a table named "triggers"
    ],
)
def test_tables_views_and_data_are_routed_as_before(path, expected):
    assert FileRouter().route(path).type is expected


def test_a_user_rule_still_wins_over_the_new_default_rules():
    rule = FileRule(pattern=r"-schema-triggers\.sql$", type="ignore")
    assert FileRouter([rule]).route("db.t-schema-triggers.sql").type == SourceType.IGNORE
    as_data = FileRule(pattern=r"^(\w+)\.(.+)\.sql$", schema="$1", table="$2", type="sql")
    assert FileRouter([as_data]).route("db.t-schema-triggers.sql") == RouteResult(
        "db", "t-schema-triggers", SourceType.SQL, "", NONE
    )


def test_without_default_rules_the_files_match_nothing():
    assert FileRouter(default_rules=False).route("db.t-schema-triggers.sql") is None


# --- the source listing ---------------------------------------------------------------------------------


def _dump_dir(root: Path) -> Path:
    files = {
        "db-schema-create.sql": "CREATE DATABASE db;",
        "db.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY);",
        "db.t.00000.sql": "INSERT INTO t VALUES (1);",
        "db.t-schema-triggers.sql": "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW SET @x = 1;",
        "db-schema-post.sql": "CREATE PROCEDURE p() SELECT 1;",
        "other.u-schema-triggers.sql": "CREATE TRIGGER tu AFTER INSERT ON u FOR EACH ROW SET @x = 1;",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_listing_keeps_them_apart_from_data_and_ignored_files(tmp_path):
    source = discover(LocalStorage(_dump_dir(tmp_path)), filter=["db.*"])

    assert [t.name for t in source.tables] == ["t"]
    assert [f.path for f in source.tables[0].data_files] == ["db.t.00000.sql"]
    assert [(o.file.path, o.schema, o.table) for o in source.schema_objects] == [
        ("db-schema-post.sql", "db", ""),
        ("db.t-schema-triggers.sql", "db", "t"),
    ]  # other.u's file is filtered out with its table
    assert source.ignored == () and source.unmatched == ()
    assert all(f.type != OBJECTS for f in source.files)  # not read, not fingerprinted


def test_the_listing_names_the_routed_target(tmp_path):
    source = discover(
        LocalStorage(_dump_dir(tmp_path)), filter=["db.*"], routes=[Route("db", target_schema="db2")]
    )
    assert [(o.schema, o.table, o.contents) for o in source.schema_objects] == [
        ("db2", "", "the stored procedures, functions and events of database `db2`"),
        ("db2", "t", "the triggers of table `db2`.`t`"),
    ]


def test_the_precheck_warns_naming_each_file_what_it_holds_and_how_to_apply_it(tmp_path):
    item = check_schema_objects(discover(LocalStorage(_dump_dir(tmp_path)), filter=["db.*"]))

    assert item.severity == "warning" and not item.passed
    assert "not applied by the import" in item.message
    assert "db.t-schema-triggers.sql: the triggers of table `db`.`t`" in item.message
    assert "db-schema-post.sql: the stored procedures, functions and events of database `db`" in item.message
    assert "mariadb -h HOST -u USER -p db < db.t-schema-triggers.sql" in item.message
    assert "after the import" in item.advice


# --- a real mydumper -G -R -E dump ------------------------------------------------------------------------


@pytest.fixture
def source_with_objects(mysql_server):
    name = f"lt_obj_{uuid.uuid4().hex[:10]}"
    conn = mysql_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4")
            cur.execute(f"USE `{name}`")
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
            cur.execute("CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(50))")
            cur.execute(
                "CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW "
                "INSERT INTO log (msg) VALUES (CONCAT('inserted ', NEW.id))"
            )
            cur.execute("CREATE PROCEDURE p_count() SELECT COUNT(*) FROM t")
            cur.execute("CREATE FUNCTION f_twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2")
            cur.execute("CREATE EVENT e_trim ON SCHEDULE EVERY 1 DAY DO DELETE FROM log WHERE id < 0")
            cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)")  # the trigger logs 3 rows
        conn.commit()
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def _query(server, sql: str) -> list[tuple]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def test_a_mydumper_dump_with_triggers_routines_and_events_imports(
    mysql_server, source_with_objects, fresh_database, make_database, tmp_path
):
    src, target, task_info = source_with_objects, fresh_database, make_database("lt_ti")
    server = mysql_server
    dump = run_mydumper(mysql_server, src, tmp_path / "dump", "-G", "-R", "-E")
    assert (dump / f"{src}.t-schema-triggers.sql").exists() and (dump / f"{src}-schema-post.sql").exists()
    config = tmp_path / "lightning.toml"
    config.write_text(
        f'[lightning]\ntask-info-schema-name = "{task_info}"\n'
        f'[[routes]]\nschema-pattern = "{src}"\ntarget-schema = "{target}"\n'
    )

    result = run_lightning(
        "import", "-c", str(config), "-d", str(dump), "--no-progress",
        "--target", f"mysql://{server.user}:{server.password}@{server.host}:{server.port}",
        "--checkpoint-file", str(tmp_path / "cp.json"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    for table in ("t", "log"):
        rows = f"SELECT * FROM `{{}}`.`{table}` ORDER BY id"
        assert _query(mysql_server, rows.format(target)) == _query(mysql_server, rows.format(src))
        checksums = _query(mysql_server, f"CHECKSUM TABLE `{src}`.`{table}`, `{target}`.`{table}`")
        assert checksums[0][1] == checksums[1][1]
    assert len(_query(mysql_server, f"SELECT * FROM `{target}`.log")) == 3  # the trigger did not fire

    assert "triggers, routines, events" in output
    assert f"{src}.t-schema-triggers.sql: the triggers of table `{target}`.`t`" in output
    routines = f"{src}-schema-post.sql: the stored procedures, functions and events of database `{target}`"
    assert routines in output
    for kind, column in (("TRIGGERS", "TRIGGER"), ("ROUTINES", "ROUTINE"), ("EVENTS", "EVENT")):
        found = f"SELECT * FROM information_schema.{kind} WHERE {column}_SCHEMA = '{target}'"
        assert _query(mysql_server, found) == []  # skipped by the import
