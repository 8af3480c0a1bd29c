"""The prechecks, each on its own, against the real MariaDB and real files; then the step as a whole.

Budget: about 15 seconds on 2 cores (a few dozen fresh databases, one real restricted user per
privilege test, files of at most a few hundred KiB).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import uuid
from pathlib import Path

import pytest
import zstandard

from airflow_provider_lightning.core.checkpoints.model import (
    CheckpointStatus,
    EngineCheckpoint,
    TableCheckpoint,
    TaskCheckpoint,
)
from airflow_provider_lightning.core.checkpoints.store import MemoryCheckpointStore
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.errors import PrecheckFailed
from airflow_provider_lightning.core.importer.plan import plan_table
from airflow_provider_lightning.core.importer.prechecks.checkpoints import check_checkpoints
from airflow_provider_lightning.core.importer.prechecks.csv_headers import check_csv_headers
from airflow_provider_lightning.core.importer.prechecks.files import (
    DATA_FORMATS,
    check_files_readable,
    check_large_files,
    check_unmatched_files,
    probe_data_files,
)
from airflow_provider_lightning.core.importer.prechecks.privileges import (
    Grants,
    check_privileges,
    parse_grant_line,
)
from airflow_provider_lightning.core.importer.prechecks.registry import (
    REGISTRY,
    BeforeSchema,
    check_before_schema,
    precheck,
)
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    WARNING,
    CheckItem,
    PrecheckReport,
)
from airflow_provider_lightning.core.importer.prechecks.row_sizes import check_row_sizes
from airflow_provider_lightning.core.importer.prechecks.schema import check_schema_files
from airflow_provider_lightning.core.importer.prechecks.sorted_kv import check_sorted_kv_dir, sorted_kv_space
from airflow_provider_lightning.core.importer.prechecks.target import (
    TargetCatalog,
    check_server_version,
    check_tables_empty,
    check_tables_exist,
    check_transactional_engines,
)
from airflow_provider_lightning.core.importer.env import ImportEnv
from airflow_provider_lightning.core.importer.steps import restore_schema, run_import
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.storage import S3Options, S3Storage
from airflow_provider_lightning.core.target import (
    ConnectionSettings,
    ServerFacts,
    ServerFlavor,
    connect,
    read_server_facts,
)

KIB = 1024


# --- helpers -------------------------------------------------------------------------------------------


def _config(source: Path, server, **sections):
    data = {
        "mydumper": {"data-source-dir": str(source)},
        "tidb": {"host": server.host, "port": server.port, "user": server.user, "password": server.password},
        "lightning": {"region-concurrency": 2},
    }
    for section, values in sections.items():
        data.setdefault(section.replace("_", "-"), {}).update(values)
    return load_config(data=data)


def _env(source: Path, server, **sections) -> ImportEnv:
    return ImportEnv(_config(source, server, **sections))


def _write(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def _sql(server, db: str | None, *statements: str) -> None:
    conn = server.connect(db)
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


@pytest.fixture
def catalog_of():
    """``catalog_of(env)``: the target's catalogue for the env's schemas; connections closed afterwards."""
    connections = []

    def make(env: ImportEnv) -> TargetCatalog:
        conn = env.connect()
        connections.append(conn)
        return TargetCatalog(conn, {t.schema for t in env.source.tables})

    yield make
    for conn in connections:
        conn.close()


def _by_name(items, name: str) -> CheckItem:
    found = [i for i in items if i.name == name]
    assert found, f"no {name!r} in {[i.name for i in items]}"
    return found[0]


# --- the report and the step ---------------------------------------------------------------------------


def test_a_clean_import_passes_every_check(mysql_server, fresh_database, tmp_path):
    db = fresh_database
    source = _write(
        tmp_path / "src",
        {
            f"{db}-schema-create.sql": f"CREATE DATABASE `{db}`;",
            f"{db}.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY, v varchar(20));",
            f"{db}.t.000000001.sql": "INSERT INTO t VALUES (1,'a'),(2,'b');",
            f"{db}.c-schema.sql": "CREATE TABLE c (id int PRIMARY KEY, v varchar(20));",
            f"{db}.c.000000001.csv": "id,v\n1,a\n",
        },
    )
    env = _env(source, mysql_server)
    restore_schema(env)
    report = precheck(env, MemoryCheckpointStore())

    assert report.failed == () and report.warnings == ()
    assert {i.name for i in report.items} >= {
        "target reachable",
        "target version",
        "privileges",
        "checkpoints",
        "data files have tables",
        "schema files",
        "data files readable",
        "CSV header",
        "large data files",
        "max_allowed_packet",
        "target tables empty",
        "transactional engines",
        "unmatched files",
    }


def test_a_critical_failure_raises_with_the_whole_report(mysql_server, fresh_database, tmp_path):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (7)")
    source = _write(tmp_path / "src", {f"{db}.t.sql": "INSERT INTO t VALUES (1);", "notes.txt": "x"})
    env = _env(source, mysql_server)

    with pytest.raises(PrecheckFailed) as failure:
        precheck(env, MemoryCheckpointStore())
    text = str(failure.value)
    assert f"`{db}`.`t` already hold rows" in text
    assert "what to do: empty them (TRUNCATE TABLE)" in text
    # the rest of the report is there too: every check ran, warnings included
    assert re.search(r"\nprivileges +pass ", text) and re.search(
        r"\nunmatched files +warn +files that match no rule", text
    )


def test_warnings_never_stop_the_import(mysql_server, fresh_database, tmp_path):
    db = fresh_database
    source = _write(
        tmp_path / "src",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY);",
            f"{db}.t.sql": "INSERT INTO t VALUES (1);",
            "README.md": "not a dump file",
        },
    )
    summary = run_import(_config(source, mysql_server), MemoryCheckpointStore())

    assert [i.name for i in summary.precheck.warnings] == ["unmatched files"]
    assert "README.md" in summary.precheck.warnings[0].message
    assert summary.tables[0].rows == 1


def test_check_requirements_false_checks_only_that_the_target_answers(mysql_server, fresh_database, tmp_path):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (7)")
    source = _write(tmp_path / "src", {f"{db}.t.sql": "INSERT INTO t VALUES (1);"})
    env = _env(source, mysql_server, lightning={"check-requirements": False})

    report = precheck(env, MemoryCheckpointStore())
    assert [i.name for i in report.items] == ["target reachable"]
    assert report.items[0].passed and "mariadb" in report.items[0].message


def test_an_unreachable_target_fails_with_a_report_not_a_traceback(mysql_server, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = _write(tmp_path / "src", {"db.t.sql": "INSERT INTO t VALUES (1);"})
    config = _config(source, mysql_server, tidb={"port": port}, lightning={"check-requirements": False})

    with pytest.raises(PrecheckFailed, match=rf"target reachable +FAIL .*127\.0\.0\.1:{port}"):
        precheck(ImportEnv(config), None)


def test_the_report_renders_advice_under_each_failure_and_serialises():
    report = PrecheckReport(
        (
            CheckItem("a check", CRITICAL, False, "line one\nline two", "do this\nthen that"),
            CheckItem("another", WARNING, True, "fine"),
        )
    )
    text = report.render()
    assert text.splitlines()[1:5] == [
        "a check  FAIL    line one",
        "                 line two",
        "                 what to do: do this",
        "                   then that",
    ]
    assert text.endswith("2 checks: 1 failed, 0 warnings")
    assert report.to_json()[0] == {
        "name": "a check",
        "severity": "critical",
        "passed": False,
        "message": "line one\nline two",
        "advice": "do this\nthen that",
    }


# --- target version --------------------------------------------------------------------------------------


def _facts(version: str, flavor: ServerFlavor, parts: tuple[int, ...]) -> ServerFacts:
    return ServerFacts(version, flavor, parts, "", 16 * 1024 * 1024, "utf8mb4", "utf8mb4_general_ci")


@pytest.mark.parametrize(
    ("facts", "checkpoint", "result"),
    [
        (_facts("10.11.19-MariaDB", ServerFlavor.MARIADB, (10, 11, 19)), {}, "pass"),
        (_facts("8.0.36", ServerFlavor.MYSQL, (8, 0, 36)), {}, "pass"),
        (_facts("8.0.11-TiDB-v7.5.0", ServerFlavor.TIDB, (7, 5, 0)), {}, "pass"),
        (_facts("5.5.62", ServerFlavor.MYSQL, (5, 5, 62)), {}, "FAIL"),  # no DATETIME(6) DEFAULT NOW(6)
        (
            _facts("10.1.48-MariaDB", ServerFlavor.MARIADB, (10, 1, 48)),
            {"driver": "mysql"},
            "FAIL",
        ),  # 767-byte keys
        (_facts("5.6.51", ServerFlavor.MYSQL, (5, 6, 51)), {"driver": "file"}, "warn"),
        (_facts("10.2.44-MariaDB", ServerFlavor.MARIADB, (10, 2, 44)), {"driver": "mysql"}, "warn"),
    ],
)
def test_very_old_servers_fail_only_for_a_concrete_reason(facts, checkpoint, result, tmp_path):
    config = load_config(data={"mydumper": {"data-source-dir": str(tmp_path)}, "checkpoint": checkpoint})
    assert check_server_version(facts, config).result == result


def test_the_real_server_is_recent_enough(mysql_server, tmp_path):
    conn = mysql_server.connect()
    facts = read_server_facts(conn)
    conn.close()
    item = check_server_version(facts, load_config(data={"mydumper": {"data-source-dir": str(tmp_path)}}))
    assert item.passed and item.message.startswith("mariadb 10.")


# --- privileges ------------------------------------------------------------------------------------------


@pytest.fixture
def restricted_user(mysql_server):
    """A real user with no privileges; ``grant(...)`` adds some. Dropped afterwards (with its roles)."""
    user = RestrictedUser(mysql_server, f"lt_u_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex)
    _sql(mysql_server, None, f"CREATE USER {user.account} IDENTIFIED BY '{user.password}'")
    yield user
    drops = [f"DROP USER IF EXISTS {user.account}", *(f"DROP ROLE IF EXISTS {r}" for r in user.roles)]
    _sql(mysql_server, None, *drops)


@dataclasses.dataclass
class RestrictedUser:
    server: object
    name: str
    password: str
    roles: list[str] = dataclasses.field(default_factory=list)

    @property
    def account(self) -> str:
        return f"'{self.name}'@'%'"

    @property
    def tidb(self) -> dict[str, str]:
        return {"user": self.name, "password": self.password}

    def grant(self, *statements: str) -> None:
        _sql(self.server, None, *(s.format(user=self.account) for s in statements))

    def role(self, *privileges: str) -> None:
        """Grant ``privileges`` to a new role, and make it this user's default role."""
        role = f"lt_r_{uuid.uuid4().hex[:10]}"
        self.roles.append(role)
        _sql(
            self.server,
            None,
            f"CREATE ROLE {role}",
            *(p.format(user=role) for p in privileges),
            f"GRANT {role} TO {self.account}",
            f"SET DEFAULT ROLE {role} FOR {self.account}",
        )

    def connect(self):
        return connect(ConnectionSettings(self.server.host, self.server.port, self.name, self.password))


