"""One writer per target table: an owner lease the target itself holds.

Checkpoints say what *one* import did; they cannot stop a second import with other checkpoints from
writing the same table (both pass "target tables empty" while the tables are still empty, and a table
without a key then ends with every row twice). So before the first row of a table is written, its import
takes a lease: a row in the task-info schema (``table_leases_v1``) naming the import (its checkpoint task
id and a description: the command and checkpoint, or the Airflow dag run, task and try), the host, the
process and the time, with an expiry a heartbeat thread keeps pushing forward while the table's rows are
written. The lease is released when the table's import ends, whichever way.

- Taking a lease is one transaction that first locks the table's row in ``table_lease_anchors_v1``
  (``SELECT ... FOR UPDATE``), so two imports deciding at the same instant decide one after the other.
  The anchor also remembers who last held the table, for the error an import gets when it finds rows.
- Expiry is judged by the server's clock (``UTC_TIMESTAMP``), never by the client's: hosts disagree.
- Every batch transaction reads its lease row under a shared lock before writing (:meth:`TableLease.fence`):
  a takeover waits for the batch, and no batch commits once the lease is someone else's.
- A lease whose heartbeat stopped (a killed process) is taken over once it expired. The same import
  (same task id) takes its own lease back at once: a resumed run or an Airflow retry — unless the
  holder is a live process on this very host (a second copy of the same import running now).
- ``[tikv-importer] parallel-import = true``: cooperating imports that all declare it share a table,
  each with a lease row of its own; a non-parallel import is refused while parallel ones hold the table,
  and the reverse. Their rows are kept (released, not deleted) until each import's checkpoints are
  cleaned, and marked ``shared`` when another import joined: such a table's checksum then cannot be
  one import's business alone (see ``steps._checksum_table``).

``GET_LOCK`` is not used: it dies with its connection, which is the very thing a lease must survive.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from airflow_provider_lightning.core.identifiers import quote_identifier
from airflow_provider_lightning.core.errors import LightningError
from airflow_provider_lightning.core.failpoints import TableFailpoints

log = logging.getLogger(__name__)

LEASE_TABLE = "table_leases_v1"
ANCHOR_TABLE = "table_lease_anchors_v1"

_CREATE_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS {schema}.table_lease_anchors_v1 (
        table_name       varchar(261) NOT NULL,
        last_task_id     bigint,
        last_owner       varchar(1024),
        last_released_at datetime(6),
        PRIMARY KEY (table_name)
    ) ENGINE=InnoDB""",
    """
    CREATE TABLE IF NOT EXISTS {schema}.table_leases_v1 (
        table_name   varchar(261) NOT NULL,
        task_id      bigint NOT NULL,
        token        char(32) NOT NULL COMMENT 'one acquisition: a stale process renews nothing',
        owner        varchar(1024) NOT NULL,
        host         varchar(255) NOT NULL,
        pid          bigint NOT NULL,
        parallel     tinyint(1) NOT NULL,
        shared       tinyint(1) NOT NULL DEFAULT 0 COMMENT 'another parallel import wrote the table too',
        acquired_at  datetime(6) NOT NULL COMMENT 'UTC, server clock',
        heartbeat_at datetime(6) NOT NULL COMMENT 'UTC, server clock',
        expires_at   datetime(6) NOT NULL COMMENT 'UTC, server clock',
        released_at  datetime(6) COMMENT 'set (instead of deleting the row) for parallel imports',
        PRIMARY KEY (table_name, task_id)
    ) ENGINE=InnoDB""",
)

# A lock wait or a deadlock between two acquirers: the loser simply tries again.
_RETRYABLE = (1205, 1213)
_ATTEMPTS = 20


class TableLeaseHeld(LightningError):
    """Another live import holds the table.

    Retryable (for Airflow's retry policy): the other import may be done by the next try, which then
    simply starts the table; nothing was written, and the table's checkpoint is not marked as failed.
    """

    retryable = True


