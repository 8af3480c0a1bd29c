"""Lightning's seven steps, each a function that a separate process can run.

``prepare`` -> ``restore_schema`` -> ``precheck`` -> ``init_checkpoint`` -> ``import_table`` (per table)
-> ``post_process`` -> ``clean_checkpoints``. What one step hands to the next is small and JSON
(:class:`PreparedImport`, table names, :class:`TableResult`), so the Airflow tasks of the TaskGroup and
the ``lightning`` command run the very same functions; everything else a step needs it reads from the
configuration, the source and the checkpoint store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from airflow_provider_lightning import __version__
from airflow_provider_lightning.core.backend import Backend
from airflow_provider_lightning.core.backend.logical import TargetUnavailable
from airflow_provider_lightning.core.backend.registry import BackendContext, open_backend
from airflow_provider_lightning.core.checkpoints.model import (
    CheckpointStatus,
    TableCheckpoint,
    TaskCheckpoint,
    describe_status,
    failed_status,
    is_error_status,
    table_key,
)
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.checksum import (
    RowChecksum,
    compare_checksums,
    fetch_target_checksum,
    fetch_target_checksum_concurrently,
    rounds_fractional_seconds,
    string_findings,
)
from airflow_provider_lightning.core.config import Config, ConflictStrategy, KeepAfterSuccess
from airflow_provider_lightning.core.identifiers import qualified_name, quote_identifier
from airflow_provider_lightning.core.errormanager import ErrorManager
from airflow_provider_lightning.core.errors import (
    CheckpointError,
    ChecksumMismatch,
    LightningError,
    PrecheckFailed,
    TargetError,
    printable,
)
from airflow_provider_lightning.core.importer.env import ImportEnv
from airflow_provider_lightning.core.importer.prechecks.registry import check_before_schema, precheck
from airflow_provider_lightning.core.importer.prechecks.report import PrecheckReport
from airflow_provider_lightning.core.importer.prechecks.schema import check_schema_files
from airflow_provider_lightning.core.importer.lease import LeaseOwner, TableLease, TableLeaseLost
from airflow_provider_lightning.core.importer.plan import csv_dialect, plan_options, plan_table, table_fingerprint
from airflow_provider_lightning.core.importer.progress import ImportProgress
from airflow_provider_lightning.core.importer.table import (
    CheckpointSaver,
    ChunkOptions,
    TableImporter,
    reconcile_with_markers,
)
from airflow_provider_lightning.core.mydump.csv_parser import DEFAULT_MAX_ROW_SIZE
from airflow_provider_lightning.core.mydump.loader import TableSource
from airflow_provider_lightning.core.mydump.formats import ParserOptions, data_format
from airflow_provider_lightning.core.mydump.schema import connection_charset, parse_schema_file, rewrite_create
from airflow_provider_lightning.core.storage import (
    MAX_SCHEMA_FILE_SIZE,
    Compression,
    Storage,
    read_whole_file,
)
from airflow_provider_lightning.core.target import (
    ConnectionSettings,
    TableInfo,
    fetch_table_info,
    mysql_message,
)

log = logging.getLogger(__name__)

# Checkpoint progress reaches the store at most this often; the target's markers are exact in between.
CHECKPOINT_SAVE_INTERVAL = 2.0


@dataclass(frozen=True, slots=True)
class TableResult:
    """What ``import_table`` did to one table, and what ``post_process`` needs to check it.

    ``checksum`` is the rows' net contribution to the target (rows written, minus rows ``replace`` took
    away); ``checksum_before`` what the table held before the import; ``columns`` the column list the
    files carried (None: every column), or ``mixed_columns`` when files differ.
    """

    table: str
    rows: int
    bytes: int
    seconds: float
    status: int
    checksum: RowChecksum = field(default_factory=RowChecksum)
    checksum_before: RowChecksum | None = None
    columns: tuple[str, ...] | None = None
    mixed_columns: bool = False
    type_errors: int = 0
    conflicts: int = 0
    rows_written: int = 0  # by this call: less than ``rows`` when it resumed

    @classmethod
    def from_checkpoint(cls, checkpoint: TableCheckpoint, *, total_bytes: int, seconds: float = 0.0,
                        type_errors: int = 0, conflicts: int = 0, rows_written: int = 0) -> TableResult:
        column_sets = {c.columns for c in checkpoint.chunks if c.rows or c.finished}
        return cls(
            table=checkpoint.name,
            rows=checkpoint.rows,
            bytes=total_bytes,
            seconds=seconds,
            status=checkpoint.status,
            checksum=checkpoint.checksum,
            checksum_before=checkpoint.checksum_before,
            columns=next(iter(column_sets)) if len(column_sets) == 1 else None,
            mixed_columns=len(column_sets) > 1,
            type_errors=type_errors,
            conflicts=conflicts,
            rows_written=rows_written,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "status": int(self.status),
            "checksum": self.checksum.to_json(),
            "checksum_before": self.checksum_before.to_json() if self.checksum_before else None,
            "columns": list(self.columns) if self.columns is not None else None,
            "mixed_columns": self.mixed_columns,
            "type_errors": self.type_errors,
            "conflicts": self.conflicts,
            "rows_written": self.rows_written,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableResult:
        before = data.get("checksum_before")
        columns = data.get("columns")
        return cls(
            table=data["table"],
            rows=data["rows"],
            bytes=data["bytes"],
            seconds=data["seconds"],
            status=data["status"],
            checksum=RowChecksum.from_json(data.get("checksum")),
            checksum_before=RowChecksum.from_json(before) if before else None,
            columns=tuple(columns) if columns is not None else None,
            mixed_columns=data.get("mixed_columns", False),
            type_errors=data.get("type_errors", 0),
            conflicts=data.get("conflicts", 0),
            rows_written=data.get("rows_written", 0),
        )


@dataclass(frozen=True, slots=True)
class PostProcessResult:
    table: str
    checksum: str  # "ok", "mismatch", "skipped: <reason>", "off", "done earlier"
    analyze: str
    expected: RowChecksum | None = None
    actual: RowChecksum | None = None
    status: int = CheckpointStatus.IMPORTED  # the last status reached

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "checksum": self.checksum,
            "analyze": self.analyze,
            "expected": self.expected.to_json() if self.expected else None,
            "actual": self.actual.to_json() if self.actual else None,
        }


def _row_size_limit(max_allowed_packet: int) -> dict[str, Any]:
    """The parsers' row limit: the server's packet when smaller than theirs (a longer row cannot be sent)."""
    if max_allowed_packet >= DEFAULT_MAX_ROW_SIZE:
        return {"max_row_size": DEFAULT_MAX_ROW_SIZE, "max_row_size_source": ""}
    return {
        "max_row_size": max_allowed_packet,
        "max_row_size_source": "the target's max_allowed_packet: no INSERT can carry a longer row; raise it "
        "on the server if the row is genuine",
    }


# --- 2. restore_schema ---------------------------------------------------------------------------------


def restore_schema(env: ImportEnv) -> list[str]:
    """Create databases, then tables, then views, idempotently; return the statements run."""
    config = env.config
    if config.mydumper.no_schema:
        log.info("mydumper.no-schema is set: using the target's existing tables")
        return []
    source = env.source
    server = env.server
    charset = config.mydumper.character_set
    if config.lightning.check_requirements:
        # Every broken schema file in one report, before the first CREATE runs.
        item = check_schema_files(env.storage, source, config, workers=max(2, config.lightning.region_concurrency))
        if not item.passed:
            advice = f"\n{item.advice}" if item.advice else ""
            raise PrecheckFailed(f"schema files that cannot be read:\n{item.message}{advice}")
    # Before the first DDL: no object of another kind in the way, and every privilege the import needs.
    check_before_schema(env)

    def read(path: str, compression: Compression) -> bytes:
        return read_whole_file(env.storage, path, compression, limit=MAX_SCHEMA_FILE_SIZE, what="schema file")

    def database_sql(db) -> list[str]:
        if db.schema_file is None:
            return [f"CREATE DATABASE IF NOT EXISTS {quote_identifier(db.name)}"]
        parsed = parse_schema_file(
            read(db.schema_file.path, db.schema_file.compression), path=db.schema_file.path, kind="database",
            charset=charset,
        )
        return rewrite_create(parsed, target_schema=db.name, server=server)

    def table_sql(table: TableSource) -> list[str]:
        if table.schema_file is None:
            return []
        parsed = parse_schema_file(
            read(table.schema_file.path, table.schema_file.compression), path=table.schema_file.path,
            kind="table", charset=charset,
        )
        statements = rewrite_create(parsed, target_schema=table.schema, target_name=table.name, server=server)
        # The server reads the CREATE's string literals (ENUM members, defaults) into the connection
        # charset the file set, as `mariadb < file` does; the session is utf8mb4 otherwise.
        names = connection_charset(parsed)
        if names is None:
            return statements
        return [f"SET SESSION character_set_connection = {names}", *statements]

    def view_sql(view) -> list[str]:
        parsed = parse_schema_file(
            read(view.schema_file.path, view.schema_file.compression), path=view.schema_file.path, kind="view",
            charset=charset,
        )
        return rewrite_create(
            parsed,
            target_schema=view.schema,
            target_name=view.name,
            server=server,
            source_schema=view.schema_file.source_schema,
            keep_definer=config.mydumper.keep_definer,
        )

    executed: list[str] = []

    def run(statements: Sequence[str], what: str) -> None:
        if not statements:
            return
        # A utf8mb4 session (not the data path's binary one: DDL defaults must be read as text), and no
        # foreign key checks: tables are created in any order.
        conn = env.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                for sql in statements:
                    try:
                        cur.execute(sql)
                    except Exception as exc:
                        raise TargetError(
                            f"creating {what} failed: {mysql_message(exc)}; statement: {sql[:300]}"
                        ) from exc
        finally:
            conn.close()
        executed.extend(statements)

    workers = max(2 * config.lightning.region_concurrency, 4)
    def origin(file) -> str:
        return f" (from {file.path})" if file is not None else ""

    for db in source.databases:
        run(database_sql(db), f"database `{db.name}`{origin(db.schema_file)}")
    with ThreadPoolExecutor(workers, thread_name_prefix="schema") as pool:
        list(pool.map(
            lambda t: run(table_sql(t), f"table {table_key(t.schema, t.name)}{origin(t.schema_file)}"), source.tables
        ))
    for view in source.views:  # views may use each other: one at a time, in name order
        run(view_sql(view), f"view {table_key(view.schema, view.name)}{origin(view.schema_file)}")
    log.info(
        "schema restored: %d databases, %d tables, %d views",
        len(source.databases), len(source.tables), len(source.views),
    )
    return executed


# --- 4. init_checkpoint ----------------------------------------------------------------------------------


def default_checkpoint_file(source_url: str, target: ConnectionSettings) -> Path:
    """Where the file checkpoint of (source, target) lives when ``[checkpoint] dsn`` is not set."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(f"{source_url}\0{target.host}:{target.port}".encode()).hexdigest()[:16]
    return base / "airflow-provider-lightning" / "checkpoints" / f"{digest}.json"


