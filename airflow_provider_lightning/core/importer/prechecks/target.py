"""Checks of the target server: it answers, its version, and its tables the import writes into.

:class:`TargetCatalog` reads, once per run, which tables and views the schemas the import touches hold;
the checks here and in the other families look tables up in it instead of querying one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pymysql

from airflow_provider_lightning.core.config import Config, ConflictStrategy
from airflow_provider_lightning.core.checkpoints.model import table_key
from airflow_provider_lightning.core.identifiers import qualified_name
from airflow_provider_lightning.core.errors import LightningError
from airflow_provider_lightning.core.importer.env import ImportEnv
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    WARNING,
    CheckItem,
    listing,
    passed_item,
)
from airflow_provider_lightning.core.mydump.loader import DataSource
from airflow_provider_lightning.core.target import (
    ServerFacts,
    ServerFlavor,
    TableInfo,
    fetch_table_info,
    mysql_message,
)
from airflow_provider_lightning.core.target import as_text as _text


def check_target_reachable(env: ImportEnv) -> list[CheckItem]:
    """The target answers, as the configured user (run even with ``check-requirements = false``)."""
    name = "target reachable"
    advice = (
        "check [tidb] host, port, user and password (or the Airflow connection), and that the server runs"
    )
    try:
        facts = env.prepare().facts
        conn = env.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                (user,) = cur.fetchone()
        finally:
            conn.close()
    except (LightningError, pymysql.err.MySQLError) as exc:
        message = mysql_message(exc) if isinstance(exc, pymysql.err.MySQLError) else str(exc)
        return [CheckItem(name, CRITICAL, False, message, advice)]
    return [passed_item(name, f"{env.settings.address} as {user}: {facts.flavor.value} {facts.version}")]


def check_server_version(facts: ServerFacts, config: Config) -> CheckItem:
    """Refuse servers that cannot hold the tables the import itself creates; warn on very old ones.

    The reasons are concrete: the task-info tables (error records, progress markers) use
    ``DATETIME(6) DEFAULT NOW(6)`` (MySQL 5.6.5, MariaDB 10.0.1), and the ``mysql`` checkpoint tables have
    primary keys on ``varchar(261)`` utf8mb4 columns, longer than 767 bytes, which InnoDB allows by
    default only from MySQL 5.7.7 and MariaDB 10.2.2 (``innodb_large_prefix``, DYNAMIC rows).
    """
    name = "target version"
    flavor, version = facts.flavor, facts.version_tuple
    shown = f"{flavor.value} {'.'.join(str(p) for p in version)}"
    if flavor is ServerFlavor.TIDB or not version:
        return passed_item(name, shown)
    mysql = flavor is ServerFlavor.MYSQL
    upgrade = "upgrade the server (MySQL 5.7 or later, MariaDB 10.3 or later)"
    no_fractional_defaults = version < ((5, 6, 5) if mysql else (10, 0, 1))
    if no_fractional_defaults and config.lightning.task_info_schema_name:
        return CheckItem(
            name,
            CRITICAL,
            False,
            f"{shown} cannot create the task-info tables ({config.lightning.task_info_schema_name}): they use "
            "DATETIME(6) DEFAULT NOW(6), which needs MySQL 5.6.5 or MariaDB 10.0.1",
            upgrade,
        )
    short_keys = version < ((5, 7, 7) if mysql else (10, 2, 2))
    checkpoint = config.checkpoint
    if short_keys and checkpoint.enable and checkpoint.driver == "mysql" and not checkpoint.dsn.strip():
        return CheckItem(
            name,
            CRITICAL,
            False,
            f"{shown} limits InnoDB keys to 767 bytes by default, and the mysql checkpoint tables have "
            "primary keys on varchar(261) utf8mb4 columns (1044 bytes)",
            f'{upgrade}, or keep the checkpoints elsewhere: [checkpoint] driver = "file"',
        )
    if version < ((5, 7) if mysql else (10, 3)):
        return CheckItem(
            name,
            WARNING,
            False,
            f"{shown} is older than MySQL 5.7 / MariaDB 10.3 (both past their end of life); imports into it "
            "are not tested (the test suite runs on MariaDB 10.11)",
            upgrade,
        )
    return passed_item(name, shown)


@dataclass(frozen=True, slots=True)
class TargetTable:
    schema: str
    name: str
    engine: str
    is_view: bool


class TargetCatalog:
    """The target's tables in the schemas the import touches (two queries); column details on demand."""

    def __init__(self, conn: Any, schemas: Iterable[str], *, case_insensitive: bool = False) -> None:
        self._conn = conn
        self._fold = (lambda s: s.lower()) if case_insensitive else (lambda s: s)
        self._tables: dict[tuple[str, str], TargetTable] = {}
        self._infos: dict[tuple[str, str], TableInfo | None] = {}
        names = sorted(set(schemas))
        with conn.cursor() as cur:
            if names:
                cur.execute(
                    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES "
                    f"WHERE TABLE_SCHEMA IN ({', '.join(['%s'] * len(names))})",
                    names,
                )
                for schema, table, kind, engine in cur.fetchall():
                    found = TargetTable(_text(schema), _text(table), _text(engine), _text(kind) == "VIEW")
                    self._tables[(self._fold(found.schema), self._fold(found.name))] = found
            cur.execute("SELECT ENGINE, TRANSACTIONS FROM information_schema.ENGINES")
            self._transactional = {
                _text(engine).lower(): _text(tx).upper() == "YES" for engine, tx in cur.fetchall()
            }

    def get(self, schema: str, name: str) -> TargetTable | None:
        return self._tables.get((self._fold(schema), self._fold(name)))

    def tables_in(self, schema: str) -> list[TargetTable]:
        wanted = self._fold(schema)
        return [t for (s, _), t in sorted(self._tables.items()) if s == wanted]

    def info(self, schema: str, name: str) -> TableInfo | None:
        """Columns and keys of an existing table (cached)."""
        found = self.get(schema, name)
        if found is None:
            return None
        key = (found.schema, found.name)
        if key not in self._infos:
            self._infos[key] = fetch_table_info(self._conn, found.schema, found.name)
        return self._infos[key]

    def transactional(self, engine: str) -> bool | None:
        """Whether the engine rolls back (information_schema.ENGINES.TRANSACTIONS); None if unknown."""
        return self._transactional.get(engine.lower()) if engine else None