class TableLeaseLost(LightningError):
    """This import's lease expired or was taken over while it was writing: it stopped writing.

    Retryable: the next try resumes the table from its committed rows once it gets the lease back.
    """

    retryable = True


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """Who takes a lease: the import (its checkpoint task id), described for humans, and where it runs."""

    import_id: int
    description: str
    host: str
    pid: int
    parallel: bool = False

    @classmethod
    def this_process(cls, import_id: int, description: str, *, parallel: bool = False) -> LeaseOwner:
        return cls(import_id, description, socket.gethostname(), os.getpid(), parallel)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """A lease row as read back from the target."""

    table: str
    import_id: int
    token: str
    owner: str
    host: str
    pid: int
    parallel: bool
    shared: bool
    acquired_at: str
    heartbeat_at: str
    expires_at: str
    released: bool
    live: bool  # not released and not expired, by the server's clock

    def describe(self) -> str:
        return (
            f"import task {self.import_id} ({self.owner}) on host {self.host}, process {self.pid}, "
            f"holding it since {self.acquired_at} UTC (last heartbeat {self.heartbeat_at} UTC, "
            f"expires {self.expires_at} UTC{' unless renewed' if self.live else ''})"
            + (" with parallel-import" if self.parallel else "")
        )


@dataclass(frozen=True, slots=True)
class LastOwner:
    """Who last released a table, from its anchor row."""

    import_id: int
    owner: str
    released_at: str


