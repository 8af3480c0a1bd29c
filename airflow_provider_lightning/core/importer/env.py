"""One process's view of an import (:class:`ImportEnv`) and the first step, ``prepare``, that fills it in.

Every step takes an :class:`ImportEnv`: the configuration, what ``prepare`` found about the target (the
JSON :class:`PreparedImport` the TaskGroup passes by XCom), the source listing and the connections. It
lives apart from ``steps.py`` so that the prechecks, which need it too, do not import the steps that run
them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from airflow_provider_lightning.core.backend.progress import ProgressMarkers
from airflow_provider_lightning.core.backend.registry import require_backend
from airflow_provider_lightning.core.checkpoints.model import table_key
from airflow_provider_lightning.core.config import Config, ConflictStrategy
from airflow_provider_lightning.core.errormanager import ErrorLimits, ErrorManager
from airflow_provider_lightning.core.errors import CheckpointError
from airflow_provider_lightning.core.importer.lease import TableLeases
from airflow_provider_lightning.core.importer.session import ImportSession, decide_session
from airflow_provider_lightning.core.importer.table import BatchLimits
from airflow_provider_lightning.core.mydump.loader import DataSource, TableSource, discover
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.storage import Storage, open_source_file, open_storage
from airflow_provider_lightning.core.target import (
    ConnectionSettings,
    ServerFacts,
    ServerFlavor,
    ServerVersion,
    connect,
    connection_security,
    read_server_facts,
)
from airflow_provider_lightning.core.tls import tls_from_lightning

log = logging.getLogger(__name__)

_PACKET_OVERHEAD = 16 * 1024
LIGHTNING_LOGICAL_BATCH_SIZE = 96 * 1024
MYSQL_LOGICAL_BATCH_SIZE = 1024 * 1024

@dataclass(frozen=True, slots=True)
class PreparedImport:
    """What ``prepare`` found out; every later step takes it (the TaskGroup passes it by XCom)."""

    facts: ServerFacts
    session: ImportSession
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"facts": self.facts.to_json(), "session": self.session.to_json(), "warnings": list(self.warnings)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreparedImport:
        return cls(
            ServerFacts.from_json(data["facts"]),
            ImportSession.from_json(data["session"]),
            tuple(data.get("warnings", ())),
        )

def connection_settings(config: Config) -> ConnectionSettings:
    tidb = config.tidb
    security = tidb.security
    tls = tls_from_lightning(
        tidb.tls, ca_path=security.ca_path, cert_path=security.cert_path, key_path=security.key_path
    )
    return ConnectionSettings(host=tidb.host, port=tidb.port, user=tidb.user, password=tidb.password, tls=tls)


class ImportEnv:
    """One process's view of an import: the config, what ``prepare`` found, the source and the target.

    Built anew in every step (each may run in its own process); the source is listed once per process.
    """

    def __init__(
        self,
        config: Config,
        prepared: PreparedImport | None = None,
        *,
        settings: ConnectionSettings | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.config = config
        self._prepared = prepared
        self.settings = settings or connection_settings(config)
        self._storage = storage

    def prepare(self) -> PreparedImport:
        """What ``prepare`` found: given to the constructor (the TaskGroup passes it by XCom), or found now
        by running ``prepare`` — which connects to the target — the first time a step needs it."""
        if self._prepared is None:
            self._prepared = prepare(self.config, env=self)
        return self._prepared

    @cached_property
    def storage(self) -> Storage:
        return self._storage or open_storage(self.config.mydumper.data_source_dir)

    @cached_property
    def source(self) -> DataSource:
        m = self.config.mydumper
        found = discover(
            self.storage,
            file_rules=m.files,
            default_file_rules=m.default_file_rules,
            filter=m.filter,
            routes=self.config.routes,
            case_sensitive=m.case_sensitive,
            black_white_list=getattr(self.config, "black_white_list", None),
        )
        return found  # discover logged its warnings

    def table_source(self, name: str) -> TableSource:
        for table in self.source.tables:
            if table_key(table.schema, table.name) == name:
                return table
        raise CheckpointError(
            f"table {name} is not in the data source {self.source.url} (any more): its files were removed or "
            "the filter or routes changed; run `lightning ctl checkpoint-remove` for it"
        )

    @property
    def server(self) -> ServerVersion:
        return self.prepare().facts.server_version

    def connect(self, *, data: bool = False):
        """A catalogue connection, or (``data``) a binary one in the import session."""
        conn = connect(self.settings, binary=data)
        if data:
            with conn.cursor() as cur:
                for sql in self.prepare().session.statements():
                    cur.execute(sql)
        return conn

    @property
    def task_info_schema(self) -> str:
        return self.config.lightning.task_info_schema_name

    def error_manager(self, import_id: int) -> ErrorManager:
        conflict = self.config.conflict
        max_error = self.config.lightning.max_error
        limits = ErrorLimits(
            type=max_error.type,
            conflict=conflict.threshold,
            # The logical backend finds each row a REPLACE takes away, so it can record them all.
            max_record_rows=(
                conflict.threshold if conflict.strategy is ConflictStrategy.REPLACE else conflict.max_record_rows
            ),
        )
        return ErrorManager(self.task_info_schema, import_id, limits)

    def markers(self, import_id: int) -> ProgressMarkers | None:
        return ProgressMarkers(self.task_info_schema, import_id) if self.task_info_schema else None

    def table_leases(self) -> TableLeases | None:
        """The owner leases of the target's tables (None without a task-info schema to keep them in)."""
        if not self.task_info_schema:
            return None
        lightning = self.config.lightning
        return TableLeases(
            self.connect,
            self.task_info_schema,
            duration=lightning.table_lease_duration,
            wait=lightning.table_lease_wait,
            shared_locks=self.prepare().facts.flavor is not ServerFlavor.TIDB,
        )

    def batch_limits(self) -> BatchLimits:
        """``logical-import-batch-size`` / ``-rows``, within the server's max_allowed_packet.

        Lightning's 96 KiB default suits TiDB's transaction limits; MySQL and MariaDB load measurably
        faster with statements of about 1 MiB (mydumper's own statement size), so that is the default
        for them unless the key is set.
        """
        packet = self.prepare().facts.max_allowed_packet
        wanted = self.config.tikv_importer.logical_import_batch_size
        if (
            not _written(self.config, "tikv-importer.logical-import-batch-size")
            and self.prepare().facts.flavor is not ServerFlavor.TIDB
        ):
            wanted = MYSQL_LOGICAL_BATCH_SIZE
        return BatchLimits(
            bytes=max(1024, min(wanted, packet - _PACKET_OVERHEAD)),
            rows=self.config.tikv_importer.logical_import_batch_rows,
        )