def check_tables_exist(source: DataSource, catalog: TargetCatalog, config: Config) -> CheckItem:
    """Every table with data files exists in the target, or has a schema file the import creates it from."""
    name = "data files have tables"
    missing, views = [], []
    for table in source.tables:
        if not table.data_files:
            continue
        found = catalog.get(table.schema, table.name)
        key = table_key(table.schema, table.name)
        if found is None:
            if table.schema_file is None or config.mydumper.no_schema:
                missing.append(key)
        elif found.is_view:
            views.append(key)
    if not missing and not views:
        count = sum(1 for t in source.tables if t.data_files)
        return passed_item(
            name, f"every table with data files ({count}) exists in the target or has a schema file"
        )
    problems = []
    if missing:
        why = (
            " (mydumper.no-schema = true: the import creates no tables)" if config.mydumper.no_schema else ""
        )
        problems.append(
            f"no table in the target and no schema file in the source for {listing(missing)}{why}"
        )
    if views:
        problems.append(f"{listing(views)} are views in the target; data cannot be imported into a view")
    return CheckItem(
        name,
        CRITICAL,
        False,
        "\n".join(problems),
        "add the -schema.sql files to the source, or create the tables in the target first; route data files "
        "away from views ([[routes]] or [[mydumper.files]])",
    )


def check_tables_empty(
    conn: Any, source: DataSource, catalog: TargetCatalog, config: Config, resuming: set[str]
) -> CheckItem:
    """Target tables that will receive rows are empty (Lightning's CHECK_TARGET_TABLE_EMPTY).

    Tables this import has checkpoints for are resuming and skipped. Rows already there are a critical
    failure under ``[conflict] strategy = "error"``, a warning when ``replace`` / ``ignore`` or
    ``parallel-import`` say that merging into them is intended.
    """
    name = "target tables empty"
    non_empty = []
    checked = 0
    for table in source.tables:
        key = table_key(table.schema, table.name)
        found = catalog.get(table.schema, table.name)
        if key in resuming or not table.data_files or found is None or found.is_view:
            continue
        checked += 1
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {qualified_name(found.schema, found.name)} LIMIT 1")
            if cur.fetchone() is not None:
                non_empty.append(key)
    if not non_empty:
        return passed_item(
            name,
            f"the target tables that receive rows are empty ({checked} checked"
            + (f", {len(resuming)} resuming)" if resuming else ")"),
        )
    strategy = config.conflict.strategy
    replacing = strategy in (ConflictStrategy.REPLACE, ConflictStrategy.IGNORE)
    merging = replacing or config.tikv_importer.parallel_import
    what = f"{listing(non_empty)} already hold rows"
    if merging:
        how = f"[conflict] strategy = {strategy.value}" if replacing else "parallel-import"
        return CheckItem(
            name,
            WARNING,
            False,
            f"{what}; the import merges into them ({how})",
            "nothing, if merging is intended; the checksum then covers the rows that were there before",
        )
    return CheckItem(
        name,
        CRITICAL,
        False,
        what,
        'empty them (TRUNCATE TABLE), or set [conflict] strategy = "replace" or "ignore" to merge into them',
    )


def check_transactional_engines(
    conn: Any, catalog: TargetCatalog, source: DataSource, task_info_schema: str
) -> CheckItem:
    """Target tables and the progress markers use an engine that rolls back (InnoDB; not MyISAM or Aria).

    A batch is one transaction with its progress marker: on an engine without transactions a failed or
    interrupted batch leaves part of its rows behind, and a resume sends them again.
    """
    name = "transactional engines"
    plain = []
    for table in source.tables:
        found = catalog.get(table.schema, table.name)
        if not table.data_files or found is None or found.is_view:
            continue
        if catalog.transactional(found.engine) is False:
            plain.append(f"{table_key(found.schema, found.name)} ({found.engine})")
    markers = ""
    if task_info_schema:
        existing = [t for t in catalog.tables_in(task_info_schema) if not t.is_view]
        if existing:
            engines = sorted({t.engine for t in existing if catalog.transactional(t.engine) is False})
            if engines:
                markers = f"the task-info tables in `{task_info_schema}` use {', '.join(engines)}"
        else:
            with conn.cursor() as cur:
                cur.execute("SELECT @@SESSION.default_storage_engine")
                default = _text(cur.fetchone()[0])
            if catalog.transactional(default) is False:
                markers = f"the task-info tables would be created with default_storage_engine = {default}"
    if not plain and not markers:
        return passed_item(name, "the target tables and the progress markers roll back", WARNING)
    lines = []
    if plain:
        lines.append(
            f"{listing(plain)} cannot roll back a batch: after a crash or a failed batch, resuming may write "
            "some of its rows twice (exact resume is not guaranteed for them)"
        )
    if markers:
        lines.append(f"{markers}: progress markers that cannot roll back make no resume exact")
    return CheckItem(
        name,
        WARNING,
        False,
        "\n".join(lines),
        "ALTER TABLE ... ENGINE = InnoDB before importing (or after, if exactness on resume does not matter)",
    )