def _privileges(user, source: Path, server, **sections):
    env = _env(source, server, tidb=user.tidb, **sections)
    conn = user.connect()
    try:
        return check_privileges(conn, env.config, env.source, read_server_facts(conn), env.settings)
    finally:
        conn.close()


@pytest.fixture
def privilege_source(tmp_path, fresh_database):
    db = fresh_database
    return _write(
        tmp_path / "src",
        {
            f"{db}-schema-create.sql": f"CREATE DATABASE `{db}`;",
            f"{db}.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY, v varchar(10));",
            f"{db}.t.sql": "INSERT INTO t VALUES (1,'a'),(2,'b');",
        },
    )


def test_exactly_the_privileges_the_check_asks_for_are_enough_for_a_whole_import(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, INSERT, SELECT ON `{db}`.* TO {{user}}",
        f"GRANT CREATE, INSERT, UPDATE, DELETE, SELECT ON `{info}`.* TO {{user}}",
    )
    sections = {"lightning": {"task-info-schema-name": info}, "post-restore": {"analyze": "required"}}
    items = _privileges(restricted_user, privilege_source, mysql_server, **sections)
    assert [(i.name, i.result) for i in items] == [
        ("privileges", "pass"),
        ("privileges (later steps)", "warn"),
    ]

    # the critical ones are all it takes (no DROP, no SUPER, no SET privileges): the whole import runs
    config = _config(privilege_source, mysql_server, tidb=restricted_user.tidb, **sections)
    summary = run_import(config, MemoryCheckpointStore())
    assert [t.rows for t in summary.tables] == [2] and summary.precheck.failed == ()
    assert [(p.checksum, p.analyze) for p in summary.post] == [("ok", "done")]


