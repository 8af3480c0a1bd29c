"""Progress markers: how far each chunk got, committed in the target with the rows themselves.

A process can die between committing a batch and saving its checkpoint. The logical backend therefore
writes a small marker row — chunk key, position reached, rows, checksum — into
``<task-info schema>.import_progress_v1`` **inside the same transaction** as the batch's rows. The marker
is then exactly as current as the data: on resume, the importer takes for each chunk whichever of the
marker and the stored checkpoint is further along (the checkpoint can lag the marker, never lead it),
so no row is sent twice and none is skipped, whatever the table's keys and whichever checkpoint store is
in use.

The marker also arbitrates retries: a chunk's marker row is created before its first batch
(:meth:`ProgressMarkers.claim`), and every batch transaction locks it first (:meth:`ProgressMarkers.lock`)
and checks it stands where the batch starts. A retry after a COMMIT whose reply was lost, or a second
process on the same chunk, therefore finds out for certain whether the batch is already in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from airflow_provider_lightning.core.backend import ChunkProgress
from airflow_provider_lightning.core.checkpoints.model import TableCheckpoint, TaskCheckpoint
from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.identifiers import quote_identifier
from airflow_provider_lightning.core.target import as_text as _text

PROGRESS_TABLE = "import_progress_v1"

_CREATE = """
    CREATE TABLE IF NOT EXISTS {schema}.import_progress_v1 (
        task_id      bigint NOT NULL,
        chunk_hash   binary(32) NOT NULL COMMENT 'sha256 of table name and chunk key',
        table_name   varchar(261) NOT NULL,
        chunk_key    varchar(2100) NOT NULL,
        pos          bigint NOT NULL,
        rows_done    bigint NOT NULL,
        checksum_sum decimal(20,0) NOT NULL,
        columns      mediumtext NULL,
        statement    varchar(16) NOT NULL,
        finished     tinyint(1) NOT NULL,
        update_time  datetime(6) NOT NULL DEFAULT now(6) ON UPDATE now(6),
        PRIMARY KEY (task_id, chunk_hash),
        KEY (task_id, table_name)
    ) ENGINE=InnoDB"""  # transactional whatever the server's default_storage_engine (TiDB ignores it)


def _chunk_hash(table: str, chunk_key: str) -> bytes:
    return hashlib.sha256(f"{table}\0{chunk_key}".encode()).digest()


class ProgressMarkers:
    """The markers of one import task in one task-info schema."""

    def __init__(self, schema: str, import_id: int) -> None:
        self.schema = schema
        self.import_id = import_id
        self._table = f"{quote_identifier(schema)}.{PROGRESS_TABLE}"
        self._upsert = (
            f"INSERT INTO {self._table} (task_id, chunk_hash, table_name, chunk_key, pos, rows_done, "
            "checksum_sum, columns, statement, finished) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE pos = VALUES(pos), rows_done = VALUES(rows_done), "
            "checksum_sum = VALUES(checksum_sum), columns = VALUES(columns), statement = VALUES(statement), "
            "finished = VALUES(finished)"
        )
        self._claim = (
            f"INSERT IGNORE INTO {self._table} (task_id, chunk_hash, table_name, chunk_key, pos, rows_done, "
            "checksum_sum, columns, statement, finished) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self._lock = (
            f"SELECT chunk_key, pos, rows_done, checksum_sum, columns, statement, finished FROM {self._table} "
            "WHERE task_id = %s AND chunk_hash = %s FOR UPDATE"
        )

    def create_table(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.schema)}")
            cur.execute(_CREATE.format(schema=quote_identifier(self.schema)))

    def write(self, cur: Any, table: str, progress: ChunkProgress) -> None:
        """Upsert the marker in the caller's open transaction."""
        cur.execute(self._upsert, self._values(table, progress))

    def claim(self, cur: Any, table: str, progress: ChunkProgress) -> None:
        """Create the chunk's marker at ``progress`` if it has none; leave an existing one alone.

        Run (autocommitted) before a chunk's first batch, so that every batch transaction finds its
        marker row and can lock it (:meth:`lock`): a row lock, where locking a missing row would take a
        gap lock that makes the first batches of different chunks deadlock one another.
        """
        cur.execute(self._claim, self._values(table, progress))

    def lock(self, cur: Any, table: str, chunk_key: str) -> ChunkProgress | None:
        """The chunk's committed marker, locked until the caller's transaction ends (None: no marker).

        Locking waits for any other transaction still holding the marker — a batch whose COMMIT was
        sent on a connection that then broke, or another process writing the same chunk — and then
        reads what it committed, so the caller knows for certain where the chunk stands.
        """
        cur.execute(self._lock, (self.import_id, _chunk_hash(table, chunk_key)))
        row = cur.fetchone()
        return _progress(row) if row is not None else None

    def _values(self, table: str, progress: ChunkProgress) -> tuple[Any, ...]:
        return (
            self.import_id,
            _chunk_hash(table, progress.chunk_key),
            table,
            progress.chunk_key,
            progress.pos,
            progress.checksum.rows,
            progress.checksum.sum,
            json.dumps(list(progress.columns)) if progress.columns is not None else None,
            progress.statement,
            int(progress.finished),
        )

    def read(self, conn: Any, table: str) -> dict[str, ChunkProgress]:
        """The committed markers of ``table``, by chunk key (empty if the table has none)."""
        with conn.cursor() as cur:
            try:
                cur.execute(
                    f"SELECT chunk_key, pos, rows_done, checksum_sum, columns, statement, finished "
                    f"FROM {self._table} WHERE task_id = %s AND table_name = %s",
                    (self.import_id, table),
                )
            except Exception as exc:  # noqa: BLE001 - no schema or table yet means no markers
                if _is_missing_table(exc):
                    return {}
                raise
            rows = cur.fetchall()
        markers = {}
        for row in rows:
            progress = _progress(row)
            markers[progress.chunk_key] = progress
        return markers

    def tables(self, conn: Any) -> list[str]:
        """The tables this task has committed rows of (sorted)."""
        with conn.cursor() as cur:
            try:
                cur.execute(f"SELECT DISTINCT table_name FROM {self._table} WHERE task_id = %s", (self.import_id,))
            except Exception as exc:  # noqa: BLE001
                if _is_missing_table(exc):
                    return []
                raise
            return sorted(_text(r[0]) for r in cur.fetchall())

    def delete(self, conn: Any, table: str | None = None) -> None:
        """Forget the markers of ``table`` (or of every table of this task)."""
        with conn.cursor() as cur:
            try:
                if table is None:
                    cur.execute(f"DELETE FROM {self._table} WHERE task_id = %s", (self.import_id,))
                else:
                    cur.execute(
                        f"DELETE FROM {self._table} WHERE task_id = %s AND table_name = %s", (self.import_id, table)
                    )
            except Exception as exc:  # noqa: BLE001
                if not _is_missing_table(exc):
                    raise


