"""Opening the checkpoint store a ``[checkpoint]`` section asks for, as Lightning's drivers read it."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore
from airflow_provider_lightning.core.checkpoints.model import CHECKPOINT_DRIVERS
from airflow_provider_lightning.core.checkpoints.mysql_store import MySQLCheckpointStore, parse_mysql_dsn
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore
from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.target import ConnectionSettings

def open_checkpoint_store(
    driver: str,
    dsn: str,
    *,
    schema: str,
    target: ConnectionSettings,
    default_file: Path,
) -> CheckpointStore:
    """The store ``[checkpoint] driver`` / ``dsn`` / ``schema`` describe, as Lightning reads them.

    ``file``: ``dsn`` is the file's path (``default_file`` when empty). ``mysql``: ``dsn`` is empty (the
    target server, ``target``), a Go DSN ``user:pass@tcp(host:port)/`` or a ``mysql://user:pass@host:port``
    URL; the checkpoints go in database ``schema`` there.
    """
    kind = driver.strip().lower()
    if kind == "file":
        return FileCheckpointStore(_file_path(dsn, default_file))
    if kind == "mysql":
        settings = parse_mysql_dsn(dsn) if dsn.strip() else target
        return MySQLCheckpointStore(settings, schema)
    if kind == "airflow":
        raise ConfigError(
            "checkpoint.driver",
            "'airflow' keeps checkpoints in Airflow's Task State Store, which only exists inside an Airflow "
            "task; outside Airflow use 'file' or 'mysql'",
        )
    raise ConfigError(
        "checkpoint.driver",
        f"unknown checkpoint driver {driver!r}; allowed: {', '.join(repr(d) for d in CHECKPOINT_DRIVERS)}",
    )


def _file_path(dsn: str, default_file: Path) -> Path:
    text = dsn.strip()
    if not text:
        return default_file
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    scheme, sep, _ = text.partition("://")
    if sep and scheme.isalnum():
        raise ConfigError(
            "checkpoint.dsn",
            f"the file driver keeps its checkpoint file on local disk, not at a '{scheme}://' address; "
            "give a local path, or use driver = 'mysql' (or 'airflow' inside Airflow) to share checkpoints",
        )
    return Path(text)