def init_checkpoint(
    env: ImportEnv, store: CheckpointStore, *, import_id: int | None = None, plan_tables: bool = True
) -> list[str]:
    """Create or load the task checkpoint and each table's; return the sorted table names to import.

    With ``plan_tables=False`` (Airflow: each ``import_table`` task instance plans its own table in its
    own state store) only the task checkpoint is made here.

    A table whose stored fingerprint differs from its current input is refused, never skipped: the
    message names what changed and the ``lightning ctl`` command that starts it over.
    """
    config = env.config
    current = TaskCheckpoint(
        import_id=import_id if import_id is not None else time.time_ns() // 1000,
        source_url=env.storage.url,
        target_host=env.settings.host,
        target_port=env.settings.port,
        backend=config.tikv_importer.backend.value,
        version=__version__,
        sorted_kv_dir=config.tikv_importer.sorted_kv_dir,
    )
    stored = store.get_task()
    if stored is None:
        store.put_task(current)
        task = current
    else:
        _verify_task(stored, current, store)
        task = stored
    _prepare_task_info_schema(env, task.import_id)
    names = []
    options = plan_options(config)
    for table in env.source.tables:
        name = table_key(table.schema, table.name)
        names.append(name)
        if not plan_tables:
            continue
        existing = store.get_table(name)
        if existing is None:
            store.put_table(plan_table(table, env.storage, config))
            continue
        _verify_table(existing, table, options, store)
    return sorted(names)