def _progress(row: Any) -> ChunkProgress:
    chunk_key, pos, rows_done, checksum_sum, columns, statement, finished = row
    return ChunkProgress(
        chunk_key=_text(chunk_key),
        pos=int(pos),
        checksum=RowChecksum(int(rows_done), int(checksum_sum)),
        columns=tuple(json.loads(_text(columns))) if columns is not None else None,
        statement=_text(statement),
        finished=bool(int(finished)),
    )


def _is_missing_table(exc: BaseException) -> bool:
    return bool(getattr(exc, "args", None)) and exc.args[0] in (1049, 1146)


class MarkerResumeView:
    """Which tables an import already wrote to, from its progress markers in the target: the precheck's
    view of a run inside Airflow, where the table checkpoints sit in other tasks' state stores.

    It knows table names only (no checkpoint contents) and is read-only.
    """

    description = "the progress markers of this DAG run in the target"

    def __init__(self, markers: ProgressMarkers | None, connect: Callable[[], Any]) -> None:
        self._markers = markers
        self._connect = connect

    def get_task(self) -> TaskCheckpoint | None:
        return None

    def table_names(self) -> list[str]:
        if self._markers is None:
            return []
        conn = self._connect()
        try:
            return self._markers.tables(conn)
        finally:
            conn.close()

    def get_table(self, name: str) -> TableCheckpoint | None:
        return None

    def close(self) -> None:
        pass