class TableLeases:
    """The lease rows of one target's task-info schema.

    ``connect`` opens a catalogue connection to the target (autocommit on). ``duration`` is how long a
    lease lives without a heartbeat (``[lightning] table-lease-duration``), ``wait`` how long an import
    waits for a table another import holds before failing (``table-lease-wait``).
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        schema: str,
        *,
        duration: float,
        wait: float = 0.0,
        shared_locks: bool = True,
    ) -> None:
        if duration <= 0:
            raise ValueError("a lease needs a positive duration")
        self._connect = connect
        self.schema = schema
        self.duration = duration
        self.wait = wait
        self.shared_locks = shared_locks  # False on TiDB, which has no LOCK IN SHARE MODE
        self._q = quote_identifier(schema)

    def create_tables(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {self._q}")
            for ddl in _CREATE_TABLES:
                cur.execute(ddl.format(schema=self._q))

    # -- taking a lease ------------------------------------------------------------------------------

    def acquire(self, table: str, owner: LeaseOwner) -> TableLease:
        """Take the lease of ``table`` for ``owner``, waiting up to ``wait`` seconds for a live holder;
        raise :class:`TableLeaseHeld` naming the holder(s) when it is still held then."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait
        announced = False
        conn = self._connect()
        try:
            self.create_tables(conn)
            while True:
                sent = time.monotonic()
                blockers = self._try_acquire(conn, table, owner, token)
                if not blockers:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TableLeaseHeld(_held_message(table, owner, blockers, self))
                if not announced:
                    log.warning(
                        "table %s is being imported by %s; waiting up to %.0fs for it (table-lease-wait)",
                        table, "; ".join(b.describe() for b in blockers), self.wait,
                    )
                    announced = True
                time.sleep(min(remaining, max(0.05, min(1.0, self.duration / 4))))
        finally:
            conn.close()
        log.info("table %s: lease taken by import task %d (%s)", table, owner.import_id, owner.description)
        lease = TableLease(self, table, owner, token, renewed_at=sent)
        TableFailpoints(table).lease_taken()  # tests: hold the import here, the table leased and unwritten
        return lease

    def _try_acquire(self, conn: Any, table: str, owner: LeaseOwner, token: str) -> list[LeaseHolder]:
        """One attempt, in one transaction: the holders in the way, or [] with the lease taken."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._attempt(conn, table, owner, token)
            except pymysql.err.OperationalError as exc:
                conn.rollback()
                if attempt == _ATTEMPTS or not (exc.args and exc.args[0] in _RETRYABLE):
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def _attempt(self, conn: Any, table: str, owner: LeaseOwner, token: str) -> list[LeaseHolder]:
        with conn.cursor() as cur:
            # The anchor row exists before the transaction locks it: two acquirers inserting it inside
            # their transactions would share the duplicate-key lock and deadlock when both upgrade it.
            cur.execute(f"INSERT IGNORE INTO {self._q}.{ANCHOR_TABLE} (table_name) VALUES (%s)", (table,))
            conn.begin()
            cur.execute(f"SELECT table_name FROM {self._q}.{ANCHOR_TABLE} WHERE table_name = %s FOR UPDATE", (table,))
            holders = self._read(cur, table, lock=True)  # a locking read sees the latest rows, not a snapshot
            blockers, dead = [], []
            for holder in holders:
                if holder.token == token:
                    continue
                if holder.import_id == owner.import_id:
                    if holder.live and _is_other_live_process_here(holder, owner):
                        blockers.append(holder)  # this same import is running right now in another process
                    continue  # our own import's earlier run: taken back by the upsert below
                if holder.released or (owner.parallel and holder.parallel):
                    # A co-writer: done with the table (its checkpoints not cleaned yet), writing now, or dead
                    # and to be resumed — its row stays, to say the table is shared.
                    continue
                if not holder.live:
                    dead.append(holder)
                else:
                    blockers.append(holder)
            if blockers:
                conn.rollback()
                return blockers
            for holder in dead:
                log.warning(
                    "table %s: taking over the lease of %s: its heartbeat stopped and it expired",
                    table, holder.describe(),
                )
                cur.execute(
                    f"DELETE FROM {self._q}.{LEASE_TABLE} WHERE table_name = %s AND task_id = %s AND token = %s",
                    (table, holder.import_id, holder.token),
                )
            # Parallel imports that meet on a table mark each other: neither can checksum it alone.
            others = [h for h in holders if h.import_id != owner.import_id and h not in dead]
            shared = owner.parallel and any(h.parallel for h in others)
            if shared:
                cur.execute(
                    f"UPDATE {self._q}.{LEASE_TABLE} SET shared = 1 WHERE table_name = %s AND task_id <> %s "
                    "AND parallel = 1",
                    (table, owner.import_id),
                )
            cur.execute(
                f"INSERT INTO {self._q}.{LEASE_TABLE} (table_name, task_id, token, owner, host, pid, parallel, "
                "shared, acquired_at, heartbeat_at, expires_at, released_at) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                "%s, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND, NULL) "
                "ON DUPLICATE KEY UPDATE token = VALUES(token), owner = VALUES(owner), host = VALUES(host), "
                "pid = VALUES(pid), parallel = VALUES(parallel), shared = shared OR VALUES(shared), "
                "acquired_at = VALUES(acquired_at), heartbeat_at = VALUES(heartbeat_at), "
                "expires_at = VALUES(expires_at), released_at = NULL",
                (table, owner.import_id, token, owner.description[:1024], owner.host[:255], owner.pid,
                 int(owner.parallel), int(shared), self._micros()),
            )
            conn.commit()
            return []

    # -- reading -------------------------------------------------------------------------------------

    def holders(self, conn: Any, table: str | None = None) -> list[LeaseHolder]:
        """Every lease row (of one table), live or not: for ``lightning ctl`` and for error messages."""
        with conn.cursor() as cur:
            return self._read(cur, table)

    def last_owner(self, conn: Any, table: str) -> LastOwner | None:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT last_task_id, last_owner, last_released_at FROM {self._q}.{ANCHOR_TABLE} "
                "WHERE table_name = %s AND last_task_id IS NOT NULL",
                (table,),
            )
            row = cur.fetchone()
        return LastOwner(int(row[0]), _text(row[1]), _text(row[2])) if row else None

    def is_shared(self, conn: Any, table: str, import_id: int) -> bool:
        """Whether other parallel imports wrote ``table`` alongside import ``task_id``."""
        try:
            with conn.cursor() as cur:
                cur.execute(
                    f"SELECT shared FROM {self._q}.{LEASE_TABLE} WHERE table_name = %s AND task_id = %s",
                    (table, import_id),
                )
                row = cur.fetchone()
        except pymysql.err.ProgrammingError as exc:
            if exc.args[0] != 1146:  # no table: no lease was ever taken on this target
                raise
            return False
        return bool(row and row[0])

    def forget_task(self, conn: Any, import_id: int) -> None:
        """Remove every row an import kept (parallel imports keep theirs until their checkpoints go)."""
        try:
            with conn.cursor() as cur:
                cur.execute(
                    f"DELETE FROM {self._q}.{LEASE_TABLE} WHERE task_id = %s AND released_at IS NOT NULL", (import_id,)
                )
        except pymysql.err.ProgrammingError as exc:
            if exc.args[0] != 1146:  # no table: no import_table ever ran against this target
                raise

    def _read(self, cur: Any, table: str | None, *, lock: bool = False) -> list[LeaseHolder]:
        where, args = ("WHERE table_name = %s", (table,)) if table is not None else ("", ())
        cur.execute(
            "SELECT table_name, task_id, token, owner, host, pid, parallel, shared, acquired_at, heartbeat_at, "
            "expires_at, released_at IS NOT NULL, released_at IS NULL AND expires_at > UTC_TIMESTAMP(6) "
            f"FROM {self._q}.{LEASE_TABLE} {where} ORDER BY table_name, acquired_at{' FOR UPDATE' if lock else ''}",
            args,
        )
        return [
            LeaseHolder(
                table=_text(r[0]), import_id=int(r[1]), token=_text(r[2]), owner=_text(r[3]), host=_text(r[4]),
                pid=int(r[5]), parallel=bool(r[6]), shared=bool(r[7]), acquired_at=_text(r[8]),
                heartbeat_at=_text(r[9]), expires_at=_text(r[10]), released=bool(r[11]), live=bool(r[12]),
            )
            for r in cur.fetchall()
        ]

    def _micros(self) -> int:
        return int(self.duration * 1_000_000)


class TableLease:
    """A lease this process holds: a heartbeat thread renews it until :meth:`release`.

    When another process took it over (after it expired: a heartbeat that could not reach the target for
    longer than the lease), it is *lost*: ``lost`` is set, every ``on_lost`` callback runs (the table
    import stops writing), and :meth:`ensure_held` raises.
    """

    def __init__(self, leases: TableLeases, table: str, owner: LeaseOwner, token: str, *, renewed_at: float) -> None:
        self.leases = leases
        self.table = table
        self.owner = owner
        self.token = token
        self.lost = threading.Event()
        self.lost_reason = ""
        self._on_lost: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._renewed_at = renewed_at  # monotonic time the last successful renewal was *sent*
        self._thread = threading.Thread(target=self._heartbeat, name=f"lease-{table}"[:60], daemon=True)
        self._thread.start()

    def fence(self, cur: Any) -> None:
        """In a batch's transaction, before its rows: go on only while this lease is ours.

        The lease row is read with a shared lock held until the batch commits, so another import taking
        the lease over (which deletes or replaces the row) waits for the batch, and every later batch finds
        the row gone: no batch of this import commits after the table was taken over, whether or not the
        heartbeat has noticed yet. (TiDB does not take shared locks; there the read is a plain one.)
        """
        lock = " LOCK IN SHARE MODE" if self.leases.shared_locks else ""
        cur.execute(
            f"SELECT 1 FROM {self.leases._q}.{LEASE_TABLE} WHERE table_name = %s AND task_id = %s AND token = %s "
            f"AND released_at IS NULL{lock}",
            (self.table, self.owner.import_id, self.token),
        )
        if cur.fetchone() is None:
            if not self.lost.is_set():
                self._lose("another import took it over: its heartbeat had stopped for longer than the lease")
            self.ensure_held()

    def on_lost(self, callback: Callable[[], None]) -> None:
        self._on_lost.append(callback)
        if self.lost.is_set():
            callback()

    def ensure_held(self) -> None:
        if self.lost.is_set():
            raise TableLeaseLost(
                f"table {self.table}: this import (task {self.owner.import_id}) lost its lease on the table while "
                f"writing ({self.lost_reason}), so it stopped writing. Its committed rows and checkpoint are "
                "intact: run the same import again to resume it once the other import is done (see "
                f"{self.leases.schema}.{LEASE_TABLE})"
            )

    def release(self) -> None:
        """Stop the heartbeat and give the table up (a parallel import's row stays, marked released)."""
        self._stop.set()
        self._thread.join()
        q = self.leases._q
        try:
            conn = self.leases._connect()
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            log.warning("table %s: could not release the lease (%s); it expires by itself", self.table, exc)
            return
        try:
            with conn.cursor() as cur:
                key = (self.table, self.owner.import_id, self.token)
                if self.owner.parallel:
                    cur.execute(
                        f"UPDATE {q}.{LEASE_TABLE} SET released_at = UTC_TIMESTAMP(6) "
                        "WHERE table_name = %s AND task_id = %s AND token = %s",
                        key,
                    )
                else:
                    cur.execute(
                        f"DELETE FROM {q}.{LEASE_TABLE} WHERE table_name = %s AND task_id = %s AND token = %s", key
                    )
                if cur.rowcount:
                    cur.execute(
                        f"UPDATE {q}.{ANCHOR_TABLE} SET last_task_id = %s, last_owner = %s, "
                        "last_released_at = UTC_TIMESTAMP(6) WHERE table_name = %s",
                        (self.owner.import_id, self._who()[:1024], self.table),
                    )
        except Exception as exc:  # noqa: BLE001 - the lease expires by itself
            log.warning("table %s: could not release the lease (%s); it expires by itself", self.table, exc)
        finally:
            conn.close()

    def _who(self) -> str:
        return f"{self.owner.description}, on host {self.owner.host}, process {self.owner.pid}"

    def _heartbeat(self) -> None:
        interval = self.leases.duration / 3
        q = self.leases._q
        conn = None
        try:
            while not self._stop.wait(interval):
                sent = time.monotonic()
                try:
                    if conn is None:
                        conn = self.leases._connect()
                    with conn.cursor() as cur:
                        renewed = cur.execute(
                            f"UPDATE {q}.{LEASE_TABLE} SET heartbeat_at = UTC_TIMESTAMP(6), "
                            "expires_at = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND "
                            "WHERE table_name = %s AND task_id = %s AND token = %s AND released_at IS NULL",
                            (self.leases._micros(), self.table, self.owner.import_id, self.token),
                        )
                except Exception as exc:  # noqa: BLE001 - retried at the next beat
                    # The target is away (a restart, the network): the writers cannot write either, and
                    # their own retries ride it out. The lease is not given up for that: only when the target
                    # is back and the row is no longer ours (another import took it over) is it lost.
                    log.warning("table %s: could not renew the lease (retrying): %s", self.table, exc)
                    if conn is not None:
                        conn.close()
                        conn = None
                    continue
                if not renewed:
                    self._lose("another import took it over: its heartbeat had stopped for longer than the lease")
                    return
                if sent - self._renewed_at > self.leases.duration:
                    log.warning(
                        "table %s: the lease was renewed only after %.0fs, past its duration (%gs); no other "
                        "import had taken it meanwhile", self.table, sent - self._renewed_at, self.leases.duration,
                    )
                self._renewed_at = sent
        finally:
            if conn is not None:
                conn.close()

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self.lost.set()
        log.error("table %s: lease lost: %s; stopping the writes", self.table, reason)
        for callback in self._on_lost:
            callback()


def _is_other_live_process_here(holder: LeaseHolder, owner: LeaseOwner) -> bool:
    """Whether the holder is another process on this host that still runs (a second copy of the import)."""
    if holder.host != owner.host or holder.pid == owner.pid:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: dead, whatever kill(0) says
        stat = Path(f"/proc/{holder.pid}/stat").read_bytes()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def _held_message(table: str, owner: LeaseOwner, blockers: list[LeaseHolder], leases: TableLeases) -> str:
    who = "; ".join(b.describe() for b in blockers)
    if owner.parallel and not all(b.parallel for b in blockers):
        why = "it imports without parallel-import, and this import declares parallel-import"
    elif any(b.parallel for b in blockers):
        why = "it imports with parallel-import, and this import does not declare it"
    elif any(b.import_id == owner.import_id for b in blockers):
        why = "another process of this same import (same checkpoint) is importing it right now"
    else:
        why = "only one import may write a table at a time"
    waited = f" after waiting {leases.wait:g}s" if leases.wait else ""
    return (
        f"table {table} is being imported by {who}; {why}. This import (task {owner.import_id}, "
        f"{owner.description}) did not write to it{waited}. Wait for the other import to finish and run this one "
        "again (set [lightning] table-lease-wait to wait automatically); if that import is dead, its lease "
        f"expires {leases.duration:g}s after its last heartbeat (table-lease-duration); to import one table from "
        "several imports at once, every one of them must set [tikv-importer] parallel-import = true. "
        f"Leases are in {leases.schema}.{LEASE_TABLE}"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
