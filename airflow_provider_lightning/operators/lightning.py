"""One operator per Lightning step, each thin over ``core/importer``.

The operators share their arguments (source, target connection, config) and hand each other small JSON
values through XCom: what ``prepare`` found, the task checkpoint and table list from
``init_checkpoint``, each table's result from ``import_table``. Checkpoints live in the Task State Store
of the task instance that imports the table (``core/checkpoints/state_store.py``), unless ``[checkpoint]``
names a file or a MySQL server explicitly.

Importing this module is cheap: everything heavy is imported inside ``execute``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import shlex
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseOperator

from airflow_provider_lightning.core.errors import printable

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

#: Airflow's default ``[core] max_map_length``: more tables than this share map indexes.
MAX_MAP_LENGTH = 1024
#: How often task logs get a progress line.
PROGRESS_LOG_INTERVAL = 30.0
#: The asset alias every imported table is reported under (``mysql://host:port/db/table`` assets).
ASSET_ALIAS = "lightning-imported-tables"


def run_import_id(dag_id: str, run_id: str, group_id: str) -> int:
    """Lightning's task id for one import of one DAG run: the same in every task, every try and Clear.

    It names the import's rows in the target's task-info schema (progress markers, error tables), so a
    table cleared and run again finds what the run already committed.
    """
    digest = hashlib.sha256(f"{dag_id}\0{run_id}\0{group_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # a positive BIGINT


_Execute = TypeVar("_Execute", bound=Callable[..., Any])


def fails_fast(execute: _Execute) -> _Execute:
    """Make ``execute`` end its task at once when a retry cannot help.

    A parse error, a bad config, a failed precheck, a checksum mismatch or too many bad rows fail the
    same way on every try: spending the task's retries only delays the message. Such errors become
    ``AirflowFailException`` with what to do next; lost connections and server restarts are raised as
    they are, so Airflow retries them (and the retry resumes).
    """

    @functools.wraps(execute)
    def run(self: LightningBaseOperator, context: Context) -> Any:
        from airflow.sdk.exceptions import AirflowFailException  # noqa: PLC0415

        from airflow_provider_lightning.core.errors import retry_can_help  # noqa: PLC0415

        try:
            return execute(self, context)
        except Exception as exc:
            if retry_can_help(exc):
                raise
            raise AirflowFailException(f"{exc}\n{self.final_failure_advice(context)}") from exc

    return run  # type: ignore[return-value]


class LightningBaseOperator(BaseOperator):
    """What every step needs: the source, the target, the configuration.

    :param source: the data source: a directory, or ``s3://bucket/prefix`` (``mydumper.data-source-dir``).
    :param target_conn_id: an Airflow connection of type ``mysql`` for the target database.
    :param config: Lightning's configuration as a nested dict (the keys of ``tidb-lightning.toml``).
    :param config_file: a ``tidb-lightning.toml`` on the worker; ``config`` is merged over it.
    :param options: extra settings as dotted keys (``{"conflict.strategy": "replace"}``), applied last.
    :param aws_conn_id: an Airflow connection of type ``aws`` for an S3 source.
    """

    template_fields: Sequence[str] = ("source", "target_conn_id", "config", "config_file", "options", "aws_conn_id")
    template_fields_renderers = {"config": "json", "options": "json"}
    ui_color = "#fde68a"

    def __init__(
        self,
        *,
        source: str | None = None,
        target_conn_id: str = "mysql_default",
        config: dict[str, Any] | None = None,
        config_file: str | None = None,
        options: dict[str, Any] | None = None,
        aws_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.target_conn_id = target_conn_id
        self.config = config
        self.config_file = config_file
        self.options = options
        self.aws_conn_id = aws_conn_id

    def render_template(self, content: Any, context: Any, jinja_env: Any = None, seen_oids: Any = None) -> Any:
        # Jinja drops a string's trailing newline: a literal "\n" (a CSV terminator) would become "".
        # Strings without template syntax are left exactly as written.
        if isinstance(content, str) and "{{" not in content and "{%" not in content:
            return content
        return super().render_template(content, context, jinja_env, seen_oids)

    # -- shared plumbing -------------------------------------------------------------------------

    def load_config(self) -> Any:
        from airflow_provider_lightning.core.config import load_config  # noqa: PLC0415

        overrides = {k: v for k, v in (self.options or {}).items() if v is not None and v != ""}
        if self.source:
            overrides["mydumper.data-source-dir"] = self.source
        return load_config(self.config_file or None, data=self.config or None, overrides=overrides)

    def import_env(self, prepared: dict[str, Any] | None = None) -> Any:
        from airflow_provider_lightning.core.importer.env import ImportEnv, PreparedImport  # noqa: PLC0415
        from airflow_provider_lightning.core.storage import open_storage  # noqa: PLC0415
        from airflow_provider_lightning.hooks.connections import LightningS3Hook, LightningTargetHook  # noqa: PLC0415

        config = self.load_config()
        settings = LightningTargetHook(self.target_conn_id).get_connection_settings()
        s3 = LightningS3Hook(self.aws_conn_id).get_s3_options() if self.aws_conn_id else None
        storage = open_storage(config.mydumper.data_source_dir, s3=s3)
        return ImportEnv(
            config,
            PreparedImport.from_json(prepared) if prepared else None,
            settings=settings,
            storage=storage,
        )

    @property
    def group_id(self) -> str:
        """The id of the ``lightning_import`` TaskGroup this task is in ("" outside one)."""
        return self.task_id.rsplit(".", 1)[0] if "." in self.task_id else ""

    def import_id(self, context: Context) -> int:
        """Lightning's task id of this run's import (the ``task_id`` column of the task-info tables)."""
        return run_import_id(self.dag_id, context["run_id"], self.group_id)

    def final_failure_advice(self, context: Context) -> str:
        """What to do after an error that a retry cannot fix (the task is not retried)."""
        group = self.group_id
        ctl = (
            f"lightning ctl checkpoint-dump --airflow-api <api-server URL> --dag-id {shlex.quote(self.dag_id)} "
            f"--run-id {shlex.quote(context['run_id'])}" + (f" --task-group {shlex.quote(group)}" if group else "")
        )
        return (
            "Retrying cannot help, so this task was not retried. Fix the cause above, then Clear this task "
            "(a cleared import_table resumes its table where it stopped, keeping the rows already imported). "
            f"To see every table's checkpoint: `{ctl}`, or the lightning_maintenance DAG; its "
            "checkpoint-error-destroy action drops a failed table's partial import so it starts over."
        )

    def explicit_store(self, env: Any) -> Any | None:
        """The file or mysql store the config names explicitly, or None for the Task State Store."""
        checkpoint = env.config.checkpoint
        if checkpoint.driver == "airflow" or (checkpoint.driver == "file" and not checkpoint.dsn):
            return None
        from airflow_provider_lightning.core.checkpoints.drivers import open_checkpoint_store  # noqa: PLC0415
        from airflow_provider_lightning.core.importer.steps import default_checkpoint_file  # noqa: PLC0415

        return open_checkpoint_store(
            checkpoint.driver,
            checkpoint.dsn,
            schema=checkpoint.schema,
            target=env.settings,
            default_file=default_checkpoint_file(env.storage.url, env.settings),
        )


class LightningPrepareOperator(LightningBaseOperator):
    """Validate the config, connect, read the target's facts and decide the import session (XCom: JSON)."""

    @fails_fast
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_lightning.core.importer.env import prepare  # noqa: PLC0415

        env = self.import_env()
        prepared = prepare(env.config, env=env)
        return prepared.to_json()