def _verify_task(stored: TaskCheckpoint, current: TaskCheckpoint, store: CheckpointStore) -> None:
    mismatches = []
    if stored.backend != current.backend:
        mismatches.append(f"tikv-importer.backend is '{current.backend}', the checkpoint's is '{stored.backend}'")
    if stored.source_url != current.source_url:
        mismatches.append(f"the source is {current.source_url}, the checkpoint's is {stored.source_url}")
    if (stored.target_host, stored.target_port) != (current.target_host, current.target_port):
        mismatches.append(
            f"the target is {current.target_host}:{current.target_port}, the checkpoint's is "
            f"{stored.target_host}:{stored.target_port}"
        )
    if mismatches:
        raise CheckpointError(
            f"the checkpoints in {store.description} belong to a different import: {'; '.join(mismatches)}. "
            "Resume with the original configuration, or start over with `lightning ctl checkpoint-remove all` "
            "(and drop the tables it imported)"
        )


def _verify_table(existing: TableCheckpoint, table: TableSource, options: dict[str, Any], store: CheckpointStore) -> None:
    name = existing.name
    if is_error_status(existing.status):
        raise CheckpointError(
            f"table {name} failed in an earlier run ({describe_status(existing.status)}). To retry it from where "
            f"it stopped: `lightning ctl checkpoint-error-ignore {shlex.quote(name)}`; to drop what it imported "
            f"and start it over: `lightning ctl checkpoint-error-destroy {shlex.quote(name)}`"
        )
    fingerprint = table_fingerprint(table, options)
    if existing.fingerprint and existing.fingerprint != fingerprint:
        before = {(c.path, c.file_size) for c in existing.chunks}
        now = {(f.path, f.size) for f in table.data_files}
        changes = [f"{p} is new or changed" for p, _ in sorted(now - before)]
        changes += [f"{p} is gone or changed" for p, _ in sorted(before - now) if p not in {q for q, _ in now}]
        detail = "; ".join(changes[:5]) or "its files or the options that shape the import changed"
        raise CheckpointError(
            f"the input of table {name} changed since its checkpoint was made ({detail}), so resuming could "
            f"skip or repeat rows. To import it anew, empty the table (TRUNCATE) and forget its checkpoint: "
            f"`lightning ctl checkpoint-remove {shlex.quote(name)}`"
        )


