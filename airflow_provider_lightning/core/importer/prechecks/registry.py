"""The prechecks, registered once each, and the two steps that run them (Lightning's ``BuildPrecheckItem``).

:data:`REGISTRY` lists every check in report order: its name, the worst severity it reports, when it
applies, and whether ``restore_schema`` also runs it before its first DDL. :func:`precheck` (the precheck
step) and :func:`check_before_schema` (inside ``restore_schema``) loop over it; a new check is one
:class:`RegisteredCheck` entry. "target reachable" is not in it: it runs first, alone, because every
registered check needs the connection it proves (and it runs even with ``check-requirements = false``).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pymysql

from airflow_provider_lightning.core.config import BackendKind, Config
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.errors import LightningError, PrecheckFailed
from airflow_provider_lightning.core.importer.env import ImportEnv
from airflow_provider_lightning.core.importer.prechecks.checkpoints import check_checkpoints
from airflow_provider_lightning.core.importer.prechecks.csv_headers import (
    check_csv_headers,
    is_strict_sql_mode,
)
from airflow_provider_lightning.core.importer.prechecks.files import (
    FileProbe,
    check_files_readable,
    check_large_files,
    check_schema_objects,
    check_source_layout,
    check_unmatched_files,
    probe_data_files,
)
from airflow_provider_lightning.core.importer.prechecks.privileges import check_privileges
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    WARNING,
    CheckItem,
    PrecheckReport,
)
from airflow_provider_lightning.core.importer.prechecks.row_sizes import check_row_sizes
from airflow_provider_lightning.core.importer.prechecks.schema import (
    check_definers,
    check_existing_objects,
    check_schema_files,
    check_schema_statements,
)
from airflow_provider_lightning.core.importer.prechecks.sorted_kv import check_sorted_kv_dir
from airflow_provider_lightning.core.importer.prechecks.target import (
    TargetCatalog,
    check_server_version,
    check_tables_empty,
    check_tables_exist,
    check_target_reachable,
    check_transactional_engines,
)
from airflow_provider_lightning.core.target import mysql_message

log = logging.getLogger(__name__)


def _scan_workers(config: Config) -> int:
    """Threads for reading the source: bounded, like restore_schema's (I/O bound on S3)."""
    return min(32, max(4, 2 * config.lightning.region_concurrency))


class CheckContext:
    """What the checks of one run share, read once: one connection, the target's catalogue, the probes."""

    def __init__(self, env: ImportEnv, store: CheckpointStore | None, conn: Any) -> None:
        self.env = env
        self.store = store
        self.conn = conn
        self.config = env.config
        self.source = env.source
        self.facts = env.prepare().facts
        self.workers = _scan_workers(env.config)
        self.resuming = set(store.table_names()) if store is not None else set()
        schemas = {t.schema for t in self.source.tables} | {v.schema for v in self.source.views}
        if env.task_info_schema:
            schemas.add(env.task_info_schema)
        self.catalog = TargetCatalog(conn, schemas, case_insensitive=self.facts.lower_case_table_names != 0)
        self._probes: list[FileProbe] | None = None

    def probes(self) -> list[FileProbe]:
        """The first block of every data file, read once, by the first check that asks.

        If reading fails, that check reports it and the later ones get no probes rather than a second try.
        """
        if self._probes is None:
            self._probes = []
            self._probes = probe_data_files(self.env.storage, self.source, self.config, workers=self.workers)
        return self._probes


class BeforeSchema(enum.Enum):
    """Whether ``restore_schema`` runs a check before its first DDL too (keeping its critical items only)."""

    NO = "no"
    ALWAYS = "always"
    """Even with ``check-requirements = false``: what it guards against could not be undone."""
    WITH_REQUIREMENTS = "with requirements"
    """Unless ``check-requirements = false``."""


Found = CheckItem | list[CheckItem]


def _always(context: CheckContext) -> bool:
    return True


def _with_schema(context: CheckContext) -> bool:
    return not context.config.mydumper.no_schema


@dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """One precheck: ``run`` returns its items. In the precheck step, one that raises a LightningError or a
    server error is reported as a check that could not run; before the schema, the error propagates."""

    name: str
    severity: str
    """The worst its items can be (one that could not run is critical, whatever this says)."""
    run: Callable[[CheckContext], Found]
    applies: Callable[[CheckContext], bool] = _always
    before_schema: BeforeSchema = BeforeSchema.NO


