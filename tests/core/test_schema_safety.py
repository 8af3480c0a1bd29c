"""What the schema step may touch: never an object it did not create, only CREATE statements, views that
read with their invoker's privileges, and every privilege checked before the first DDL.

The dump files are untrusted input: these tests are written as an attacker (or a careless operator) would
try it, against the real MariaDB and, where the issue asks for it, through the real ``lightning`` command.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pymysql
import pytest

from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.errors import PrecheckFailed
from airflow_provider_lightning.core.importer.prechecks.registry import precheck
from airflow_provider_lightning.core.importer.env import ImportEnv
from airflow_provider_lightning.core.importer.steps import restore_schema, run_import
from airflow_provider_lightning.core.mydump.schema import rewrite_definer
from tests.core.test_cli import run_lightning, write_config
from tests.core.test_precheck import RestrictedUser, restricted_user  # noqa: F401 - a fixture

VIEW_OVER_TABLE = "CREATE VIEW important AS SELECT 1 AS a;\n"
# What mydumper writes for a view whose definer could read everything, made to read the users' table.
LEAKING_VIEW = (
    "/*!40101 SET NAMES binary*/;\n"
    "DROP TABLE IF EXISTS `leak`;\n"
    "DROP VIEW IF EXISTS `leak`;\n"
    "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `leak` AS "
    "select `mysql`.`user`.`User` AS `User`,`mysql`.`user`.`Host` AS `Host` from `mysql`.`user`;\n"
)
ACCESS_DENIED = (1142, 1143, 1356)  # table / column access denied; a view whose invoker lacks rights


# --- helpers -------------------------------------------------------------------------------------------


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


def _sql(server, db: str | None, *statements: str) -> list[tuple]:
    conn = server.connect(db)
    try:
        rows: list[tuple] = []
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
                rows = list(cur.fetchall())
        return rows
    finally:
        conn.close()


def _objects(server, db: str) -> dict[str, str]:
    """``{name: TABLE_TYPE}`` of every table and view of ``db``."""
    rows = _sql(
        server, None, f"SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"
    )
    return {name: kind for name, kind in rows}


def _config(source: Path, server, task_info: str, tidb: dict | None = None, **sections):
    data = {
        "mydumper": {"data-source-dir": str(source)},
        "tidb": {"host": server.host, "port": server.port, "user": server.user, "password": server.password},
        "lightning": {"region-concurrency": 2, "task-info-schema-name": task_info},
    }
    data["tidb"].update(tidb or {})
    for section, values in sections.items():
        data.setdefault(section.replace("_", "-"), {}).update(values)
    return load_config(data=data)


def _import_with_cli(server, source: Path, tmp_path: Path, task_info: str, extra: str = ""):
    config = write_config(tmp_path / "tidb-lightning.toml", task_info, extra)
    return run_lightning(
        "import", "--source", str(source), "--target", server.url, "-c", str(config),
        "--checkpoint-file", str(tmp_path / "checkpoints.json"), "--no-progress",
    )


@pytest.fixture
def reader(mysql_server, fresh_database):
    """A low-privilege user that may only SELECT from the imported database; dropped afterwards."""
    name, password = f"lt_reader_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    _sql(
        mysql_server,
        None,
        f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON `{fresh_database}`.* TO '{name}'@'%'",
    )
    yield lambda: pymysql.connect(
        host=mysql_server.host, port=mysql_server.port, user=name, password=password, database=fresh_database
    )
    _sql(mysql_server, None, f"DROP USER IF EXISTS '{name}'@'%'")


# --- never destroy what the import did not create ------------------------------------------------------


def test_a_view_file_never_replaces_a_table_of_its_name_and_the_import_stops_before_any_ddl(
    mysql_server, fresh_database, make_database, tmp_path
):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE important (a int)", "INSERT INTO important VALUES (1), (2), (3)")
    source = _write(
        tmp_path / "dump",
        {
            f"{db}.important-schema-view.sql": VIEW_OVER_TABLE,
            f"{db}.other-schema.sql": "CREATE TABLE other (id int PRIMARY KEY);\n",
            f"{db}.other.000000001.sql": "INSERT INTO other VALUES (1);\n",
        },
    )

    run = _import_with_cli(mysql_server, source, tmp_path, make_database("lt_ti"))

    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "Traceback" not in output
    assert "existing objects" in output
    assert f"`{db}`.`important`: the dump has a view ({db}.important-schema-view.sql)" in output
    assert "the target has a table of that name" in output
    assert _sql(mysql_server, db, "SELECT a FROM important ORDER BY a") == [(1,), (2,), (3,)]
    assert _objects(mysql_server, db) == {"important": "BASE TABLE"}  # `other` was never created either


def test_a_table_in_the_dump_where_the_target_has_a_view_stops_the_import(
    mysql_server, fresh_database, make_database, tmp_path
):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE base (id int)", "CREATE VIEW t AS SELECT id FROM base")
    source = _write(
        tmp_path / "dump",
        {f"{db}.t-schema.sql": "CREATE TABLE t (id int);\n", f"{db}.t.000000001.sql": "INSERT INTO t VALUES (7);\n"},
    )

    with pytest.raises(PrecheckFailed) as failed:
        run_import(_config(source, mysql_server, make_database("lt_ti")), MemoryCheckpointStore())

    assert f"`{db}`.`t`: the dump has a table ({db}.t-schema.sql), the target has a view" in str(failed.value)
    assert _objects(mysql_server, db) == {"base": "BASE TABLE", "t": "VIEW"}
    assert _sql(mysql_server, db, "SELECT COUNT(*) FROM base") == [(0,)]  # nothing written through the view


def test_the_precheck_report_lists_the_same_clash(mysql_server, fresh_database, make_database, tmp_path):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE important (a int)")
    source = _write(tmp_path / "dump", {f"{db}.important-schema-view.sql": VIEW_OVER_TABLE})
    env = ImportEnv(_config(source, mysql_server, make_database("lt_ti")))

    with pytest.raises(PrecheckFailed) as failed:
        precheck(env, None)

    line = next(line for line in str(failed.value).splitlines() if line.startswith("existing objects"))
    assert "FAIL" in line
    assert f"`{db}`.`important`: the dump has a view" in str(failed.value)


def test_check_requirements_false_still_never_replaces_a_table_with_a_view(
    mysql_server, fresh_database, make_database, tmp_path
):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE important (a int)", "INSERT INTO important VALUES (1)")
    source = _write(tmp_path / "dump", {f"{db}.important-schema-view.sql": VIEW_OVER_TABLE})
    config = _config(source, mysql_server, make_database("lt_ti"), lightning={"check-requirements": False})

    with pytest.raises(PrecheckFailed, match="existing objects"):
        run_import(config, MemoryCheckpointStore())

    assert _sql(mysql_server, db, "SELECT a FROM important") == [(1,)]


def test_restore_schema_runs_nothing_but_create_statements_and_use(
    mysql_server, fresh_database, make_database, tmp_path
):
    db = fresh_database
    source = _write(
        tmp_path / "dump",
        {
            f"{db}-schema-create.sql": f"/*!40101 SET NAMES binary*/;\nDROP DATABASE IF EXISTS `{db}`;\nCREATE DATABASE `{db}`;\n",
            f"{db}.t-schema.sql": "/*!40101 SET NAMES binary*/;\nDROP TABLE IF EXISTS `t`;\nCREATE TABLE t (id int);\n",
            f"{db}.v-schema.sql": "CREATE TABLE `v` (`id` tinyint NOT NULL);\n",  # mydumper's placeholder
            f"{db}.v-schema-view.sql": "DROP TABLE IF EXISTS `v`;\nDROP VIEW IF EXISTS `v`;\n"
            "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select `id` from `t`;\n",
        },
    )
    env = ImportEnv(_config(source, mysql_server, make_database("lt_ti")))

    executed = restore_schema(env)

    assert [statement.split(" ", 1)[0] for statement in executed] == ["CREATE", "CREATE", "USE", "CREATE"]
    assert executed[-1] == f"CREATE OR REPLACE ALGORITHM=UNDEFINED SQL SECURITY INVOKER VIEW `{db}`.`v` AS select `id` from `t`"
    assert _objects(mysql_server, db) == {"t": "BASE TABLE", "v": "VIEW"}


def test_importing_a_view_again_replaces_only_the_view_it_made(mysql_server, fresh_database, make_database, tmp_path):
    db = fresh_database
    source = _write(
        tmp_path / "dump",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY);\n",
            f"{db}.t.000000001.sql": "INSERT INTO t VALUES (1), (2);\n",
            f"{db}.v-schema-view.sql": "CREATE VIEW v AS SELECT id FROM t;\n",
        },
    )
    config = _config(source, mysql_server, make_database("lt_ti"), checkpoint={"enable": False})
    run_import(config, MemoryCheckpointStore())
    _sql(mysql_server, db, "DELETE FROM t")

    run_import(config, MemoryCheckpointStore())

    assert _objects(mysql_server, db) == {"t": "BASE TABLE", "v": "VIEW"}
    assert _sql(mysql_server, db, "SELECT id FROM v ORDER BY id") == [(1,), (2,)]


# --- only CREATE statements run; the rest is listed ----------------------------------------------------


def test_statements_beside_a_create_are_listed_in_the_report_and_never_run(
    mysql_server, fresh_database, make_database, tmp_path
):
    db, victim = fresh_database, make_database("lt_victim")
    schema = (
        "/*!40101 SET NAMES binary*/;\n"
        f"DROP DATABASE `{victim}`;\n"
        "CREATE TABLE t (id int PRIMARY KEY, v int);\n"
        "GRANT ALL ON *.* TO 'lt_nobody'@'%';\n"
        "INSERT INTO t VALUES (99, 99);\n"
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = 0;\n"
    )
    source = _write(
        tmp_path / "dump", {f"{db}.t-schema.sql": schema, f"{db}.t.000000001.sql": "INSERT INTO t VALUES (1, 1);\n"}
    )

    summary = run_import(_config(source, mysql_server, make_database("lt_ti")), MemoryCheckpointStore())

    item = summary.precheck.item("schema statements")
    assert item is not None and item.result == "warn"
    path = f"{db}.t-schema.sql"
    for line, what in ((2, "DROP DATABASE"), (4, "GRANT"), (5, "INSERT"), (6, "CREATE TRIGGER")):
        assert f"{path} line {line}: {what}\n" in item.message + "\n"
    assert "run them yourself after the import" in item.advice
    assert _sql(mysql_server, db, "SELECT id, v FROM t") == [(1, 1)]  # no trigger set v, no row 99
    assert _sql(mysql_server, None, f"SHOW DATABASES LIKE '{victim}'") == [(victim,)]
    assert _sql(mysql_server, None, "SELECT COUNT(*) FROM mysql.user WHERE User = 'lt_nobody'") == [(0,)]


def test_what_the_dumpers_write_around_a_view_is_skipped_without_a_warning(
    mysql_server, fresh_database, make_database, tmp_path
):
    db = fresh_database
    source = _write(tmp_path / "dump", {f"{db}.leak-schema-view.sql": LEAKING_VIEW})

    summary = run_import(_config(source, mysql_server, make_database("lt_ti")), MemoryCheckpointStore())

    item = summary.precheck.item("schema statements")
    assert item.passed and "2 statements the dumpers write around a CREATE" in item.message


# --- definers ------------------------------------------------------------------------------------------


def test_a_dumped_definer_view_reading_mysql_user_is_refused_to_a_low_privilege_reader(
    mysql_server, fresh_database, make_database, tmp_path, reader
):
    db = fresh_database
    source = _write(tmp_path / "dump", {f"{db}.leak-schema-view.sql": LEAKING_VIEW})

    run = _import_with_cli(mysql_server, source, tmp_path, make_database("lt_ti"))
    assert run.returncode == 0, run.stdout + run.stderr

    conn = reader()
    try:
        with pytest.raises(pymysql.err.OperationalError) as refused, conn.cursor() as cur:
            cur.execute("SELECT * FROM leak")
    finally:
        conn.close()
    assert refused.value.args[0] in ACCESS_DENIED
    (definer, security), = _sql(
        mysql_server, None,
        f"SELECT DEFINER, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '{db}'",
    )
    (current,), = _sql(mysql_server, None, "SELECT CURRENT_USER()")
    assert (definer, security) == (current, "INVOKER")


def test_keep_definer_keeps_the_dumps_definer_and_security(
    mysql_server, fresh_database, make_database, tmp_path, reader
):
    db = fresh_database
    source = _write(tmp_path / "dump", {f"{db}.leak-schema-view.sql": LEAKING_VIEW})

    run = _import_with_cli(
        mysql_server, source, tmp_path, make_database("lt_ti"), extra="[mydumper]\nkeep-definer = true\n"
    )
    assert run.returncode == 0, run.stdout + run.stderr

    assert _sql(
        mysql_server, None,
        f"SELECT DEFINER, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '{db}'",
    ) == [("root@localhost", "DEFINER")]
    conn = reader()
    try:
        with conn.cursor() as cur:  # what the setting means: the view reads as root, for anyone
            cur.execute("SELECT COUNT(*) FROM leak WHERE User = 'root'")
            assert cur.fetchone()[0] >= 1
    finally:
        conn.close()


def test_keep_definer_without_the_privilege_to_use_another_definer_stops_before_any_ddl(
    mysql_server, fresh_database, make_database, tmp_path, restricted_user
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(f"GRANT ALL ON `{db}`.* TO {{user}}", f"GRANT ALL ON `{info}`.* TO {{user}}")
    source = _write(
        tmp_path / "dump",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int);\n",
            f"{db}.v-schema-view.sql": "CREATE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT 1 AS a;\n",
        },
    )
    config = _config(source, mysql_server, info, tidb=restricted_user.tidb, mydumper={"keep-definer": True})

    with pytest.raises(PrecheckFailed) as failed:
        run_import(config, MemoryCheckpointStore())

    message = str(failed.value)
    assert "definers" in message and "SET USER or SUPER" in message
    assert f"`{db}`.`v` (DEFINER='root'@'localhost')" in message
    assert "leave mydumper.keep-definer unset" in message
    assert _objects(mysql_server, db) == {}


def test_keep_definer_needs_no_extra_privilege_when_the_definer_is_the_importing_user(
    mysql_server, fresh_database, make_database, tmp_path, restricted_user
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(f"GRANT ALL ON `{db}`.* TO {{user}}", f"GRANT ALL ON `{info}`.* TO {{user}}")
    view = f"CREATE DEFINER=`{restricted_user.name}`@`%` SQL SECURITY DEFINER VIEW v AS SELECT 1 AS a;\n"
    source = _write(tmp_path / "dump", {f"{db}.v-schema-view.sql": view})
    config = _config(source, mysql_server, info, tidb=restricted_user.tidb, mydumper={"keep-definer": True})

    summary = run_import(config, MemoryCheckpointStore())

    assert summary.precheck.item("definers").passed
    assert _sql(
        mysql_server, None,
        f"SELECT DEFINER, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '{db}'",
    ) == [(f"{restricted_user.name}@%", "DEFINER")]


# --- least privilege: a missing privilege is named before any DDL --------------------------------------


def test_a_user_without_create_view_is_stopped_before_any_ddl(
    mysql_server, fresh_database, make_database, tmp_path, restricted_user
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, INSERT, SELECT, DROP ON `{db}`.* TO {{user}}", f"GRANT ALL ON `{info}`.* TO {{user}}"
    )
    source = _write(
        tmp_path / "dump",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int);\n",
            f"{db}.t.000000001.sql": "INSERT INTO t VALUES (1);\n",
            f"{db}.v-schema-view.sql": "CREATE VIEW v AS SELECT id FROM t;\n",
        },
    )

    with pytest.raises(PrecheckFailed) as failed:
        run_import(_config(source, mysql_server, info, tidb=restricted_user.tidb), MemoryCheckpointStore())

    assert f"CREATE VIEW on `{db}`.`v`: views are created" in str(failed.value)
    assert _objects(mysql_server, db) == {}


def test_the_privileges_the_check_asks_for_import_a_dump_with_views(
    mysql_server, fresh_database, make_database, tmp_path, restricted_user
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, CREATE VIEW, INSERT, SELECT, DROP ON `{db}`.* TO {{user}}",
        f"GRANT CREATE, INSERT, UPDATE, DELETE, SELECT ON `{info}`.* TO {{user}}",
    )
    source = _write(
        tmp_path / "dump",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int);\n",
            f"{db}.t.000000001.sql": "INSERT INTO t VALUES (1);\n",
            f"{db}.v-schema-view.sql": "CREATE DEFINER=`root`@`localhost` VIEW v AS SELECT id FROM t;\n",
        },
    )

    summary = run_import(_config(source, mysql_server, info, tidb=restricted_user.tidb), MemoryCheckpointStore())

    assert summary.precheck.failed == ()
    assert _objects(mysql_server, db) == {"t": "BASE TABLE", "v": "VIEW"}


def test_a_user_without_insert_and_create_on_the_task_info_schema_is_stopped_before_any_ddl(
    mysql_server, fresh_database, make_database, tmp_path, restricted_user
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, INSERT, SELECT, DROP ON `{db}`.* TO {{user}}",
        f"GRANT SELECT, UPDATE, DELETE ON `{info}`.* TO {{user}}",
    )
    source = _write(
        tmp_path / "dump",
        {f"{db}.t-schema.sql": "CREATE TABLE t (id int);\n", f"{db}.t.000000001.sql": "INSERT INTO t VALUES (1);\n"},
    )

    with pytest.raises(PrecheckFailed) as failed:
        run_import(_config(source, mysql_server, info, tidb=restricted_user.tidb), MemoryCheckpointStore())

    message = str(failed.value)
    assert f"CREATE on `{info}`.*" in message and f"INSERT on `{info}`.*" in message
    assert "the task-info schema holds the error tables" in message
    assert _objects(mysql_server, db) == {}


# --- the same definer rule for triggers, routines and events (not imported yet) ------------------------

ROUTINES = {
    "procedure": "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`(IN a int) COMMENT 'c' READS SQL DATA "
    "SQL SECURITY DEFINER SELECT a",
    "function": "CREATE DEFINER=`root`@`localhost` FUNCTION `f`(a int) RETURNS varchar(10) CHARSET utf8mb4 "
    "DETERMINISTIC RETURN 'x'",
}


@pytest.mark.parametrize("kind", sorted(ROUTINES))
def test_a_routine_loses_its_definer_and_runs_as_its_invoker(mysql_server, fresh_database, kind):
    rewritten = rewrite_definer(ROUTINES[kind].encode(), keep_definer=False).decode()

    _sql(mysql_server, fresh_database, rewritten)

    (current,), = _sql(mysql_server, None, "SELECT CURRENT_USER()")
    assert _sql(
        mysql_server, None,
        "SELECT DEFINER, SECURITY_TYPE FROM information_schema.ROUTINES "
        f"WHERE ROUTINE_SCHEMA = '{fresh_database}' AND ROUTINE_TYPE = '{kind.upper()}'",
    ) == [(current, "INVOKER")]


def test_a_trigger_and_an_event_lose_their_definer(mysql_server, fresh_database):
    trigger = (
        "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t "
        "FOR EACH ROW SET NEW.a = 1 */"
    )
    event = "CREATE DEFINER=`root`@`localhost` EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t"

    _sql(
        mysql_server,
        fresh_database,
        "CREATE TABLE t (a int)",
        rewrite_definer(trigger.encode(), keep_definer=False).decode(),
        rewrite_definer(event.encode(), keep_definer=False).decode(),
    )

    (current,), = _sql(mysql_server, None, "SELECT CURRENT_USER()")
    where = f"WHERE TRIGGER_SCHEMA = '{fresh_database}'"
    assert _sql(mysql_server, None, f"SELECT DEFINER FROM information_schema.TRIGGERS {where}") == [(current,)]
    where = f"WHERE EVENT_SCHEMA = '{fresh_database}'"
    assert _sql(mysql_server, None, f"SELECT DEFINER FROM information_schema.EVENTS {where}") == [(current,)]


def test_keep_definer_leaves_a_routine_as_dumped():
    assert rewrite_definer(ROUTINES["procedure"].encode(), keep_definer=True) == ROUTINES["procedure"].encode()