def _prepare_task_info_schema(env: ImportEnv, import_id: int) -> None:
    if not env.task_info_schema:
        log.warning(
            "lightning.task-info-schema-name is empty: rows that fail are not recorded, and a crash between a "
            "commit and the next checkpoint save may send a batch twice on resume"
        )
        return
    conn = env.connect()
    try:
        env.error_manager(import_id).create_tables(conn)
        markers = env.markers(import_id)
        if markers is not None:
            markers.create_table(conn)
    finally:
        conn.close()


# --- 5. import_table -----------------------------------------------------------------------------------


def import_table(
    env: ImportEnv,
    store: CheckpointStore,
    name: str,
    *,
    progress: ImportProgress | None = None,
    chunk_pool_size: int | None = None,
    owner: str = "",
) -> TableResult:
    """Import one table's rows, resuming from its checkpoint; record a failure in it.

    The rows are written under the table's owner lease (:mod:`.lease`); ``owner`` describes this import
    in it for other imports' errors (by default the ``lightning import`` command and its checkpoints).
    """
    started = time.monotonic()
    progress = progress or ImportProgress()
    task = store.get_task()
    if task is None:
        raise CheckpointError(f"no task checkpoint in {store.description}: run init_checkpoint first")
    table = env.table_source(name)
    checkpoint = store.get_table(name)
    if checkpoint is None:
        checkpoint = plan_table(table, env.storage, env.config)
        store.put_table(checkpoint)
    else:
        _verify_table(checkpoint, table, plan_options(env.config), store)
    total_bytes = table.total_size
    if checkpoint.status >= CheckpointStatus.IMPORTED:
        log.info("table %s: already imported (%s)", printable(name), describe_status(checkpoint.status))
        return TableResult.from_checkpoint(checkpoint, total_bytes=total_bytes)

    lease = _take_table_lease(env, task.import_id, name, owner or f"lightning import, checkpoints in {store.description}")
    try:
        return _import_leased_table(
            env, store, name, table, checkpoint, task, lease, progress, chunk_pool_size, started, total_bytes
        )
    finally:
        if lease is not None:
            lease.release()


def _take_table_lease(env: ImportEnv, import_id: int, name: str, owner: str) -> TableLease | None:
    """The table's owner lease for this import, before its first row is written (None without a task-info
    schema, where it would live)."""
    leases = env.table_leases()
    if leases is None:
        log.warning(
            "table %s: lightning.task-info-schema-name is empty, so no lease guards the table: another import "
            "writing it at the same time would not be stopped", name,
        )
        return None
    return leases.acquire(
        name, LeaseOwner.this_process(import_id, owner, parallel=env.config.tikv_importer.parallel_import)
    )


def _ensure_no_foreign_rows(env: ImportEnv, name: str, target: TableInfo) -> None:
    """Under the lease, a table this import has not started must still be as the precheck saw it: empty.

    Two imports can both pass "target tables empty" before either writes; the lease then lets one write,
    and the other finds the rows here (even if the first is done and gone) instead of doubling them.
    Merging imports (``replace`` / ``ignore``, ``parallel-import``) and ``check-requirements = false``
    accept rows already there, as the precheck does.
    """
    config = env.config
    replacing = config.conflict.strategy in (ConflictStrategy.REPLACE, ConflictStrategy.IGNORE)
    merging = replacing or config.tikv_importer.parallel_import
    leases = env.table_leases()
    if merging or not config.lightning.check_requirements or leases is None:
        return
    conn = env.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {qualified_name(target.schema, target.name)} LIMIT 1")
            if cur.fetchone() is None:
                return
        last = leases.last_owner(conn, name)
    finally:
        conn.close()
    by = (
        f" — import task {last.import_id} ({last.owner}) wrote it and released it at {last.released_at} UTC"
        if last is not None else ""
    )
    raise TargetError(
        f"table {name} already holds rows, although this import has not written to it yet{by}. Another "
        "import wrote the table after this one's precheck, so importing it too would double its rows; "
        "nothing was written. If that import is this one under other checkpoints, resume it instead; "
        "otherwise empty the table (TRUNCATE) and run this import again, or set [conflict] strategy = "
        '"replace" / "ignore" to merge into it'
    )