def test_a_missing_insert_is_critical_and_says_which_grant_fixes_it(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, SELECT, DROP ON `{db}`.* TO {{user}}",
        f"GRANT ALL ON `{info}`.* TO {{user}}",
    )
    items = _privileges(
        restricted_user, privilege_source, mysql_server, lightning={"task-info-schema-name": info}
    )

    item = _by_name(items, "privileges")
    assert item.result == "FAIL"
    assert f"INSERT on `{db}`.`t`: rows are written with INSERT" in item.message
    escaped = db.replace("_", "\\_")
    assert f"GRANT INSERT ON `{escaped}`.* TO {restricted_user.account};" in item.advice


def test_the_grant_the_check_suggests_really_is_enough(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(f"GRANT SELECT ON `{db}`.* TO {{user}}")
    sections = {"lightning": {"task-info-schema-name": info}}
    before = _privileges(restricted_user, privilege_source, mysql_server, **sections)
    for statement in _by_name(before, "privileges").advice.splitlines()[1:]:
        _sql(mysql_server, None, statement)
    after = _privileges(restricted_user, privilege_source, mysql_server, **sections)
    assert _by_name(after, "privileges").passed
    assert "DROP on" in _by_name(after, "privileges (later steps)").message  # only what ctl needs is left


def test_a_missing_drop_is_only_a_warning_about_checkpoint_error_destroy(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, INSERT, SELECT ON `{db}`.* TO {{user}}", f"GRANT ALL ON `{info}`.* TO {{user}}"
    )
    items = _privileges(
        restricted_user, privilege_source, mysql_server, lightning={"task-info-schema-name": info}
    )

    assert _by_name(items, "privileges").passed
    later = _by_name(items, "privileges (later steps)")
    assert later.severity == WARNING and not later.passed
    assert "DROP on" in later.message and "checkpoint-error-destroy" in later.message


def test_conflict_strategy_replace_needs_delete(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, INSERT, SELECT, DROP ON `{db}`.* TO {{user}}", f"GRANT ALL ON `{info}`.* TO {{user}}"
    )
    items = _privileges(
        restricted_user,
        privilege_source,
        mysql_server,
        lightning={"task-info-schema-name": info},
        conflict={"strategy": "replace"},
    )
    item = _by_name(items, "privileges")
    assert item.result == "FAIL" and f"DELETE on `{db}`.`t`" in item.message and "REPLACE" in item.message


def test_the_task_info_schema_needs_create_insert_update_delete_select(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    restricted_user.grant(
        f"GRANT CREATE, INSERT, SELECT, DROP ON `{db}`.* TO {{user}}",
        f"GRANT SELECT, INSERT ON `{info}`.* TO {{user}}",
    )
    items = _privileges(
        restricted_user, privilege_source, mysql_server, lightning={"task-info-schema-name": info}
    )
    message = _by_name(items, "privileges").message
    for privilege in ("CREATE", "UPDATE", "DELETE"):
        assert f"{privilege} on `{info}`.*" in message
    assert f"INSERT on `{info}`" not in message


def test_privileges_of_a_wildcard_database_grant_and_of_the_default_role_count(
    mysql_server, fresh_database, make_database, restricted_user, privilege_source
):
    db, info = fresh_database, make_database("lt_ti")
    prefix = db[: len(db) - 4].replace("_", "\\_")
    restricted_user.grant(f"GRANT CREATE, INSERT, SELECT ON `{prefix}%`.* TO {{user}}")
    restricted_user.role(f"GRANT ALL ON `{info}`.* TO {{user}}", f"GRANT DROP ON `{db}`.* TO {{user}}")
    items = _privileges(
        restricted_user, privilege_source, mysql_server, lightning={"task-info-schema-name": info}
    )
    assert [(i.name, i.result) for i in items] == [("privileges", "pass")]


def test_privilege_lines_of_mariadb_mysql_and_tidb_parse():
    grant, roles = parse_grant_line("GRANT SELECT, INSERT ON `shop`.* TO `u`@`%`")
    assert (grant.schema, grant.table, grant.privileges, roles) == ("shop", None, {"SELECT", "INSERT"}, [])
    grant, _ = parse_grant_line(
        "GRANT ALL PRIVILEGES ON *.* TO `lightning`@`127.0.0.1` IDENTIFIED BY PASSWORD '*F9A6' WITH GRANT OPTION"
    )
    assert (grant.schema, grant.privileges, grant.grantee) == (None, {"ALL"}, "`lightning`@`127.0.0.1`")
    grant, _ = parse_grant_line("GRANT UPDATE (`a`, `b`), DELETE, CREATE VIEW ON `d``b`.`t` TO 'u'@'h'")
    assert (grant.schema, grant.table, grant.privileges, grant.column_privileges) == (
        "d`b",
        "t",
        {"DELETE", "CREATE VIEW"},
        {"UPDATE"},
    )
    grant, _ = parse_grant_line("GRANT Select,Insert ON test.* TO 'u'@'%'")  # TiDB
    assert (grant.schema, grant.privileges) == ("test", {"SELECT", "INSERT"})
    grant, _ = parse_grant_line("REVOKE INSERT ON `mysql`.* FROM `u`@`%`")  # MySQL's partial revokes
    assert grant.revoke and grant.schema == "mysql"
    assert parse_grant_line("GRANT `r1`,`r2`@`%` TO `u`@`%`") == (None, ["r1", "r2"])
    assert parse_grant_line("GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`%`") == (None, [])
    assert parse_grant_line("GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION") == (None, [])
    assert parse_grant_line("SET DEFAULT ROLE `r` FOR `u`@`%`") == (None, [])


def test_overlapping_database_grants_that_disagree_are_reported_as_unverified():
    grants = Grants(
        [
            parse_grant_line(r"GRANT SELECT ON `app\_%`.* TO `u`@`%`")[0],
            parse_grant_line("GRANT SELECT, INSERT ON `app_db`.* TO `u`@`%`")[0],
            parse_grant_line("GRANT INSERT ON *.* TO `u`@`%`")[0],
            parse_grant_line("REVOKE INSERT ON `locked`.* FROM `u`@`%`")[0],
        ]
    )
    assert grants.check("SELECT", "app_db") == "yes"
    assert grants.check("CREATE", "app_x") == "no"
    assert grants.check("INSERT", "locked") == "no" and grants.check("INSERT", "other") == "yes"
    two = Grants(
        [
            parse_grant_line(r"GRANT CREATE ON `pc\_exp%`.* TO `u`@`%`")[0],
            parse_grant_line("GRANT SELECT ON `pc_exp1`.* TO `u`@`%`")[0],
        ]
    )
    assert two.check("CREATE", "pc_exp1") == "unsure"  # the server applies only one of the two rows


# --- checkpoints -----------------------------------------------------------------------------------------


@pytest.fixture
def one_table(tmp_path):
    return _write(
        tmp_path / "src",
        {"db.t-schema.sql": "CREATE TABLE t (id int);", "db.t.sql": "INSERT INTO t VALUES (1);"},
    )


def _task(env: ImportEnv, **changes) -> TaskCheckpoint:
    task = TaskCheckpoint(1, env.storage.url, env.settings.host, env.settings.port, "tidb", "0")
    return dataclasses.replace(task, **changes)


def _checkpoints(env: ImportEnv, store) -> CheckItem:
    return check_checkpoints(store, env.source, env.config, source_url=env.storage.url, target=env.settings)


def test_checkpoints_of_another_import_are_refused(mysql_server, one_table):
    env = _env(one_table, mysql_server)
    store = MemoryCheckpointStore()
    store.put_task(_task(env, source_url="s3://other/dump", backend="local"))

    item = _checkpoints(env, store)
    assert item.result == "FAIL"
    assert "the source is" in item.message and "s3://other/dump" in item.message and "'local'" in item.message
    assert "lightning ctl checkpoint-remove all" in item.advice


def test_a_table_in_an_error_state_gets_the_exact_ctl_commands(mysql_server, one_table):
    env = _env(one_table, mysql_server)
    store = MemoryCheckpointStore()
    store.put_task(_task(env))
    checkpoint = plan_table(env.source.tables[0], env.storage, env.config)
    store.put_table(dataclasses.replace(checkpoint, status=CheckpointStatus.ALL_WRITTEN // 10))

    item = _checkpoints(env, store)
    assert (
        item.result == "FAIL"
        and "table `db`.`t` failed in an earlier run (failed at 'all written' (6))" in item.message
    )
    assert "`lightning ctl checkpoint-error-ignore '`db`.`t`'` to continue where it stopped" in item.advice
    assert "`lightning ctl checkpoint-error-destroy '`db`.`t`'`" in item.advice


def test_a_checksum_failure_recommends_destroy(mysql_server, one_table):
    env = _env(one_table, mysql_server)
    store = MemoryCheckpointStore()
    checkpoint = plan_table(env.source.tables[0], env.storage, env.config)
    store.put_table(dataclasses.replace(checkpoint, status=CheckpointStatus.CHECKSUMMED // 10))

    item = _checkpoints(env, store)
    assert (
        "its rows differ from the source: `lightning ctl checkpoint-error-destroy '`db`.`t`'`" in item.advice
    )


def test_a_failed_engine_blocks_resuming_too(mysql_server, one_table):
    env = _env(one_table, mysql_server)
    store = MemoryCheckpointStore()
    checkpoint = plan_table(env.source.tables[0], env.storage, env.config)
    engines = (EngineCheckpoint(0, status=CheckpointStatus.IMPORTED // 10, chunks=checkpoint.chunks),)
    store.put_table(dataclasses.replace(checkpoint, engines=engines))
    assert _checkpoints(env, store).result == "FAIL"


def test_a_table_whose_files_changed_cannot_resume(mysql_server, one_table):
    env = _env(one_table, mysql_server)
    store = MemoryCheckpointStore()
    store.put_table(plan_table(env.source.tables[0], env.storage, env.config))
    assert _checkpoints(env, store).passed  # unchanged: resumes

    (one_table / "db.t.sql").write_text("INSERT INTO t VALUES (1),(2);")
    item = _checkpoints(_env(one_table, mysql_server), store)
    assert item.result == "FAIL"
    assert (
        "the input of table `db`.`t` changed since its checkpoint was made (db.t.sql is new or changed)"
        in item.message
    )
    assert "lightning ctl checkpoint-remove '`db`.`t`'" in item.advice


def test_a_checkpoint_of_a_table_no_longer_in_the_source_is_a_warning(mysql_server, one_table):
    env = _env(one_table, mysql_server)
    store = MemoryCheckpointStore()
    store.put_table(TableCheckpoint(name="`db`.`gone`"))
    item = _checkpoints(env, store)
    assert item.result == "warn" and "`db`.`gone`" in item.message


# --- tables ----------------------------------------------------------------------------------------------


def test_a_data_file_without_a_table_or_schema_file_is_critical(
    catalog_of, mysql_server, fresh_database, tmp_path
):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE present (id int)", "CREATE VIEW v AS SELECT 1 AS id")
    source = _write(
        tmp_path / "src",
        {
            f"{db}.present.sql": "INSERT INTO present VALUES (1);",
            f"{db}.absent.sql": "INSERT INTO absent VALUES (1);",
            f"{db}.planned-schema.sql": "CREATE TABLE planned (id int);",
            f"{db}.planned.sql": "INSERT INTO planned VALUES (1);",
            f"{db}.v.sql": "INSERT INTO v VALUES (1);",
        },
    )
    env = _env(source, mysql_server)
    item = check_tables_exist(env.source, catalog_of(env), env.config)
    assert item.result == "FAIL"
    assert item.message.splitlines() == [
        f"no table in the target and no schema file in the source for `{db}`.`absent`",
        f"`{db}`.`v` are views in the target; data cannot be imported into a view",
    ]

    no_schema = _env(source, mysql_server, mydumper={"no-schema": True})
    assert (
        f"`{db}`.`planned`"
        in check_tables_exist(no_schema.source, catalog_of(no_schema), no_schema.config).message
    )


def test_files_that_match_no_rule_are_listed(tmp_path, mysql_server):
    source = _write(tmp_path / "src", {"db.t.sql": "", "stray.bin": b"\0", "notes/readme.txt": "x"})
    item = check_unmatched_files(_env(source, mysql_server).source)
    assert item.result == "warn" and "notes/readme.txt, stray.bin" in item.message


def test_a_non_empty_target_table_is_critical_unless_merging_is_asked_for(
    mysql_server, fresh_database, tmp_path
):
    db = fresh_database
    _sql(
        mysql_server,
        db,
        "CREATE TABLE full (id int PRIMARY KEY)",
        "INSERT INTO full VALUES (1)",
        "CREATE TABLE empty (id int PRIMARY KEY)",
    )
    source = _write(
        tmp_path / "src",
        {
            f"{db}.full.sql": "INSERT INTO full VALUES (2);",
            f"{db}.empty.sql": "INSERT INTO empty VALUES (2);",
        },
    )

    def check(resuming=frozenset(), **sections):
        env = _env(source, mysql_server, **sections)
        conn = env.connect()
        try:
            return check_tables_empty(conn, env.source, TargetCatalog(conn, {db}), env.config, set(resuming))
        finally:
            conn.close()

    assert check().result == "FAIL" and check().message == f"`{db}`.`full` already hold rows"
    assert check(conflict={"strategy": "ignore"}).result == "warn"
    assert check(tikv_importer={"parallel-import": True}).result == "warn"
    assert check(resuming={f"`{db}`.`full`"}).passed  # this import wrote them: it resumes


def test_myisam_and_aria_tables_cannot_resume_exactly(mysql_server, fresh_database, make_database, tmp_path):
    db, info = fresh_database, make_database("lt_ti")
    _sql(
        mysql_server,
        db,
        "CREATE TABLE m (id int) ENGINE=MyISAM",
        "CREATE TABLE a (id int) ENGINE=Aria",
        "CREATE TABLE i (id int) ENGINE=InnoDB",
    )
    _sql(mysql_server, info, "CREATE TABLE import_progress_v1 (id int) ENGINE=MyISAM")
    source = _write(tmp_path / "src", {f"{db}.{t}.sql": f"INSERT INTO {t} VALUES (1);" for t in "mai"})
    env = _env(source, mysql_server)
    conn = env.connect()
    try:
        item = check_transactional_engines(conn, TargetCatalog(conn, {db, info}), env.source, info)
    finally:
        conn.close()
    assert item.result == "warn"
    assert f"`{db}`.`a` (Aria), `{db}`.`m` (MyISAM) cannot roll back a batch" in item.message
    assert f"the task-info tables in `{info}` use MyISAM" in item.message


# --- schema and data files -------------------------------------------------------------------------------


def test_every_broken_schema_file_is_reported_with_offset_and_line(tmp_path, mysql_server):
    source = _write(
        tmp_path / "src",
        {
            "db-schema-create.sql": "CREATE DATABASE db;",
            "db.good-schema.sql": "CREATE TABLE good (id int);",
            "db.open-schema.sql": "CREATE TABLE open (\n  id int COMMENT 'never closed\n);",
            "db.none-schema.sql": "-- nothing here\nSELECT 1;\n",
        },
    )
    env = _env(source, mysql_server)
    item = check_schema_files(env.storage, env.source, env.config, workers=2)
    assert item.result == "FAIL" and item.message.startswith("2 of 4 schema files cannot be read:")
    lines = item.message.splitlines()[1:]
    assert any(line.startswith("db.open-schema.sql at byte ") and "line 2" in line for line in lines)
    assert any(
        line.startswith("db.none-schema.sql at byte 26: line 3: expected a CREATE TABLE") for line in lines
    )


def test_files_that_cannot_be_opened_or_decompressed_at_their_start_are_critical(tmp_path, mysql_server):
    good = b"INSERT INTO t VALUES (1);"
    source = _write(
        tmp_path / "src",
        {
            "db.t.000000001.sql.gz": gzip.compress(good),
            "db.t.000000002.sql.zst": zstandard.ZstdCompressor().compress(good),
            "db.t.000000003.sql.gz": b"this is not gzip at all",
            "db.t.000000004.sql.gz": b"",
            "db.t.000000005.sql.zst": b"\x28\xb5\x2f\xfd garbage",
            "db.t.000000006.sql": good,
            "db.p.000000001.parquet": b"CSV,pretending\n",
        },
    )
    env = _env(source, mysql_server)
    probes = probe_data_files(env.storage, env.source, env.config, workers=3)
    item = check_files_readable(probes)

    assert item.result == "FAIL" and item.message.startswith("4 of 7 data files cannot be read:")
    broken = sorted(item.message.splitlines()[1:])
    assert [line.split(" at byte ")[0] for line in broken] == [
        "db.p.000000001.parquet",
        "db.t.000000003.sql.gz",
        "db.t.000000004.sql.gz",
        "db.t.000000005.sql.zst",
    ]
    assert (
        "not gzip data" in broken[1] and "the file is empty" in broken[2] and "no 'PAR1' magic" in broken[0]
    )


@pytest.mark.slow  # starts the local S3 server (once per session)
def test_files_on_s3_are_probed_through_the_same_decompression(s3_server, tmp_path, mysql_server):
    local = _write(
        tmp_path / "src",
        {
            "db.t.000000001.sql.gz": gzip.compress(b"INSERT INTO t VALUES (1);"),
            "db.t.000000002.sql.gz": b"not gzip",
            "db.c.csv": "a,b\n1,2\n",
        },
    )
    bucket = s3_server.make_bucket()
    s3_server.upload_dir(local, bucket, "dump")
    options = S3Options(s3_server.endpoint_url, s3_server.region, s3_server.access_key, s3_server.secret_key)
    env = ImportEnv(_config(local, mysql_server), storage=S3Storage(bucket, "dump", options))
    probes = probe_data_files(env.storage, env.source, env.config, workers=2)

    item = check_files_readable(probes)
    assert item.result == "FAIL" and item.message.startswith("1 of 3 data files cannot be read:")
    assert "\ndb.t.000000002.sql.gz at byte 0: the file is not gzip data" in item.message
    assert {p.file.path: p.header for p in probes}["db.c.csv"] == ("a", "b")


def test_a_csv_header_must_name_columns_of_the_table(catalog_of, mysql_server, fresh_database, tmp_path):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE t (id int PRIMARY KEY, v varchar(10), g int AS (id + 1) VIRTUAL)")
    source = _write(
        tmp_path / "src",
        {
            f"{db}.t.000000001.csv": "id,v\n1,a\n",
            f"{db}.t.000000002.csv": "id,value,g\n2,b,3\n",
        },
    )
    env = _env(source, mysql_server)
    probes = probe_data_files(env.storage, env.source, env.config)
    (item,) = check_csv_headers(probes, catalog_of(env), env.config)
    assert item.result == "FAIL"
    assert f"{db}.t.000000002.csv (table `{db}`.`t`): no column 'value'" in item.message
    assert "'g' generated, cannot be written" in item.message
    assert "header-schema-match = false" in item.advice


def test_a_header_leaving_out_a_column_without_default_fails_only_in_strict_mode(
    catalog_of, mysql_server, fresh_database, tmp_path
):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE t (id int PRIMARY KEY, must int NOT NULL, opt int)")
    source = _write(tmp_path / "src", {f"{db}.t.csv": "id,opt\n1,2\n"})
    env = _env(source, mysql_server)
    probes = probe_data_files(env.storage, env.source, env.config)
    catalog = catalog_of(env)
    (strict,) = check_csv_headers(probes, catalog, env.config, strict_sql_mode=True)
    (lax,) = check_csv_headers(probes, catalog, env.config, strict_sql_mode=False)
    assert strict.result == "FAIL" and f"{db}.t.csv (table `{db}`.`t`): must" in strict.message
    assert lax.result == "warn" and "implicit default" in lax.message


def test_a_header_row_with_header_false_is_detected_as_lightning_does(
    catalog_of, mysql_server, fresh_database, tmp_path
):
    db = fresh_database
    _sql(
        mysql_server,
        db,
        "CREATE TABLE k (id int PRIMARY KEY, name varchar(20))",
        "CREATE TABLE s (a varchar(20), b varchar(20))",
        "CREATE TABLE n (a varchar(20), b varchar(20))",
    )
    source = _write(
        tmp_path / "src",
        {
            f"{db}.k.1.csv": "id,name\n1,x\n",
            f"{db}.k.2.csv": "id,name\n2,y\n",  # same first row, key column
            f"{db}.s.csv": "a,b\nx,y\n",  # names, but could be data: a warning
            f"{db}.n.1.csv": "x,y\n",
            f"{db}.n.2.csv": "z,w\n",  # rows differ: not headers
        },
    )
    env = _env(source, mysql_server, mydumper={"csv": {"header": False}})
    probes = probe_data_files(env.storage, env.source, env.config)
    (item,) = check_csv_headers(probes, catalog_of(env), env.config)
    assert item.result == "FAIL"  # critical: the key column makes it certain
    assert f"`{db}`.`k` ({db}.k.1.csv), `{db}`.`s` ({db}.s.csv)" in item.message
    assert "header = true" in item.advice

    (only_s,) = check_csv_headers([p for p in probes if p.table.name != "k"], catalog_of(env), env.config)
    assert only_s.result == "warn"


def test_a_header_value_that_cannot_be_stored_in_its_column_makes_it_critical(
    catalog_of, mysql_server, fresh_database, tmp_path
):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE t (n int, label varchar(20))")
    source = _write(tmp_path / "src", {f"{db}.t.csv": "n,label\n1,x\n"})
    env = _env(source, mysql_server, mydumper={"csv": {"header": False}})
    (item,) = check_csv_headers(
        probe_data_files(env.storage, env.source, env.config), catalog_of(env), env.config
    )
    assert item.result == "FAIL"  # 'n' is no INT: the server would reject or mangle the row


# --- sizes -----------------------------------------------------------------------------------------------


def test_large_files_that_cannot_be_split_are_a_warning(tmp_path, mysql_server):
    source = _write(
        tmp_path / "src",
        {
            "db.c.csv": "1,a\n" * 300,
            "db.s.sql": "INSERT INTO s VALUES " + ",".join(["(1)"] * 300) + ";",
            "db.z.csv.gz": gzip.compress(
                b"".join(b"%d,%s\n" % (i, os.urandom(8).hex().encode()) for i in range(100))
            ),
            "db.small.csv": "1,a\n",
        },
    )
    env = _env(source, mysql_server)
    (item,) = check_large_files(env.source, env.config, threshold=1000)
    assert item.result == "warn" and item.message.startswith(
        "files over 1000 B that cannot be split (3) are each read by one worker"
    )
    assert "strict-format = true" in item.advice and "-F" in item.advice and "compressed" in item.advice

    strict = _env(source, mysql_server, mydumper={"strict-format": True, "csv": {"terminator": "\n"}})
    (item, region) = check_large_files(strict.source, strict.config, threshold=1000)
    assert "db.c.csv" not in item.message and "db.s.sql" in item.message
    assert region.name == "strict-format" and region.passed


def test_strict_format_with_an_empty_terminator_is_critical_as_in_lightning(tmp_path, mysql_server):
    source = _write(tmp_path / "src", {"db.c.csv": "1,a\n"})
    env = _env(source, mysql_server)
    config = dataclasses.replace(
        env.config, mydumper=dataclasses.replace(env.config.mydumper, strict_format=True)
    )
    items = check_large_files(env.source, config)
    assert _by_name(items, "strict-format").result == "FAIL"


def test_a_tiny_max_region_size_warns_about_checkpoint_size(tmp_path, mysql_server):
    source = _write(tmp_path / "src", {"db.c.csv": "1,a\n" * 30_000})
    env = _env(
        source,
        mysql_server,
        mydumper={"strict-format": True, "max-region-size": 10, "csv": {"terminator": "\n"}},
    )
    assert _by_name(check_large_files(env.source, env.config), "strict-format").result == "warn"


def _rows_check(env: ImportEnv, packet: int, **kwargs) -> CheckItem:
    return check_row_sizes(env.storage, env.source, env.config, packet, **kwargs)


def test_files_smaller_than_the_packet_are_not_read(tmp_path, mysql_server):
    source = _write(tmp_path / "src", {"db.t.sql": "INSERT INTO t VALUES (1);", "db.c.csv": "1,2\n"})
    item = _rows_check(_env(source, mysql_server), 64 * KIB)
    assert item.passed and item.message.startswith("every data file is smaller than max_allowed_packet")


def test_a_row_larger_than_the_packet_is_critical_naming_file_and_offset(tmp_path, mysql_server):
    big = "x" * (80 * KIB)
    head = "INSERT INTO t VALUES (1,'a'),\n(2,'b'),\n"
    source = _write(
        tmp_path / "src",
        {
            "db.t.sql": head + f"(3,'{big}'),\n(4,'c');\n",
            "db.c.csv": "a,b\n" + "1,x\n" * 10 + f"2,{big}\n",
            "db.z.sql.gz": gzip.compress(f"INSERT INTO z VALUES (1,'{big}');".encode()),
            "db.ok.sql": "INSERT INTO ok VALUES "
            + ",".join(f"({i},'{'y' * 100}')" for i in range(2000))
            + ";",
        },
    )
    item = _rows_check(_env(source, mysql_server, mydumper={"csv": {"header": False}}), 64 * KIB)

    assert item.result == "FAIL"
    lines = item.message.splitlines()
    assert lines[0].startswith(
        "max_allowed_packet is 65536 bytes (64.0 KiB); sampled the first 4.0 MiB of 4 file(s)"
    )
    row = len(f"(3,'{big}')")
    assert (
        f"db.t.sql at byte {len(head)}: a row of 80.0 KiB ({row} bytes) does not fit in one statement"
        in lines
    )
    assert any(line.startswith("db.c.csv at byte 44: a row of 80.0 KiB") for line in lines)
    assert any(line.startswith("db.z.sql.gz at byte 21:") for line in lines)
    assert not any("db.ok.sql" in line for line in lines)
    assert "SET GLOBAL max_allowed_packet = 1048576;" in item.advice


def test_the_row_sample_is_bounded(tmp_path, mysql_server):
    filler = ",".join(f"({i})" for i in range(20_000))
    source = _write(tmp_path / "src", {"db.t.sql": f"INSERT INTO t VALUES {filler},('{'x' * 70 * KIB}');"})
    env = _env(source, mysql_server)
    assert _rows_check(env, 64 * KIB, sample_bytes=16 * KIB).passed  # the big row lies beyond the sample
    assert _rows_check(env, 64 * KIB).result == "FAIL"


# --- the physical backend's disk -------------------------------------------------------------------------


def test_sorted_kv_dir_space_and_placement(tmp_path, mysql_server):
    source = _write(tmp_path / "src", {"db.t.sql": "INSERT INTO t VALUES (1);"})
    sorted_dir = tmp_path / "kv" / "not-yet"
    env = _env(source, mysql_server, tikv_importer={"backend": "local", "sorted-kv-dir": str(sorted_dir)})
    space, placement = check_sorted_kv_dir(env.config, env.source, env.storage.url)
    assert space.passed and space.severity == CRITICAL and "free for about 25 B" in space.message
    assert placement.result == "warn" and "on the same disk" in placement.message


def test_sorted_kv_dir_space_follows_lightnings_rule():
    assert sorted_kv_space(10, 100, 1 << 62).passed
    short = sorted_kv_space(100, 10, 1 << 62)
    assert short.result == "FAIL" and "disk-quota below" in short.advice
    assert (
        sorted_kv_space(100, 10, 1 << 62, compressed=True).result == "warn"
    )  # sizes of compressed files say little
    assert sorted_kv_space(100, 10, 5).passed  # runs within disk-quota, slower


# --- every check with a real import around it ------------------------------------------------------------


def test_a_resumed_table_is_not_refused_for_holding_its_own_rows(mysql_server, fresh_database, tmp_path):
    from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore

    db = fresh_database
    source = _write(
        tmp_path / "src",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY);",
            f"{db}.t.sql": "INSERT INTO t VALUES (1),(2);",
        },
    )
    config = _config(source, mysql_server, checkpoint={"keep-after-success": "origin"})
    run_import(config, FileCheckpointStore(tmp_path / "cp.json"))

    report = precheck(ImportEnv(config), FileCheckpointStore(tmp_path / "cp.json"))
    assert report.item("target tables empty").passed
    assert report.item("checkpoints").message.startswith("tables resuming from file")
    with pytest.raises(PrecheckFailed, match="already hold rows"):
        precheck(ImportEnv(config), MemoryCheckpointStore())


def test_catalog_lookups_follow_lower_case_table_names(mysql_server, fresh_database):
    db = fresh_database
    _sql(mysql_server, db, "CREATE TABLE Mixed (id int)")
    conn = mysql_server.connect()
    try:
        assert TargetCatalog(conn, {db}).get(db, "Mixed") is not None
        assert TargetCatalog(conn, {db}).get(db, "mixed") is None
        assert TargetCatalog(conn, {db}, case_insensitive=True).get(db.upper(), "MIXED") is not None
    finally:
        conn.close()


# --- the registry ----------------------------------------------------------------------------------------


def test_every_check_is_registered_once_with_its_severity():
    names = [check.name for check in REGISTRY]
    assert len(names) == len(set(names))
    assert {check.severity for check in REGISTRY} <= {CRITICAL, WARNING}


def test_every_data_format_has_one_entry_in_the_file_checks_table():
    assert set(DATA_FORMATS) == {kind for kind in SourceType if kind.is_data}


def test_the_report_and_the_checks_before_the_schema_follow_the_registry(
    mysql_server, fresh_database, tmp_path
):
    db = fresh_database
    source = _write(
        tmp_path / "src",
        {
            f"{db}.t-schema.sql": "CREATE TABLE t (id int PRIMARY KEY);",
            f"{db}.t.000000001.csv": "id\n1\n",
            "notes.txt": "x",
        },
    )
    env = _env(source, mysql_server)

    before = check_before_schema(env)
    assert [i.name for i in before.items] == ["existing objects", "privileges"]
    assert [c.name for c in REGISTRY if c.before_schema is not BeforeSchema.NO] == [
        "privileges",
        "existing objects",
        "definers",
    ]
    restore_schema(env)
    ran = [i.name for i in precheck(env, MemoryCheckpointStore()).items]
    assert ran[0] == "target reachable"
    registered = [c.name for c in REGISTRY]
    assert [n for n in ran if n in registered] == [n for n in registered if n in ran]
    assert "source layout" not in ran and "sorted-kv-dir" not in ran  # they do not apply here