def prepare(
    config: Config,
    *,
    settings: ConnectionSettings | None = None,
    storage: Storage | None = None,
    env: ImportEnv | None = None,
) -> PreparedImport:
    """Validate, connect, read the server's facts and decide the import session (Lightning's setGlobalVariables).

    Pass ``env`` to reuse its listing of the source.
    """
    if env is None:
        env = ImportEnv(config, settings=settings, storage=storage)
    settings = env.settings
    require_backend(config)  # an unavailable backend fails here, before anything is written
    conn = connect(settings)
    try:
        facts = read_server_facts(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.time_zone")
            server_zone = cur.fetchone()[0]
        security = connection_security(conn)
    finally:
        conn.close()
    server_zone = server_zone.decode() if isinstance(server_zone, bytes) else str(server_zone)
    header = _first_sql_data_header(env)
    session, warnings = decide_session(
        sql_mode=config.tidb.sql_mode,
        session_vars=dict(config.tidb.session_vars),
        facts=facts,
        dump_header=header,
        server_time_zone=server_zone,
        sql_mode_written=_written(config, "tidb.sql-mode"),
    )
    for warning in warnings:
        log.warning("%s", warning)
    for key in getattr(config, "ignored_keys", ()):
        log.info("config key '%s' is accepted for compatibility with Lightning but has no effect here", key)
    log.info(
        "target %s is %s %s; max_allowed_packet %d; sql_mode %s; time_zone %s; connected in %s",
        settings.address, facts.flavor.value, facts.version, facts.max_allowed_packet, session.sql_mode,
        session.time_zone, security,
    )
    return PreparedImport(facts, session, tuple(warnings))


def _written(config: Config, key: str) -> bool:
    """Whether the user wrote ``key``: this provider's own defaults apply only to keys left out."""
    written = getattr(config, "written", None)
    return bool(written(key)) if written is not None else False


def _first_sql_data_header(env: ImportEnv) -> bytes | None:
    """The first 4 KiB of the first SQL data file: where dumps say ``SET TIME_ZONE``."""
    for table in env.source.tables:
        for file in table.data_files:
            if file.type == SourceType.SQL:
                with open_source_file(env.storage, file.path, file.compression, 0) as f:
                    return f.read(4096)
    return None