def _import_leased_table(
    env: ImportEnv,
    store: CheckpointStore,
    name: str,
    table: TableSource,
    checkpoint: TableCheckpoint,
    task: TaskCheckpoint,
    lease: TableLease | None,
    progress: ImportProgress,
    chunk_pool_size: int | None,
    started: float,
    total_bytes: int,
) -> TableResult:
    conn = env.connect()
    try:
        target = fetch_table_info(conn, table.schema, table.name)
    finally:
        conn.close()
    if target is None:
        raise TargetError(
            f"table {name} does not exist in the target; add its schema file to the source or create it first"
        )
    if target.is_view:
        raise TargetError(f"{name} is a view in the target; data files cannot be imported into a view")
    errors = env.error_manager(task.import_id)
    backend = open_backend(
        BackendContext(
            config=env.config,
            settings=env.settings,
            import_id=task.import_id,
            session_sql=tuple(env.prepare().session.statements()),
            errors=errors,
            markers=env.markers(task.import_id),
            fence=lease.fence if lease is not None else None,
        )
    )
    try:
        return _import_with_backend(
            env, store, name, checkpoint, target, backend, errors, lease, progress, chunk_pool_size, started,
            total_bytes,
        )
    finally:
        backend.close()


def _import_with_backend(
    env: ImportEnv,
    store: CheckpointStore,
    name: str,
    checkpoint: TableCheckpoint,
    target: TableInfo,
    backend: Backend,
    errors: ErrorManager,
    lease: TableLease | None,
    progress: ImportProgress,
    chunk_pool_size: int | None,
    started: float,
    total_bytes: int,
) -> TableResult:
    committed = backend.committed_progress(name)
    stored = checkpoint
    checkpoint = reconcile_with_markers(checkpoint, committed or {})
    if any(c.pos > c.offset or c.finished for c in checkpoint.chunks):
        log.info("%s", describe_resume(stored, checkpoint))
    else:
        _ensure_no_foreign_rows(env, name, target)
    if checkpoint.checksum_before is None and not any(c.pos > c.offset or c.finished for c in checkpoint.chunks):
        checkpoint = replace(checkpoint, checksum_before=_checksum_before(env, target))
        store.put_table(checkpoint)
    done_bytes = sum(_bytes_done(c) for c in checkpoint.chunks)
    progress.start_table(name, total_bytes, done_bytes, checkpoint.rows)
    # When the backend commits each chunk's progress with its rows (the logical backend's markers), the
    # store is a lagging copy of it: save at a bounded rate and let a failed save wait for the next one;
    # otherwise every committed batch must reach the store before the next.
    lagging = committed is not None
    saver = CheckpointSaver(store, name, CHECKPOINT_SAVE_INTERVAL if lagging else 0.0, lagging_ok=lagging)
    prepared = env.prepare()
    options = ChunkOptions(
        parser=ParserOptions(
            read_block_size=env.config.mydumper.read_block_size,
            dialect=csv_dialect(env.config),
            header_schema_match=env.config.mydumper.csv.header_schema_match,
            data_character_set=env.config.mydumper.data_character_set,
            **_row_size_limit(prepared.facts.max_allowed_packet),
        ),
        data_invalid_char_replace=env.config.mydumper.data_invalid_char_replace,
        checksum=int(env.config.post_restore.checksum) > 0,
        limits=env.batch_limits(),
        round_fractional_seconds=rounds_fractional_seconds(prepared.facts, prepared.session.sql_mode),
    )
    importer = TableImporter(
        checkpoint=checkpoint,
        target=target,
        storage=env.storage,
        backend=backend,
        store=store,
        errors=errors,
        saver=saver,
        options=options,
        progress=progress,
        concurrency=chunk_pool_size or env.config.lightning.region_concurrency,
        connect=lambda: env.connect(data=True),
    )
    if lease is not None:
        lease.on_lost(importer.stopping.set)  # chunks stop after their current batch
    error: BaseException | None = None
    try:
        backend.before_import(target)
        finished = importer.run()
        if lease is not None:
            lease.ensure_held()
    except (TargetUnavailable, TableLeaseLost) as exc:
        # The server went away, or another import took the table: nothing is wrong with the table, so (as
        # Lightning) it is not marked as failed, and the next run resumes it without a ctl command.
        error = exc
        raise
    except BaseException as exc:
        error = exc
        try:
            store.update_status(name, failed_status(importer.step))
        except Exception as save_error:  # noqa: BLE001 - the table's own error is the one to report
            log.warning(
                "table %s: could not record the failure in %s: %s",
                printable(name), store.description, save_error,
            )
        raise exc
    finally:
        backend.after_import(target, error)
    store.update_status(name, CheckpointStatus.IMPORTED)
    progress.finish_table(name)
    type_errors = conflicts = 0
    summary = _error_summary(env, errors).get(name, {})
    type_errors, conflicts = summary.get("type", 0), summary.get("conflict", 0)
    written = next((t.rows_this_run for t in progress.snapshot() if t.table == name), 0)
    result = TableResult.from_checkpoint(
        replace(finished, status=CheckpointStatus.IMPORTED),
        total_bytes=total_bytes,
        seconds=time.monotonic() - started,
        type_errors=type_errors,
        conflicts=conflicts,
        rows_written=written,
    )
    log.info("%s", describe_result(result))
    return result


