"""The stored checkpoints: they belong to this import and can be resumed (Lightning's CHECK_CHECKPOINTS)."""

from __future__ import annotations

import shlex

from airflow_provider_lightning.core.config import Config
from airflow_provider_lightning.core.checkpoints.model import (
    CheckpointStatus,
    TableCheckpoint,
    describe_status,
    is_error_status,
    table_key,
)
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.importer.plan import plan_options, table_fingerprint
from airflow_provider_lightning.core.importer.prechecks.report import (
    CRITICAL,
    WARNING,
    CheckItem,
    listing,
    passed_item,
    shortened,
)
from airflow_provider_lightning.core.mydump.loader import DataSource, TableSource
from airflow_provider_lightning.core.target import ConnectionSettings


def check_checkpoints(
    store: CheckpointStore, source: DataSource, config: Config, *, source_url: str, target: ConnectionSettings
) -> CheckItem:
    """The stored checkpoints belong to this import and can be resumed (Lightning's CHECK_CHECKPOINTS).

    Critical: the task checkpoint names another source, target or backend; a table is in an error state
    (status <= 25); a table's input changed since its checkpoint (its fingerprint differs). A checkpoint of
    a table that is no longer in the source is a warning.
    """
    name = "checkpoints"
    task = store.get_task()
    stored = store.table_names()
    if task is None and not stored:
        return passed_item(name, f"no checkpoints in {store.description}: a fresh import")
    problems: list[str] = []
    commands: list[str] = []
    backend = config.tikv_importer.backend.value
    if task is not None:
        differences = []
        if task.source_url != source_url:
            differences.append(f"the source is {source_url}, the checkpoint's {task.source_url}")
        if (task.target_host, task.target_port) != (target.host, target.port):
            differences.append(
                f"the target is {target.address}, the checkpoint's {task.target_host}:{task.target_port}"
            )
        if task.backend != backend:
            differences.append(f"tikv-importer.backend is '{backend}', the checkpoint's '{task.backend}'")
        if differences:
            problems.append(
                f"the checkpoints in {store.description} belong to another import: " + "; ".join(differences)
            )
            commands.append(
                "resume with the original configuration, or start over with `lightning ctl checkpoint-remove all` "
                "(and drop the tables it imported)"
            )
    tables = {table_key(t.schema, t.name): t for t in source.tables}
    options = plan_options(config)
    stale = []
    for table_name in stored:
        checkpoint = store.get_table(table_name)
        if checkpoint is None:
            continue
        table = tables.get(table_name)
        if table is None:
            stale.append(table_name)
            continue
        failure = _checkpoint_failure(checkpoint)
        if failure is not None:
            problems.append(f"table {table_name} failed in an earlier run ({failure})")
            commands.append(_error_commands(table_name, checkpoint))
            continue
        if checkpoint.fingerprint and checkpoint.fingerprint != table_fingerprint(table, options):
            problems.append(
                f"the input of table {table_name} changed since its checkpoint was made ({_changes(checkpoint, table)})"
            )
            commands.append(
                f"{table_name}: put the original files back to resume, or import it anew: empty the table "
                f"(TRUNCATE TABLE) and run `lightning ctl checkpoint-remove {_shell(table_name)}`"
            )
    if problems:
        text = "\n".join(shortened(problems))
        advice = "\n".join(dict.fromkeys(commands))
        return CheckItem(
            name, CRITICAL, False, text, advice + "\n(add the import's -c CONFIG, or --source and --target)"
        )
    if stale:
        return CheckItem(
            name,
            WARNING,
            False,
            f"checkpoints of tables that are not in the source (any more): {listing(stale)}",
            f"forget them with `lightning ctl checkpoint-remove {_shell(stale[0])}` (one per table)",
        )
    resumable = len([n for n in stored if n in tables])
    return passed_item(name, f"tables resuming from {store.description}: {resumable}")


def _checkpoint_failure(checkpoint: TableCheckpoint) -> str | None:
    """The error state of a table checkpoint or of one of its engines, described; None if there is none."""
    statuses = [checkpoint.status] + [e.status for e in checkpoint.engines]
    for status in statuses:
        if status != CheckpointStatus.MISSING and is_error_status(status):
            return describe_status(status)
    return None


def _error_commands(table_name: str, checkpoint: TableCheckpoint) -> str:
    ignore = f"`lightning ctl checkpoint-error-ignore {_shell(table_name)}`"
    destroy = f"`lightning ctl checkpoint-error-destroy {_shell(table_name)}`"
    statuses = [checkpoint.status] + [e.status for e in checkpoint.engines]
    failed_step = min(s for s in statuses if s != CheckpointStatus.MISSING and is_error_status(s)) * 10
    if failed_step == CheckpointStatus.CHECKSUMMED:
        return (
            f"{table_name}: its rows differ from the source: {destroy} drops it so that the next run imports it "
            f"again; {ignore} only runs the checksum again"
        )
    return (
        f"{table_name}: fix the cause, then {ignore} to continue where it stopped (nothing is sent twice), or "
        f"{destroy} to drop it and start it over"
    )


def _changes(checkpoint: TableCheckpoint, table: TableSource) -> str:
    before = {(c.path, c.file_size) for c in checkpoint.chunks}
    now = {(f.path, f.size) for f in table.data_files}
    changes = [f"{p} is new or changed" for p, _ in sorted(now - before)]
    changes += [f"{p} is gone" for p, _ in sorted(before - now) if p not in {q for q, _ in now}]
    return "; ".join(changes[:5]) or "its files' versions or the options that shape the import changed"


def _shell(name: str) -> str:
    return shlex.quote(name)
