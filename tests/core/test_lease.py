"""The table lease itself (core/importer/lease.py), against the real MariaDB, in this process.

The whole-import behaviour (two ``lightning import`` processes, kills, parallel-import) is in
test_table_lease.py; here the guarantees the lease's transactions give on their own.
"""

from __future__ import annotations

import threading

import pytest

from airflow_provider_lightning.core.importer.lease import (
    LEASE_TABLE,
    LeaseOwner,
    TableLeaseHeld,
    TableLeaseLost,
    TableLeases,
)

TABLE = "`db`.`t`"


@pytest.fixture
def leases(mysql_server, make_database) -> TableLeases:
    schema = make_database("lt_leaseinfo")
    return TableLeases(lambda: mysql_server.connect(), schema, duration=30.0)


def _owner(import_id: int, *, parallel: bool = False) -> LeaseOwner:
    return LeaseOwner(import_id, f"test import {import_id}", "test-host", 10_000_000 + import_id, parallel)


def test_of_many_imports_taking_one_table_at_the_same_instant_exactly_one_gets_it(leases):
    contenders = 8
    barrier = threading.Barrier(contenders)
    won, refused, failed = [], [], []

    def take(import_id: int) -> None:
        barrier.wait()
        try:
            won.append(leases.acquire(TABLE, _owner(import_id)))
        except TableLeaseHeld:
            refused.append(import_id)
        except BaseException as exc:  # noqa: BLE001 - any other outcome fails the test below
            failed.append(exc)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(1, contenders + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failed == []
        assert len(won) == 1 and len(refused) == contenders - 1
        conn = leases._connect()
        try:
            holders = leases.holders(conn, TABLE)
        finally:
            conn.close()
        assert [h.import_id for h in holders] == [won[0].owner.import_id]
    finally:
        for lease in won:
            lease.release()


def test_a_refused_import_is_told_who_holds_the_table(leases):
    lease = leases.acquire(TABLE, _owner(1))
    try:
        with pytest.raises(TableLeaseHeld) as refused:
            leases.acquire(TABLE, _owner(2))
        message = str(refused.value)
        assert "import task 1 (test import 1) on host test-host, process 10000001, holding it since" in message
        assert "table-lease-wait" in message
    finally:
        lease.release()


def test_a_released_table_can_be_taken_by_another_import(leases):
    leases.acquire(TABLE, _owner(1)).release()
    lease = leases.acquire(TABLE, _owner(2))
    lease.release()
    conn = leases._connect()
    try:
        last = leases.last_owner(conn, TABLE)
    finally:
        conn.close()
    assert last is not None and last.import_id == 2


def test_a_lease_whose_row_was_taken_over_is_lost_and_stops_its_holder(mysql_server, make_database):
    leases = TableLeases(lambda: mysql_server.connect(), make_database("lt_leaseinfo"), duration=0.6)
    lease = leases.acquire(TABLE, _owner(1))
    stopped = threading.Event()
    lease.on_lost(stopped.set)
    try:
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM `{leases.schema}`.{LEASE_TABLE}")  # as a takeover does
        conn.close()
        assert stopped.wait(30), "the heartbeat never noticed that the lease was gone"
        with pytest.raises(TableLeaseLost, match="lost its lease"):
            lease.ensure_held()
    finally:
        lease.release()


def test_parallel_imports_share_a_table_and_are_marked_as_sharing_it(leases):
    first = leases.acquire(TABLE, _owner(1, parallel=True))
    second = leases.acquire(TABLE, _owner(2, parallel=True))
    first.release()
    second.release()
    conn = leases._connect()
    try:
        assert leases.is_shared(conn, TABLE, 1) and leases.is_shared(conn, TABLE, 2)
        leases.forget_task(conn, 1)
        assert [h.import_id for h in leases.holders(conn, TABLE)] == [2]
    finally:
        conn.close()


def test_an_import_alone_with_parallel_import_is_not_marked_as_sharing(leases):
    leases.acquire(TABLE, _owner(1, parallel=True)).release()
    conn = leases._connect()
    try:
        assert not leases.is_shared(conn, TABLE, 1)
    finally:
        conn.close()


def test_a_parallel_import_is_refused_a_table_a_non_parallel_import_holds(leases):
    lease = leases.acquire(TABLE, _owner(1))
    try:
        with pytest.raises(TableLeaseHeld, match="imports without parallel-import"):
            leases.acquire(TABLE, _owner(2, parallel=True))
    finally:
        lease.release()


def test_a_batch_transaction_goes_on_only_while_the_lease_is_its_imports(leases, mysql_server):
    lease = leases.acquire(TABLE, _owner(1))
    writer = mysql_server.connect()
    try:
        writer.begin()
        with writer.cursor() as cur:
            lease.fence(cur)  # ours: the batch may commit
        writer.commit()
        other = mysql_server.connect()
        with other.cursor() as cur:
            cur.execute(f"DELETE FROM `{leases.schema}`.{LEASE_TABLE}")  # taken over
        other.close()
        writer.begin()
        with writer.cursor() as cur, pytest.raises(TableLeaseLost):
            lease.fence(cur)
        writer.rollback()
        assert lease.lost.is_set()
    finally:
        writer.close()
        lease.release()