def describe_result(result: TableResult) -> str:
    """What this run (or try) of a table did, and what the table now holds from the import, for the log:
    a short last try after a resume is not mistaken for the whole table's speed, and error rows recorded
    by earlier tries are said to be the import's, not this try's."""
    table = printable(result.table)
    if result.rows_written == result.rows:
        did = f"{result.rows:,} rows imported in {result.seconds:.1f}s"
    else:
        did = (
            f"{result.rows_written:,} rows imported by this run in {result.seconds:.1f}s, resuming; "
            f"{result.rows:,} rows in all from this import"
        )
    errors = []
    if result.type_errors:
        errors.append(f"{result.type_errors:,} rows in type_error_v1")
    if result.conflicts:
        errors.append(f"{result.conflicts:,} conflicts recorded")
    so_far = f" (this import so far: {', '.join(errors)})" if errors else ""
    return f"table {table}: {did}{so_far}"


def describe_resume(stored: TableCheckpoint, resumed: TableCheckpoint) -> str:
    """Where a table resumes, for the log: chunks done, the first unfinished file and byte, rows already in
    the target, and whether the target's progress markers were ahead of the saved checkpoint."""
    chunks = resumed.chunks
    done = sum(1 for c in chunks if c.finished)
    at = next((c for c in chunks if not c.finished), None)
    where = f"{printable(at.path)} at byte {at.pos}" if at is not None else "every chunk written"
    ahead = resumed.rows - stored.rows
    source = (
        f"the target's progress markers were {ahead:,} rows ahead of the saved checkpoint"
        if ahead > 0
        else "the saved checkpoint and the target's progress markers agree"
    )
    return (
        f"table {printable(resumed.name)}: resuming: {done} of {len(chunks)} chunks done, next {where}, "
        f"{resumed.rows:,} rows already imported ({source})"
    )