class _AfterPrepare(LightningBaseOperator):
    template_fields: Sequence[str] = (*LightningBaseOperator.template_fields, "prepared")

    def __init__(self, *, prepared: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prepared = prepared


class LightningRestoreSchemaOperator(_AfterPrepare):
    """Create databases, tables and views from the dump's schema files, idempotently."""

    @fails_fast
    def execute(self, context: Context) -> int:
        from airflow_provider_lightning.core.importer.steps import restore_schema  # noqa: PLC0415

        return len(restore_schema(self.import_env(self.prepared)))


class LightningPrecheckOperator(_AfterPrepare):
    """Run every precheck; fail with the whole report when a critical one fails."""

    @fails_fast
    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_lightning.core.importer.prechecks.registry import precheck  # noqa: PLC0415

        from airflow_provider_lightning.core.backend.progress import MarkerResumeView  # noqa: PLC0415

        env = self.import_env(self.prepared)
        store = self.explicit_store(env) or MarkerResumeView(env.markers(self.import_id(context)), env.connect)
        try:
            return precheck(env, store).to_json()
        finally:
            store.close()


class LightningInitCheckpointOperator(_AfterPrepare):
    """Create or load the task checkpoint; return the sorted tables, grouped for mapping.

    XCom ``tables``: a list of table-name lists, one per ``import_table`` task instance (one table each,
    unless there are more tables than ``[core] max_map_length``); XCom ``task``: the task checkpoint.
    """

    def __init__(self, *, max_map_length: int = MAX_MAP_LENGTH, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_map_length = max_map_length

    @fails_fast
    def execute(self, context: Context) -> list[list[str]]:
        from airflow_provider_lightning.core.checkpoints.partial import TaskOnlyStore  # noqa: PLC0415
        from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore  # noqa: PLC0415
        from airflow_provider_lightning.core.importer.steps import init_checkpoint  # noqa: PLC0415

        env = self.import_env(self.prepared)
        store = self.explicit_store(env)
        own_store = store is None
        if own_store:
            store = TaskOnlyStore(TaskStateCheckpointStore(context["task_state_store"]))
        try:
            names = init_checkpoint(env, store, import_id=self.import_id(context), plan_tables=not own_store)
            task = store.get_task()
        finally:
            store.close()
        context["ti"].xcom_push(key="task", value=task.to_json())
        groups = group_tables(names, self.max_map_length)
        log.info("%d tables to import in %d task instances", len(names), len(groups))
        return groups


def group_tables(names: Sequence[str], max_groups: int) -> list[list[str]]:
    """Sorted table names cut into at most ``max_groups`` consecutive groups of nearly equal size."""
    names = sorted(names)
    if not names:
        return []
    count = min(len(names), max(1, max_groups))
    size, extra = divmod(len(names), count)
    groups, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        groups.append(list(names[start:end]))
        start = end
    return groups


class LightningImportTableOperator(_AfterPrepare):
    """Import one table (or a few), resuming from its checkpoint; mapped over ``init_checkpoint``'s tables.

    A retry or a Clear of this task instance resumes the table where it stopped: finished chunks are
    skipped, a half-done chunk continues after its last committed batch. The result (rows, bytes,
    seconds, checksum) goes to ``post_process`` by XCom, and each table is announced as an Airflow Asset
    ``mysql://host:port/db/table`` through the asset alias ``lightning-imported-tables``.

    :param tables: the table names (`` `db`.`tbl` ``) this task instance imports.
    :param task_checkpoint: the task checkpoint from ``init_checkpoint`` (XCom ``task``).
    """

    template_fields: Sequence[str] = (*_AfterPrepare.template_fields, "tables", "task_checkpoint")
    ui_color = "#fcd34d"

    def __init__(self, *, tables: Any = None, task_checkpoint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tables = tables
        self.task_checkpoint = task_checkpoint

    @fails_fast
    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_lightning.core.checkpoints.model import TaskCheckpoint  # noqa: PLC0415
        from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore  # noqa: PLC0415
        from airflow_provider_lightning.core.ctl import error_ignore  # noqa: PLC0415
        from airflow_provider_lightning.core.importer.progress import ImportProgress  # noqa: PLC0415
        from airflow_provider_lightning.core.importer.steps import import_table  # noqa: PLC0415

        names = [self.tables] if isinstance(self.tables, str) else list(self.tables or [])
        env = self.import_env(self.prepared)
        store = self.explicit_store(env)
        if store is None:
            task = TaskCheckpoint.from_json(self.task_checkpoint) if self.task_checkpoint else None
            store = TaskStateCheckpointStore(context["task_state_store"], task=task)
            dropped = store.retain_only(names)
            if dropped:
                log.info("forgot checkpoints of tables this task instance no longer imports: %s", ", ".join(dropped))
        results = []
        progress = ImportProgress()
        reporter = _ProgressLogger(progress, PROGRESS_LOG_INTERVAL)
        reporter.start()
        try:
            for name in names:
                # A retry or a Clear is the user's decision to resume: Lightning's checkpoint-error-ignore.
                if store.get_table(name) is not None and error_ignore(store, name):
                    log.info("table %s: resuming after a failure", printable(name))
                result = import_table(env, store, name, progress=progress, owner=_lease_owner(context))
                results.append(result.to_json())
                _announce_asset(context, env, name)
        finally:
            reporter.stop()
            store.close()
        return results


def _lease_owner(context: Context) -> str:
    """How a table's owner lease names this task instance to other imports."""
    ti = context["ti"]
    index = getattr(ti, "map_index", -1)
    where = f"{ti.task_id}[{index}]" if index is not None and index >= 0 else ti.task_id
    return f"Airflow dag {ti.dag_id}, run {context['run_id']}, task {where}, try {ti.try_number}"


class LightningPostProcessOperator(_AfterPrepare):
    """Checksum every imported table against its source and ANALYZE it, per ``[post-restore]``.

    :param results: the ``import_table`` results (the mapped task's XCom: one list per task instance).
    """

    template_fields: Sequence[str] = (*_AfterPrepare.template_fields, "results")

    def __init__(self, *, results: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    @fails_fast
    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_lightning.core.errors import ChecksumMismatch  # noqa: PLC0415
        from airflow_provider_lightning.core.importer.steps import TableResult, post_process_table  # noqa: PLC0415

        env = self.import_env(self.prepared)
        outcomes, failures = [], []
        for item in _flatten(self.results):
            result = TableResult.from_json(item)
            try:
                outcome = post_process_table(env, result, import_id=self.import_id(context))
            except ChecksumMismatch as exc:
                failures.append(str(exc))
                continue
            outcomes.append({"table": outcome.table, "checksum": outcome.checksum, "analyze": outcome.analyze,
                             "rows": result.rows})
            log.info(
                "table %s: checksum %s, analyze %s",
                printable(outcome.table), outcome.checksum, outcome.analyze,
            )
        if failures:
            raise ChecksumMismatch("\n".join(failures))
        _log_summary(outcomes, _flatten(self.results))
        return outcomes


class LightningCleanCheckpointsOperator(_AfterPrepare):
    """Remove this run's checkpoints (or keep them, per ``[checkpoint] keep-after-success``).

    The progress markers and the task-info rows of this import are removed from the target; the Task
    State Store rows of ``init_checkpoint`` and ``import_table`` are cleared through Airflow's REST API
    when ``api_conn_id`` names a connection to it (otherwise they expire with
    ``[state_store] default_retention_days``).

    :param api_conn_id: an Airflow connection (type ``http``) to the Airflow API server, or None.
    """

    template_fields: Sequence[str] = (*_AfterPrepare.template_fields, "api_conn_id")

    def __init__(self, *, api_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_conn_id = api_conn_id

    @fails_fast
    def execute(self, context: Context) -> str:
        from airflow_provider_lightning.core.checkpoints.partial import ExpiringStateStore  # noqa: PLC0415
        from airflow_provider_lightning.core.importer.steps import clean_checkpoints  # noqa: PLC0415

        env = self.import_env(self.prepared)
        client = None
        store = self.explicit_store(env)
        if store is None and self.api_conn_id:
            from airflow_provider_lightning.core.airflow_api.run_store import AirflowRunCheckpointStore  # noqa: PLC0415
            from airflow_provider_lightning.hooks.connections import AirflowApiHook  # noqa: PLC0415

            client = AirflowApiHook(self.api_conn_id).get_client()
            store = AirflowRunCheckpointStore(client, self.dag_id, context["run_id"], self.group_id)
        elif store is None:
            store = ExpiringStateStore()
            log.info("checkpoints: %s", store.description)
        try:
            return clean_checkpoints(env, store, import_id=self.import_id(context))
        finally:
            store.close()
            if client is not None:
                client.close()


# --- helpers ------------------------------------------------------------------------------------------


def _flatten(results: Any) -> list[dict[str, Any]]:
    """The mapped task's results (one list per task instance) as one list.

    Indexing by ``len`` rather than iterating: iterating a lazy XCom sequence probes one entry past its
    end, which Airflow logs as an error.
    """
    items: list[dict[str, Any]] = []
    entries = [results[i] for i in range(len(results))] if results is not None else []
    for entry in entries:
        if isinstance(entry, dict):
            items.append(entry)
        else:
            items.extend(entry or [])
    return items


def _announce_asset(context: Context, env: Any, name: str) -> None:
    from airflow.sdk import Asset, AssetAlias  # noqa: PLC0415

    table = env.table_source(name)
    uri = f"mysql://{env.settings.host}:{env.settings.port}/{table.schema}/{table.name}"
    try:
        context["outlet_events"][AssetAlias(ASSET_ALIAS)].add(Asset(uri))
    except Exception as exc:  # noqa: BLE001 - an asset event must never fail the import itself
        log.warning("could not announce asset %s: %s", uri, exc)


def _log_summary(outcomes: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    by_table = {r["table"]: r for r in results}
    lines = [f"{'table':<40} {'rows':>12} {'MiB':>9} {'seconds':>8}  checksum"]
    for o in outcomes:
        r = by_table.get(o["table"], {})
        lines.append(
            f"{printable(o['table']):<40} {r.get('rows', 0):>12,} {r.get('bytes', 0) / 2**20:>9.1f} "
            f"{r.get('seconds', 0):>8.1f}  {o['checksum']}"
        )
    log.info("import summary:\n%s", "\n".join(lines))


class _ProgressLogger:
    """Logs bytes and rows done, rows/s and ETA at a steady interval while tables import."""

    def __init__(self, progress: Any, interval: float) -> None:
        self._progress = progress
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        from airflow_provider_lightning.core.importer.progress import format_bytes, format_duration  # noqa: PLC0415

        while not self._stop.wait(self._interval):
            for t in self._progress.snapshot():
                if t.finished:
                    continue
                log.info(
                    "progress %s: %s of %s (%.1f%%), %d rows, %.0f rows/s, ETA %s",
                    printable(t.table), format_bytes(t.bytes_done), format_bytes(t.bytes_total),
                    t.fraction * 100,
                    t.rows, t.rows_per_second, format_duration(t.eta_seconds),
                )


class LightningCheckpointCtlOperator(BaseOperator):
    """``lightning ctl`` for the checkpoints of an import run by Airflow (the maintenance DAG uses it).

    Runs one of Lightning's actions — ``checkpoint-dump``, ``checkpoint-error-ignore``,
    ``checkpoint-error-destroy``, ``checkpoint-remove`` — on the checkpoints of another DAG run, through
    Airflow's REST API.

    :param action: the action.
    :param table: `` `db`.`tbl` ``, ``db.tbl`` or ``all`` (not for ``checkpoint-dump``).
    :param import_dag_id: the DAG of the import.
    :param import_run_id: its run.
    :param import_group: the ``lightning_import`` TaskGroup's id in that DAG.
    :param target_conn_id: the import's target connection (``error-destroy`` empties tables there).
    :param api_conn_id: a connection (type ``http``) to the Airflow API server.
    :param config: the import's configuration (only ``task-info-schema-name`` and ``no-schema`` matter).
    """

    template_fields: Sequence[str] = (
        "action", "table", "import_dag_id", "import_run_id", "import_group", "target_conn_id", "api_conn_id", "config",
    )
    ui_color = "#e5e7eb"

    def __init__(
        self,
        *,
        action: str,
        import_dag_id: str,
        import_run_id: str,
        table: str | None = None,
        import_group: str = "import",
        target_conn_id: str = "mysql_default",
        api_conn_id: str = "airflow_api",
        config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.table = table
        self.import_dag_id = import_dag_id
        self.import_run_id = import_run_id
        self.import_group = import_group
        self.target_conn_id = target_conn_id
        self.api_conn_id = api_conn_id
        self.config = config

    def execute(self, context: Context) -> str:
        from airflow_provider_lightning.core.config import load_config  # noqa: PLC0415
        from airflow_provider_lightning.core.ctl import CtlTarget, run_ctl  # noqa: PLC0415
        from airflow_provider_lightning.core.target import connect  # noqa: PLC0415
        from airflow_provider_lightning.core.airflow_api.run_store import AirflowRunCheckpointStore  # noqa: PLC0415
        from airflow_provider_lightning.hooks.connections import AirflowApiHook, LightningTargetHook  # noqa: PLC0415

        config = load_config(data=self.config or None, overrides={"mydumper.data-source-dir": "."})
        settings = LightningTargetHook(self.target_conn_id).get_connection_settings()
        target = CtlTarget(
            connect=lambda: connect(settings),
            task_info_schema=config.lightning.task_info_schema_name,
            # Empty, never drop: Clearing the table's import_table task (how the table is imported again
            # inside Airflow) does not run restore_schema, so a dropped table would stay missing.
            keep_table_definitions=True,
        )
        client = AirflowApiHook(self.api_conn_id).get_client()
        try:
            store = AirflowRunCheckpointStore(client, self.import_dag_id, self.import_run_id, self.import_group)
            result = run_ctl(self.action, store, self.table or None, target=target)
        finally:
            client.close()
        log.info("%s", result.text)
        return result.text