REGISTRY: tuple[RegisteredCheck, ...] = (
    RegisteredCheck("target version", CRITICAL, lambda c: check_server_version(c.facts, c.config)),
    RegisteredCheck(
        "privileges",
        CRITICAL,
        lambda c: check_privileges(c.conn, c.config, c.source, c.facts, c.env.settings),
        before_schema=BeforeSchema.WITH_REQUIREMENTS,
    ),
    RegisteredCheck(
        "checkpoints",
        CRITICAL,
        lambda c: check_checkpoints(
            c.store, c.source, c.config, source_url=c.env.storage.url, target=c.env.settings
        ),
        applies=lambda c: c.store is not None and c.config.checkpoint.enable,
    ),
    RegisteredCheck(
        "data files have tables", CRITICAL, lambda c: check_tables_exist(c.source, c.catalog, c.config)
    ),
    RegisteredCheck("unmatched files", WARNING, lambda c: check_unmatched_files(c.source)),
    RegisteredCheck(
        "triggers, routines, events",
        WARNING,
        lambda c: check_schema_objects(c.source),
        applies=lambda c: bool(c.source.schema_objects),
    ),
    RegisteredCheck(
        "source layout",
        WARNING,
        lambda c: check_source_layout(c.source),
        applies=lambda c: bool(c.source.warnings),
    ),
    RegisteredCheck(
        "existing objects",
        CRITICAL,
        lambda c: check_existing_objects(c.catalog, c.source, c.config),
        before_schema=BeforeSchema.ALWAYS,
    ),
    RegisteredCheck(
        "schema files",
        CRITICAL,
        lambda c: check_schema_files(c.env.storage, c.source, c.config, workers=c.workers),
        applies=_with_schema,
    ),
    RegisteredCheck(
        "schema statements",
        WARNING,
        lambda c: check_schema_statements(c.env.storage, c.source, c.config, workers=c.workers),
        applies=_with_schema,
    ),
    RegisteredCheck(
        "definers",
        CRITICAL,
        lambda c: check_definers(c.conn, c.env.storage, c.source, c.config, c.facts),
        applies=lambda c: _with_schema(c) and c.config.mydumper.keep_definer and bool(c.source.views),
        before_schema=BeforeSchema.WITH_REQUIREMENTS,
    ),
    RegisteredCheck("data files readable", CRITICAL, lambda c: check_files_readable(c.probes())),
    RegisteredCheck(
        "CSV header",
        CRITICAL,
        lambda c: check_csv_headers(
            c.probes(),
            c.catalog,
            c.config,
            strict_sql_mode=is_strict_sql_mode(c.env.prepare().session.sql_mode),
        ),
    ),
    RegisteredCheck("large data files", CRITICAL, lambda c: check_large_files(c.source, c.config)),
    RegisteredCheck(
        "max_allowed_packet",
        CRITICAL,
        lambda c: check_row_sizes(
            c.env.storage,
            c.source,
            c.config,
            c.facts.max_allowed_packet,
            c.catalog,
            workers=min(4, c.workers),
        ),
    ),
    RegisteredCheck(
        "target tables empty",
        CRITICAL,
        lambda c: check_tables_empty(c.conn, c.source, c.catalog, c.config, c.resuming),
    ),
    RegisteredCheck(
        "transactional engines",
        WARNING,
        lambda c: check_transactional_engines(c.conn, c.catalog, c.source, c.env.task_info_schema),
    ),
    RegisteredCheck(
        "sorted-kv-dir",
        CRITICAL,
        lambda c: check_sorted_kv_dir(c.config, c.source, c.env.storage.url),
        applies=lambda c: c.config.tikv_importer.backend is BackendKind.LOCAL,
    ),
)


def _items(found: Found) -> list[CheckItem]:
    return found if isinstance(found, list) else [found]


def _run(check: RegisteredCheck, context: CheckContext) -> list[CheckItem]:
    began = time.monotonic()
    try:
        found = check.run(context)
    except (LightningError, pymysql.err.MySQLError) as exc:
        message = mysql_message(exc) if isinstance(exc, pymysql.err.MySQLError) else str(exc)
        found = CheckItem(check.name, CRITICAL, False, f"the check could not run: {message}")
    log.debug("precheck %s took %.3fs", check.name, time.monotonic() - began)
    return _items(found)


def precheck(env: ImportEnv, store: CheckpointStore | None) -> PrecheckReport:
    """Run every registered check that applies; raise :class:`PrecheckFailed` (the whole report) if a
    critical one fails."""
    config = env.config
    started = time.monotonic()
    items = check_target_reachable(env)
    if all(i.passed for i in items) and config.lightning.check_requirements:
        conn = env.connect()
        try:
            context = CheckContext(env, store, conn)
            for check in REGISTRY:
                if check.applies(context):
                    items += _run(check, context)
        finally:
            conn.close()
    elif not config.lightning.check_requirements:
        log.info("prechecks skipped (lightning.check-requirements = false); only the target was checked")
    report = PrecheckReport(tuple(items))
    log.info("precheck report (%.1fs):\n%s", time.monotonic() - started, report.render())
    if report.failed:
        raise PrecheckFailed("prechecks failed:\n" + report.render())
    return report


def check_before_schema(env: ImportEnv) -> PrecheckReport:
    """The checks ``restore_schema`` runs before its first DDL, so that a failure leaves the target as it was.

    Those registered :attr:`BeforeSchema.ALWAYS` ("existing objects": the import never replaces what it
    did not create) run first, then, unless ``check-requirements = false``, those registered
    :attr:`BeforeSchema.WITH_REQUIREMENTS` (the privileges and, with ``mydumper.keep-definer``, the
    definers); only their critical items count here. They run again, in the full report, in ``precheck``.
    """
    stages = [BeforeSchema.ALWAYS]
    if env.config.lightning.check_requirements:
        stages.append(BeforeSchema.WITH_REQUIREMENTS)
    items: list[CheckItem] = []
    conn = env.connect()
    try:
        context = CheckContext(env, None, conn)
        for stage in stages:
            for check in REGISTRY:
                if check.before_schema is stage and check.applies(context):
                    items += [i for i in _items(check.run(context)) if i.severity == CRITICAL]
    finally:
        conn.close()
    report = PrecheckReport(tuple(items))
    if report.failed:
        raise PrecheckFailed("prechecks failed (before the schema was created):\n" + report.render())
    return report