def _checksum_before(env: ImportEnv, target: TableInfo) -> RowChecksum:
    """What the target table holds before the first row arrives (Lightning's checksum for incremental
    imports): rows ``replace``/``ignore`` merge with are then part of the expected checksum."""
    conn = env.connect(data=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {qualified_name(target.schema, target.name)} LIMIT 1")
            if cur.fetchone() is None:
                return RowChecksum()
        if int(env.config.post_restore.checksum) == 0:
            return RowChecksum(1, 0)  # not empty; no need to know more without a checksum
        return fetch_target_checksum(conn, target, time_zone=env.prepare().session.time_zone)
    finally:
        conn.close()


def _bytes_done(chunk) -> int:
    if chunk.finished:
        return chunk.file_size if chunk.end_offset < 0 else chunk.end_offset - chunk.offset
    if chunk.compression != Compression.NONE or not data_format(chunk.type, chunk.path).positions_are_offsets:
        return 0  # positions there are not source bytes (decompressed bytes, row numbers)
    return chunk.pos - chunk.offset


def _error_summary(env: ImportEnv, errors: ErrorManager) -> dict[str, dict[str, int]]:
    if not errors.enabled:
        return {}
    conn = env.connect()
    try:
        return errors.summary(conn)
    finally:
        conn.close()


# --- 6. post_process -----------------------------------------------------------------------------------


def post_process(env: ImportEnv, store: CheckpointStore, names: Iterable[str]) -> list[PostProcessResult]:
    """Checksum and ANALYZE each imported table per ``[post-restore]``, recording the statuses in ``store``;
    raise :class:`ChecksumMismatch` naming every table whose required checksum failed."""
    results, failures = [], []
    task = store.get_task()
    for name in names:
        checkpoint = store.get_table(name)
        if checkpoint is None:
            raise CheckpointError(f"table {name} has no checkpoint in {store.description}; import it first")
        if is_error_status(checkpoint.status):
            raise CheckpointError(f"table {name} is in an error state ({describe_status(checkpoint.status)})")
        result = TableResult.from_checkpoint(checkpoint, total_bytes=0)
        try:
            outcome = post_process_table(env, result, done=checkpoint.status, import_id=task.import_id if task else None)
        except ChecksumMismatch as exc:
            store.update_status(name, failed_status(CheckpointStatus.CHECKSUMMED))
            failures.append(str(exc))
            continue
        if outcome.status > checkpoint.status:
            store.update_status(name, outcome.status)
        results.append(outcome)
    if failures:
        raise ChecksumMismatch("\n".join(failures))
    return results


def post_process_table(
    env: ImportEnv, result: TableResult, *, done: int = CheckpointStatus.IMPORTED, import_id: int | None = None
) -> PostProcessResult:
    """Checksum and ANALYZE one imported table; ``done`` is the status it already reached (skip what's done).

    ``task_id`` (the import's checkpoint task id) lets the checksum see whether other parallel imports
    wrote the table too (then it is skipped: the table is not this import's alone).

    Raises :class:`ChecksumMismatch` when ``checksum = "required"`` and the target differs from the source.
    """
    config = env.config
    name = result.table
    status = max(int(done), CheckpointStatus.IMPORTED)
    checksum_state, expected, actual = "off", None, None
    level = int(config.post_restore.checksum)
    if done >= CheckpointStatus.CHECKSUM_SKIPPED:
        checksum_state = "done earlier"
    elif level == 0:
        status = CheckpointStatus.CHECKSUM_SKIPPED
    else:
        checksum_state, expected, actual = _checksum_table(env, result, level, import_id)
        status = CheckpointStatus.CHECKSUMMED if expected is not None else CheckpointStatus.CHECKSUM_SKIPPED
    analyze_state = "off"
    analyze_level = int(config.post_restore.analyze)
    schema, table = env.table_source(name).schema, env.table_source(name).name
    if done >= CheckpointStatus.ANALYZE_SKIPPED:
        analyze_state = "done earlier"
    elif analyze_level:
        conn = env.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"ANALYZE TABLE {qualified_name(schema, table)}")
                cur.fetchall()
            analyze_state = "done"
            status = CheckpointStatus.ANALYZED
        except Exception as exc:  # noqa: BLE001 - optional analyze only warns
            if analyze_level == 2:
                raise TargetError(f"ANALYZE TABLE {name} failed: {mysql_message(exc)}") from exc
            analyze_state = f"failed: {mysql_message(exc)}"
            log.warning(
                "table %s: ANALYZE TABLE failed (analyze = optional): %s", printable(name), mysql_message(exc)
            )
        finally:
            conn.close()
    else:
        status = CheckpointStatus.ANALYZE_SKIPPED
    return PostProcessResult(name, checksum_state, analyze_state, expected, actual, status)


_CONCURRENT_CHECKSUM_ROWS = 20_000


def _checksum_table(env: ImportEnv, result: TableResult, level: int, import_id: int | None = None):
    name = result.table
    before = result.checksum_before or RowChecksum()
    reason = None
    if result.mixed_columns:
        reason = "the table's files carry different column lists"
    elif before.rows and result.columns is not None:
        reason = "the target table held rows before the import and the files carry only some of its columns"
    elif import_id is not None and _written_by_parallel_imports(env, name, import_id):
        reason = (
            "parallel-import: other imports wrote this table too, so its rows are not this import's alone; "
            "compare the table with all the imports' sources together"
        )
    if reason is not None:
        log.warning("table %s: checksum skipped: %s", printable(name), reason)
        return f"skipped: {reason}", None, None
    source = env.table_source(name)
    conn = env.connect()
    try:
        target = fetch_table_info(conn, source.schema, source.name)
    finally:
        conn.close()
    if target is None:
        raise TargetError(f"table {name} does not exist in the target any more")
    columns = target.insertable_columns if result.columns is None else tuple(target.column(n) for n in result.columns)
    expected = before + result.checksum
    # A large table is read by several server threads at once (the import's region-concurrency).
    concurrency = env.config.lightning.region_concurrency if expected.rows >= _CONCURRENT_CHECKSUM_ROWS else 1
    actual = fetch_target_checksum_concurrently(
        lambda: env.connect(data=True),
        target,
        columns=columns,
        time_zone=env.prepare().session.time_zone,
        concurrency=concurrency,
    )
    mismatch = compare_checksums(name, expected, actual)
    if mismatch is not None:
        conn = env.connect(data=True)
        try:
            findings = string_findings(conn, target, columns)
            mismatch = compare_checksums(name, expected, actual, findings=findings)
        finally:
            conn.close()
    if mismatch is None:
        log.info("table %s: checksum ok (%d rows)", printable(name), actual.rows)
        return "ok", expected, actual
    if level == 2:
        raise ChecksumMismatch(mismatch)
    log.warning("%s (checksum = optional: not failing)", mismatch)
    return "mismatch", expected, actual


def _written_by_parallel_imports(env: ImportEnv, name: str, import_id: int) -> bool:
    """Whether, by the table's lease rows, other parallel imports wrote the table alongside this one."""
    leases = env.table_leases()
    if leases is None or not env.config.tikv_importer.parallel_import:
        return False
    conn = env.connect()
    try:
        return leases.is_shared(conn, name, import_id)
    finally:
        conn.close()


# --- 7. clean_checkpoints ------------------------------------------------------------------------------


def clean_checkpoints(env: ImportEnv, store: CheckpointStore, *, import_id: int | None = None) -> str:
    """Remove (or keep) the checkpoints of a finished import, per ``keep-after-success``; return what was done.

    The import's progress markers and table leases in the target go too. ``task_id`` names the import when
    the store cannot (inside Airflow the task checkpoint is in another task's state store).
    """
    keep = env.config.checkpoint.keep_after_success
    if keep is KeepAfterSuccess.ORIGIN:
        return f"kept the checkpoints in {store.description}"
    if import_id is None:
        task = store.get_task()
        import_id = task.import_id if task is not None else None
    if import_id is not None and env.task_info_schema:
        conn = env.connect()
        try:
            markers = env.markers(import_id)
            if markers is not None:
                markers.delete(conn)
            leases = env.table_leases()
            if leases is not None:
                leases.forget_task(conn, import_id)
        finally:
            conn.close()
    if keep is KeepAfterSuccess.RENAME:
        where = store.archive(import_id or 0)
        return f"moved the checkpoints to {where}"
    store.remove_all()
    return f"removed the checkpoints from {store.description}"


# --- everything ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportSummary:
    tables: tuple[TableResult, ...]
    post: tuple[PostProcessResult, ...]
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    error_queries: tuple[str, ...] = ()
    precheck: PrecheckReport | None = None
    cleaned: str = ""


def run_import(
    config: Config,
    store: CheckpointStore,
    *,
    progress: ImportProgress | None = None,
    settings: ConnectionSettings | None = None,
    storage: Storage | None = None,
) -> ImportSummary:
    """All seven steps in one process, tables ``table-concurrency`` at a time."""
    progress = progress or ImportProgress()
    env = ImportEnv(config, settings=settings, storage=storage)
    env.prepare()  # first: it validates and connects before anything is written
    restore_schema(env)
    report = precheck(env, store)
    names = init_checkpoint(env, store)
    table_workers = max(1, config.lightning.table_concurrency)
    results: dict[str, TableResult] = {}
    failures: list[tuple[str, BaseException]] = []
    with ThreadPoolExecutor(table_workers, thread_name_prefix="table") as pool:
        futures = {pool.submit(import_table, env, store, name, progress=progress): name for name in names}
        for future, name in futures.items():
            try:
                results[name] = future.result()
            except LightningError as exc:
                failures.append((name, exc))
            except Exception as exc:  # noqa: BLE001 - reported with the table's name below
                failures.append((name, exc))
    if failures:
        if len(failures) == 1:
            raise failures[0][1]
        raise LightningError(
            f"{len(failures)} tables failed:\n" + "\n".join(f"- {name}: {exc}" for name, exc in failures)
        )
    post = post_process(env, store, names)
    task = store.get_task()
    errors = env.error_manager(task.import_id if task else 0)
    error_counts = _error_summary(env, errors)
    queries = tuple(
        errors.query_hint(kind, table) for table, kinds in sorted(error_counts.items()) for kind in sorted(kinds)
    )
    cleaned = clean_checkpoints(env, store) if config.checkpoint.enable else ""
    return ImportSummary(
        tables=tuple(results[n] for n in names),
        post=tuple(post),
        errors=error_counts,
        error_queries=queries,
        precheck=report,
        cleaned=cleaned,
    )

