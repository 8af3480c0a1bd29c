"""The checkpoint stores: memory, file, mysql and the (Airflow) task state store keep checkpoints the same way.

Most tests run against all four stores (the ``store`` fixture; the task state store on a key-value
accessor that keeps JSON text per key, as Airflow's Task State Store does — tests/airflow runs it on the
real one); the last sections cover what only one of them has: the file's format and crash safety, the mysql tables and connection handling, and
``open_checkpoint_store``'s reading of ``[checkpoint]``.
"""

from __future__ import annotations

import uuid

import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.checkpoints.file_store import FORMAT_VERSION, FileCheckpointStore
from airflow_provider_lightning.core.checkpoints.model import (
    WHOLE_FILE,
    ChunkCheckpoint,
    CheckpointStatus,
    EngineCheckpoint,
    TableCheckpoint,
    TaskCheckpoint,
    failed_status,
    table_key,
)
from airflow_provider_lightning.core.checkpoints.mysql_store import MySQLCheckpointStore, parse_mysql_dsn
from airflow_provider_lightning.core.checkpoints.drivers import open_checkpoint_store
from airflow_provider_lightning.core.checkpoints.state_store import TaskStateCheckpointStore
from airflow_provider_lightning.core.checkpoints.store import CheckpointStore, MemoryCheckpointStore
from airflow_provider_lightning.core.checksum import RowChecksum
from airflow_provider_lightning.core.errors import CheckpointError, ConfigError
from airflow_provider_lightning.core.target import ConnectionSettings
from airflow_provider_lightning.core.tls import TlsMode, TlsSettings

MAX_UINT64 = (1 << 64) - 1
MAX_INT64 = (1 << 63) - 1

# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def server_settings(mysql_server) -> ConnectionSettings:
    return ConnectionSettings(
        host=mysql_server.host, port=mysql_server.port, user=mysql_server.user, password=mysql_server.password
    )


class JsonKeyValues:
    """What a task's ``task_state_store`` offers: get/set/delete of JSON values (kept as JSON text, so a
    value that does not survive JSON fails here as it would in Airflow)."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    def get(self, key: str, default=None):
        return json.loads(self.rows[key]) if key in self.rows else default

    def set(self, key: str, value) -> None:
        self.rows[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.rows.pop(key, None)


@pytest.fixture(params=["memory", "file", "mysql", "taskstate"])
def open_store(request, tmp_path) -> Iterator[Callable[[], CheckpointStore]]:
    """Opens a store of one kind; every call opens a new store object on the same file or schema."""
    opened: list[CheckpointStore] = []
    if request.param == "memory":
        memory = MemoryCheckpointStore()

        def make() -> CheckpointStore:
            return memory
    elif request.param == "taskstate":
        rows = JsonKeyValues()

        def make() -> CheckpointStore:
            return TaskStateCheckpointStore(rows)
    elif request.param == "file":
        path = tmp_path / "checkpoints" / "tidb_lightning_checkpoint.json"

        def make() -> CheckpointStore:
            return FileCheckpointStore(path)
    else:
        schema = request.getfixturevalue("make_database")("ltcp")
        server = request.getfixturevalue("server_settings")

        def make() -> CheckpointStore:
            return MySQLCheckpointStore(server, schema)

    def open_one() -> CheckpointStore:
        store = make()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store) -> CheckpointStore:
    return open_store()


@pytest.fixture(params=["file", "mysql"])
def reopen(request, tmp_path) -> Iterator[Callable[[], CheckpointStore]]:
    """Opens a new store object on the same file or schema at every call (a process restart)."""
    opened: list[CheckpointStore] = []
    if request.param == "file":
        path = tmp_path / "cp.json"

        def make() -> CheckpointStore:
            return FileCheckpointStore(path)
    else:
        schema = request.getfixturevalue("make_database")("ltcp")
        server = request.getfixturevalue("server_settings")

        def make() -> CheckpointStore:
            return MySQLCheckpointStore(server, schema)

    def open_one() -> CheckpointStore:
        opened.append(make())
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


# --- building checkpoints -------------------------------------------------------------------------------


def make_task(**changes) -> TaskCheckpoint:
    task = TaskCheckpoint(
        import_id=1_700_000_000_123,
        source_url="s3://bucket/dump?region=eu-west-1",
        target_host="127.0.0.1",
        target_port=4000,
        backend="logical",
        version="0.1.0",
        sorted_kv_dir="/tmp/sorted",
    )
    return replace(task, **changes)


def make_chunk(path: str, offset: int = 0, **changes) -> ChunkCheckpoint:
    chunk = ChunkCheckpoint(
        path=path,
        offset=offset,
        end_offset=offset + 1000,
        pos=offset,
        type=1,
        compression=0,
        sort_key=path,
        file_size=10_000,
        columns=("id", "name"),
    )
    return replace(chunk, **changes)


def make_table(
    name: str = table_key("db", "t"), engines: int = 2, chunks: int = 3, **changes
) -> TableCheckpoint:
    table = TableCheckpoint(
        name=name,
        fingerprint="f" * 64,
        target_identity="2024-01-02 03:04:05",
        engines=tuple(
            EngineCheckpoint(
                id=engine_id,
                chunks=tuple(make_chunk(f"db.t.{engine_id:04}.{i:04}.sql") for i in range(chunks)),
            )
            for engine_id in range(engines)
        )
        + (EngineCheckpoint(id=-1),),
        checksum_before=RowChecksum(3, 12345),
    )
    return replace(table, **changes)


def progressed(chunk: ChunkCheckpoint, step: int) -> ChunkCheckpoint:
    """``chunk`` after ``step`` more rows were imported."""
    return replace(
        chunk,
        pos=chunk.pos + 10 * step,
        rows=chunk.rows + step,
        checksum=chunk.checksum + RowChecksum(step, MAX_UINT64 - step),
        columns=("id", "name", f"c{step}"),
        statement="REPLACE",
    )


# Text as MySQL identifiers and file names hold it: any character but lone surrogates, with backticks,
# quotes, spaces and letters that differ only in case or accent made likely.
_characters = st.characters(blacklist_categories=("Cs",))
_texts_of = lambda max_size, min_size=0: st.text(  # noqa: E731
    st.one_of(_characters, st.sampled_from("`'\" aAéE.:/\\")), min_size=min_size, max_size=max_size
)
_int64 = st.integers(-(1 << 63), MAX_INT64)
_sizes = st.integers(0, MAX_INT64)
# Room for ``progressed`` to add to positions and row counts.
_progress = st.integers(0, MAX_INT64 - 10**6)
_statuses = st.one_of(st.sampled_from(list(CheckpointStatus)), st.integers(0, 25), st.integers(0, 255))
_checksums = st.builds(RowChecksum, rows=_progress, sum=st.integers(0, MAX_UINT64))
_table_names = st.builds(table_key, _texts_of(64, 1), _texts_of(64, 1))
_chunks = st.builds(
    ChunkCheckpoint,
    path=_texts_of(120, 1),
    offset=_sizes,
    end_offset=st.one_of(st.just(WHOLE_FILE), _sizes),
    pos=st.integers(-(1 << 63), MAX_INT64 - 10**6),
    type=st.integers(-(1 << 31), (1 << 31) - 1),
    compression=st.integers(0, 4),
    sort_key=_texts_of(40),
    file_size=_sizes,
    columns=st.one_of(st.none(), st.lists(_texts_of(64), max_size=6).map(tuple)),
    statement=st.sampled_from(["INSERT", "REPLACE", "INSERT IGNORE"]),
    rows=_progress,
    checksum=_checksums,
    finished=st.booleans(),
)
_engines = st.builds(
    EngineCheckpoint,
    id=st.integers(-1, (1 << 31) - 1),
    status=_statuses,
    chunks=st.lists(_chunks, max_size=25, unique_by=lambda c: c.key).map(tuple),
)
table_checkpoints = st.builds(
    TableCheckpoint,
    name=_table_names,
    status=_statuses,
    fingerprint=st.one_of(st.just(""), st.text("0123456789abcdef", min_size=64, max_size=64), _texts_of(64)),
    target_identity=_texts_of(64),
    engines=st.lists(_engines, max_size=4, unique_by=lambda e: e.id).map(tuple),
    checksum_before=st.one_of(st.none(), _checksums),
)
task_checkpoints = st.builds(
    TaskCheckpoint,
    import_id=_int64,
    source_url=_texts_of(200),
    target_host=_texts_of(128),
    target_port=st.integers(0, 65535),
    backend=_texts_of(16),
    version=_texts_of(48),
    sorted_kv_dir=_texts_of(256),
)

_store_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- every store: round trips -----------------------------------------------------------------------


def test_a_new_store_is_empty(store):
    assert store.get_task() is None
    assert store.table_names() == []
    assert store.get_table(table_key("db", "t")) is None


@_store_settings
@given(task=task_checkpoints)
def test_task_checkpoint_reads_back_as_written(store, task):
    store.put_task(task)
    assert store.get_task() == task


def test_putting_a_task_replaces_the_previous_one(store):
    store.put_task(make_task())
    store.put_task(make_task(import_id=2, backend="physical"))
    assert store.get_task() == make_task(import_id=2, backend="physical")


@_store_settings
@given(table=table_checkpoints)
def test_table_checkpoint_reads_back_as_written(store, table):
    store.put_table(table)
    assert store.get_table(table.name) == table
    assert table.name in store.table_names()


def test_many_chunks_with_64_bit_checksums_read_back_as_written(store):
    chunks = tuple(
        make_chunk(f"dump/db.t.{i:06}.csv", offset=i * 4096, checksum=RowChecksum(i, MAX_UINT64 - i), rows=i)
        for i in range(3000)
    )
    table = replace(make_table(), engines=(EngineCheckpoint(id=0, chunks=chunks), EngineCheckpoint(id=-1)))
    store.put_table(table)
    assert store.get_table(table.name) == table
    assert store.get_table(table.name).checksum == table.checksum


def test_putting_a_table_replaces_its_status_engines_and_chunks(store):
    store.put_table(make_table(engines=3, chunks=4))
    smaller = make_table(engines=1, chunks=1, status=CheckpointStatus.ALL_WRITTEN, checksum_before=None)
    store.put_table(smaller)
    assert store.get_table(smaller.name) == smaller


def test_table_names_are_sorted(store):
    names = [table_key("b", "x"), table_key("a", "z"), table_key("a", "y"), table_key("a`b", "é")]
    for name in names:
        store.put_table(make_table(name))
    assert store.table_names() == sorted(names)


def test_names_differing_only_in_case_or_accents_are_different_tables(store):
    names = [table_key("db", "t"), table_key("db", "T"), table_key("db", "é"), table_key("db", "e")]
    for status, name in enumerate(names, start=CheckpointStatus.LOADED):
        store.put_table(make_table(name, status=status))
    assert [store.get_table(name).status for name in names] == list(
        range(CheckpointStatus.LOADED, CheckpointStatus.LOADED + 4)
    )


def test_chunk_keys_differing_only_in_case_are_different_chunks(store):
    table = make_table(engines=0)
    engine = EngineCheckpoint(id=0, chunks=(make_chunk("a.sql"), make_chunk("A.sql")))
    table = replace(table, engines=(engine,))
    store.put_table(table)
    store.update_chunks(table.name, 0, [replace(make_chunk("A.sql"), pos=77)])
    assert [c.pos for c in store.get_table(table.name).chunks] == [0, 77]


# --- every store: updates ------------------------------------------------------------------------------


def test_update_chunks_changes_only_the_named_chunks(store):
    table = make_table(engines=2, chunks=4)
    other = make_table(table_key("db", "other"), engines=2, chunks=4)
    store.put_table(table)
    store.put_table(other)
    engine = table.engines[1]
    changed = [progressed(engine.chunks[1], 5), progressed(engine.chunks[3], 7)]

    store.update_chunks(table.name, 1, changed)

    expected = table.with_chunk(1, changed[0]).with_chunk(1, changed[1])
    assert store.get_table(table.name) == expected
    assert store.get_table(other.name) == other


def test_update_chunks_matches_chunks_of_the_named_engine_only(store):
    # Engines 0 and 1 hold a chunk with the same key; only engine 1's moves.
    same = make_chunk("db.t.sql")
    table = make_table(engines=0)
    table = replace(table, engines=(EngineCheckpoint(0, chunks=(same,)), EngineCheckpoint(1, chunks=(same,))))
    store.put_table(table)
    store.update_chunks(table.name, 1, [progressed(same, 3)])
    assert store.get_table(table.name).engines[0].chunks == (same,)
    assert store.get_table(table.name).engines[1].chunks == (progressed(same, 3),)


def test_update_chunks_with_no_chunks_changes_nothing(store):
    table = make_table()
    store.put_table(table)
    store.update_chunks(table.name, 0, [])
    assert store.get_table(table.name) == table


def test_update_chunks_of_an_unknown_chunk_is_refused_and_changes_nothing(store):
    table = make_table(engines=1, chunks=2)
    store.put_table(table)
    known = progressed(table.engines[0].chunks[0], 1)
    with pytest.raises(CheckpointError, match="no checkpoint for chunk db.t.sql:0"):
        store.update_chunks(table.name, 0, [known, make_chunk("db.t.sql")])
    assert store.get_table(table.name) == table


def test_update_chunks_of_an_unknown_engine_is_refused(store):
    table = make_table(engines=1)
    store.put_table(table)
    with pytest.raises(CheckpointError, match="no checkpoint for engine 7"):
        store.update_chunks(table.name, 7, [table.engines[0].chunks[0]])


def test_update_chunks_of_an_unknown_table_is_refused(store):
    with pytest.raises(CheckpointError, match=r"no checkpoint for table `db`.`missing`"):
        store.update_chunks(table_key("db", "missing"), 0, [make_chunk("a.sql")])


def test_update_chunks_naming_a_chunk_twice_is_refused(store):
    table = make_table(engines=1)
    store.put_table(table)
    chunk = table.engines[0].chunks[0]
    with pytest.raises(CheckpointError, match="appears twice"):
        store.update_chunks(table.name, 0, [progressed(chunk, 1), progressed(chunk, 2)])


def test_update_status_of_the_table_leaves_its_engines(store):
    table = make_table()
    store.put_table(table)
    store.update_status(table.name, CheckpointStatus.CHECKSUMMED)
    assert store.get_table(table.name) == replace(table, status=CheckpointStatus.CHECKSUMMED)


def test_update_status_of_an_engine_leaves_the_table_and_other_engines(store):
    table = make_table(engines=3)
    store.put_table(table)
    store.update_status(table.name, CheckpointStatus.IMPORTED, engine_id=1)
    assert store.get_table(table.name) == table.with_engine_status(1, CheckpointStatus.IMPORTED)


@pytest.mark.parametrize("step", [s for s in CheckpointStatus if s > CheckpointStatus.MAX_INVALID])
def test_error_statuses_survive(store, step):
    table = make_table()
    store.put_table(table)
    store.update_status(table.name, failed_status(step))
    store.update_status(table.name, failed_status(step), engine_id=0)
    stored = store.get_table(table.name)
    assert (stored.status, stored.engines[0].status) == (step // 10, step // 10)


def test_update_status_of_an_unknown_table_or_engine_is_refused(store):
    table = make_table(engines=1)
    store.put_table(table)
    with pytest.raises(CheckpointError, match="no checkpoint for table"):
        store.update_status(table_key("db", "missing"), CheckpointStatus.IMPORTED)
    with pytest.raises(CheckpointError, match="no checkpoint for engine 5"):
        store.update_status(table.name, CheckpointStatus.IMPORTED, engine_id=5)


@pytest.mark.parametrize("status", [-1, 256, 1000])
def test_a_status_outside_a_byte_is_refused(store, status):
    table = make_table()
    store.put_table(table)
    with pytest.raises(CheckpointError, match="not a checkpoint status"):
        store.update_status(table.name, status)
    with pytest.raises(CheckpointError, match="not a checkpoint status"):
        store.put_table(replace(table, status=status))
    assert store.get_table(table.name) == table


def test_a_table_with_the_same_chunk_twice_in_an_engine_is_refused(store):
    chunk = make_chunk("a.sql")
    engine = EngineCheckpoint(0, chunks=(chunk, progressed(chunk, 1)))
    table = replace(make_table(), engines=(engine,))
    with pytest.raises(CheckpointError, match="appears twice"):
        store.put_table(table)
    assert store.get_table(table.name) is None


@pytest.mark.parametrize(
    "change",
    [
        {"fingerprint": "x" * 256},
        {"name": table_key("d" * 64, "t" * 200)},
        {"engines": (EngineCheckpoint(1 << 31),)},
        {"checksum_before": RowChecksum(1, 1 << 64)},
    ],
    ids=["long fingerprint", "long name", "engine id beyond int32", "checksum beyond 64 bits"],
)
def test_a_table_some_store_could_not_keep_is_refused_by_every_store(store, change):
    with pytest.raises(CheckpointError):
        store.put_table(replace(make_table(), **change))


def test_a_chunk_some_store_could_not_keep_is_refused_by_every_store(store):
    table = make_table(engines=1)
    store.put_table(table)
    too_long = replace(table.engines[0].chunks[0], statement="INSERT" * 20)
    with pytest.raises(CheckpointError, match="statement"):
        store.update_chunks(table.name, 0, [too_long])


# --- every store: removing ------------------------------------------------------------------------------


def test_remove_table_leaves_the_others(store):
    kept, removed = make_table(table_key("db", "kept")), make_table(table_key("db", "removed"))
    store.put_table(kept)
    store.put_table(removed)
    store.remove_table(removed.name)
    assert store.table_names() == [kept.name]
    assert store.get_table(removed.name) is None
    assert store.get_table(kept.name) == kept


def test_removing_a_table_without_checkpoint_is_no_error(store):
    store.remove_table(table_key("db", "never"))
    assert store.table_names() == []


def test_remove_all_removes_the_task_and_every_table(store):
    store.put_task(make_task())
    store.put_table(make_table(table_key("db", "a")))
    store.put_table(make_table(table_key("db", "b")))
    store.remove_all()
    assert store.get_task() is None
    assert store.table_names() == []


def test_a_store_takes_new_checkpoints_after_remove_all(store):
    store.put_table(make_table(table_key("db", "old")))
    store.remove_all()
    table = make_table(table_key("db", "new"))
    store.put_table(table)
    store.put_task(make_task())
    assert store.table_names() == [table.name]
    assert store.get_task() == make_task()


# --- every store: the same outcome for the same sequence of calls ---------------------------------------


@st.composite
def scenarios(draw):
    """Initial tables, then a sequence of calls naming their tables, engines and chunks."""
    tables = draw(st.lists(table_checkpoints, min_size=1, max_size=3, unique_by=lambda t: t.name))
    calls = []
    for _ in range(draw(st.integers(0, 12))):
        table = draw(st.sampled_from(tables))
        kind = draw(st.sampled_from(["put", "chunks", "status", "engine status", "remove"]))
        engines = [e for e in table.engines if e.chunks] if kind == "chunks" else list(table.engines)
        if kind in ("chunks", "engine status") and not engines:
            kind = "status"
        if kind == "put":
            calls.append(("put", table))
        elif kind == "remove":
            calls.append(("remove", table.name))
        elif kind == "status":
            calls.append(("status", table.name, draw(_statuses), None))
        elif kind == "engine status":
            calls.append(("status", table.name, draw(_statuses), draw(st.sampled_from(engines)).id))
        else:
            engine = draw(st.sampled_from(engines))
            chosen = draw(st.lists(st.sampled_from(engine.chunks), min_size=1, unique_by=lambda c: c.key))
            step = draw(st.integers(1, 1000))
            calls.append(("chunks", table.name, engine.id, [progressed(c, step) for c in chosen]))
    return tables, calls


def expected_after(tables: dict[str, TableCheckpoint], call) -> bool:
    """Apply ``call`` to the reference ``tables`` (built from the model alone); False if it must fail."""
    kind, name = call[0], call[1].name if call[0] == "put" else call[1]
    if kind == "put":
        tables[name] = call[1]
        return True
    if kind == "remove":
        tables.pop(name, None)
        return True
    if name not in tables:
        return False
    if kind == "status":
        _, _, status, engine_id = call
        tables[name] = (
            replace(tables[name], status=status)
            if engine_id is None
            else tables[name].with_engine_status(engine_id, status)
        )
    else:
        _, _, engine_id, chunks = call
        for chunk in chunks:
            tables[name] = tables[name].with_chunk(engine_id, chunk)
    return True


@_store_settings
@given(scenario=scenarios())
def test_every_store_ends_where_the_model_says(store, scenario):
    tables, calls = scenario
    store.remove_all()
    expected: dict[str, TableCheckpoint] = {}
    for table in tables:
        store.put_table(table)
        expected[table.name] = table
    for call in calls:
        if expected_after(expected, call):
            run(store, call)
        else:
            with pytest.raises(CheckpointError):
                run(store, call)
    assert store.table_names() == sorted(expected)
    for name, table in expected.items():
        assert store.get_table(name) == table


def run(store: CheckpointStore, call) -> None:
    if call[0] == "put":
        store.put_table(call[1])
    elif call[0] == "remove":
        store.remove_table(call[1])
    elif call[0] == "status":
        store.update_status(call[1], call[2], engine_id=call[3])
    else:
        store.update_chunks(call[1], call[2], call[3])


# --- every store: threads -------------------------------------------------------------------------------


def test_concurrent_updates_from_8_threads_lose_nothing(open_store):
    store = open_store()
    threads, rounds = 8, 12
    shared = make_table(table_key("db", "shared"), engines=threads, chunks=2)
    own = [make_table(table_key("db", f"t{i}"), engines=1, chunks=3) for i in range(threads)]
    store.put_table(shared)
    for table in own:
        store.put_table(table)
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(i: int) -> None:
        try:
            start.wait()
            for step in range(1, rounds + 1):
                store.update_chunks(own[i].name, 0, [progressed(c, step) for c in own[i].engines[0].chunks])
                store.update_chunks(shared.name, i, [progressed(shared.engines[i].chunks[step % 2], step)])
                store.update_status(shared.name, CheckpointStatus.LOADED + step, engine_id=i)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    assert failures == []

    for reader in (store, open_store()):
        for i in range(threads):
            assert reader.get_table(own[i].name).chunks == tuple(progressed(c, rounds) for c in own[i].chunks)
            engine = reader.get_table(shared.name).engines[i]
            assert engine.status == CheckpointStatus.LOADED + rounds
            assert engine.chunks == (
                progressed(shared.engines[i].chunks[0], rounds),
                progressed(shared.engines[i].chunks[1], rounds - 1),
            )
    print(f"{store.description}: {threads * rounds * 3} updates from {threads} threads in {elapsed:.3f}s")


# --- the persistent stores: a restart -------------------------------------------------------------------


def test_a_new_store_object_sees_what_the_previous_one_wrote(reopen):
    first = reopen()
    table = make_table(table_key("db", "ünïcode`tbl"), engines=2)
    first.put_task(make_task())
    first.put_table(table)
    first.update_chunks(table.name, 0, [progressed(table.engines[0].chunks[0], 4)])
    first.update_status(table.name, failed_status(CheckpointStatus.ALL_WRITTEN))
    first.close()

    second = reopen()
    assert second.get_task() == make_task()
    assert second.table_names() == [table.name]
    assert second.get_table(table.name) == replace(
        table.with_chunk(0, progressed(table.engines[0].chunks[0], 4)), status=6
    )


def test_two_store_objects_on_the_same_place_see_each_others_writes(reopen):
    one, two = reopen(), reopen()
    one.put_table(make_table(table_key("db", "a")))
    two.put_table(make_table(table_key("db", "b")))
    one.update_status(table_key("db", "b"), CheckpointStatus.IMPORTED)
    assert one.table_names() == two.table_names() == [table_key("db", "a"), table_key("db", "b")]
    assert two.get_table(table_key("db", "b")).status == CheckpointStatus.IMPORTED


def test_remove_all_by_another_store_object_empties_this_one(reopen):
    one, two = reopen(), reopen()
    one.put_task(make_task())
    one.put_table(make_table())
    two.remove_all()
    assert one.get_task() is None
    assert one.table_names() == []
    one.put_table(make_table(table_key("db", "again")))
    assert two.table_names() == [table_key("db", "again")]


# --- the file store ------------------------------------------------------------------------------------


def test_file_store_writes_a_versioned_json_document(tmp_path):
    path = tmp_path / "cp.json"
    store = FileCheckpointStore(path)
    store.put_task(make_task())
    store.put_table(make_table())
    document = json.loads(path.read_text())
    assert document["version"] == FORMAT_VERSION
    assert document["task"] == make_task().to_json()
    assert [TableCheckpoint.from_json(t) for t in document["tables"]] == [make_table()]


def test_file_store_creates_missing_directories_on_first_write(tmp_path):
    path = tmp_path / "a" / "b" / "cp.json"
    store = FileCheckpointStore(path)
    assert not path.parent.exists()
    store.put_task(make_task())
    assert FileCheckpointStore(path).get_task() == make_task()


def test_file_store_replaces_the_file_instead_of_rewriting_it_in_place(tmp_path):
    path = tmp_path / "cp.json"
    store = FileCheckpointStore(path)
    store.put_table(make_table())
    with path.open("rb") as before:
        store.update_status(make_table().name, CheckpointStatus.IMPORTED)
        # The file a reader had open is untouched, whole and valid; the new content is a new file.
        assert TableCheckpoint.from_json(json.loads(before.read())["tables"][0]) == make_table()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cp.json", "cp.json.lock"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x01binary garbage",
        b'{"format": "airflow-provider-lightning checkpoints", "version": 1, "task": nu',
        b'{"something": "else"}',
        b'{"format": "airflow-provider-lightning checkpoints", "version": 1, "task": null, '
        b'"tables": [{"x": 1}]}',
    ],
    ids=["empty", "binary", "truncated", "other JSON", "wrong shape"],
)
def test_a_corrupt_file_is_refused_naming_it_and_what_to_do(tmp_path, content):
    path = tmp_path / "cp.json"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        FileCheckpointStore(path).get_task()
    assert str(path) in str(caught.value)
    assert "checkpoint-remove all" in str(caught.value)
    assert "delete the file" in str(caught.value)


def test_a_corrupt_file_is_refused_by_writes_too(tmp_path):
    path = tmp_path / "cp.json"
    path.write_bytes(b"{torn")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        FileCheckpointStore(path).put_table(make_table())
    assert path.read_bytes() == b"{torn"


def test_remove_all_clears_a_corrupt_file(tmp_path):
    path = tmp_path / "cp.json"
    path.write_bytes(b"{torn")
    store = FileCheckpointStore(path)
    store.remove_all()
    assert store.table_names() == []
    assert not path.exists()


def test_a_file_of_an_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "cp.json"
    path.write_text(json.dumps({"format": "airflow-provider-lightning checkpoints", "version": 99}))
    with pytest.raises(CheckpointError, match=r"format version 99.*reads only version 1"):
        FileCheckpointStore(path).table_names()


def test_a_directory_as_checkpoint_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        FileCheckpointStore(tmp_path)


def test_remove_all_deletes_the_file(tmp_path):
    path = tmp_path / "cp.json"
    store = FileCheckpointStore(path)
    store.put_task(make_task())
    store.remove_all()
    assert list(tmp_path.iterdir()) == []


def test_file_archive_moves_the_checkpoints_to_a_backup_file(tmp_path):
    path = tmp_path / "cp.json"
    store = FileCheckpointStore(path)
    store.put_task(make_task())
    store.put_table(make_table())
    assert store.archive(42) == f"file {tmp_path / 'cp.json.42.bak'}"
    assert store.table_names() == []
    assert not path.exists()
    backup = FileCheckpointStore(tmp_path / "cp.json.42.bak")
    assert (backup.get_task(), backup.get_table(make_table().name)) == (make_task(), make_table())


_WRITER = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    from airflow_provider_lightning.core.checkpoints.file_store import FileCheckpointStore
    from airflow_provider_lightning.core.checkpoints.model import (
        ChunkCheckpoint, EngineCheckpoint, TableCheckpoint,
    )
    from airflow_provider_lightning.core.checksum import RowChecksum

    path, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = FileCheckpointStore(path)
    chunks = tuple(
        ChunkCheckpoint(path=f"{name}.{i:05}.sql", offset=0, end_offset=-1, pos=0, type=1, compression=0,
                        sort_key="", file_size=1 << 20)
        for i in range(400)
    )
    store.put_table(TableCheckpoint(name=name, engines=(EngineCheckpoint(0, chunks=chunks),)))
    print("ready", flush=True)
    for step in range(1, rounds + 1):
        chunk = replace(chunks[step % len(chunks)], pos=step, rows=step, checksum=RowChecksum(step, step))
        store.update_chunks(name, 0, [chunk])
    print("done", flush=True)
    """
)


def start_writer(path: Path, name: str, rounds: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), name, str(rounds)], stdout=subprocess.PIPE, text=True
    )


def test_a_writer_killed_at_any_moment_leaves_a_readable_file(tmp_path):
    path = tmp_path / "cp.json"
    for attempt in range(6):
        writer = start_writer(path, table_key("db", f"t{attempt}"), 100_000)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.07 * attempt)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        store = FileCheckpointStore(path)
        assert table_key("db", f"t{attempt}") in store.table_names()  # raises if the file were torn
        assert len(store.table_names()) == attempt + 1
        store.close()


def test_processes_updating_different_tables_of_one_file_lose_nothing(tmp_path):
    path = tmp_path / "cp.json"
    names = [table_key("db", f"p{i}") for i in range(3)]
    writers = [start_writer(path, name, 60) for name in names]
    for writer in writers:
        out, _ = writer.communicate(timeout=120)
        assert out.split() == ["ready", "done"]
    store = FileCheckpointStore(path)
    assert store.table_names() == names
    for name in names:
        # Each process's last update (step 60 went to chunk 60) is there.
        assert store.get_table(name).chunks[60].pos == 60
        assert store.get_table(name).rows == sum(range(1, 61))


# --- the mysql store -----------------------------------------------------------------------------------


def test_mysql_store_keeps_lightnings_table_names(server_settings, make_database, mysql_server):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(server_settings, schema)
    store.put_task(make_task())
    store.close()
    conn = mysql_server.connect(schema)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert sorted(row[0] for row in cur.fetchall()) == ["chunk_v6", "engine_v5", "table_v10", "task_v2"]
    conn.close()


def test_reading_a_mysql_store_that_does_not_exist_finds_nothing_and_creates_nothing(
    server_settings, mysql_server
):
    schema = f"lt_nocp_{uuid.uuid4().hex[:10]}"
    store = MySQLCheckpointStore(server_settings, schema)
    try:
        assert store.get_task() is None
        assert store.table_names() == []
        assert store.get_table("`db`.`t`") is None
        store.remove_table("`db`.`t`")
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (schema,))
            assert cur.fetchone()[0] == 0
        conn.close()
        store.put_task(make_task())  # the first write creates it
        assert store.get_task() == make_task()
    finally:
        store.close()
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.close()


def test_mysql_store_keeps_checksums_as_unsigned_64_bit_numbers(server_settings, make_database, mysql_server):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(server_settings, schema)
    table = make_table(engines=1, chunks=1)
    chunk = replace(table.engines[0].chunks[0], checksum=RowChecksum(5, MAX_UINT64))
    store.put_table(replace(table, engines=(EngineCheckpoint(0, chunks=(chunk,)),)))
    conn = mysql_server.connect(schema)
    with conn.cursor() as cur:
        cur.execute("SELECT checksum_sum, checksum_rows, columns FROM chunk_v6")
        assert cur.fetchall() == ((MAX_UINT64, 5, '["id", "name"]'),)
    conn.close()
    store.close()


def test_mysql_remove_all_drops_the_schema(server_settings, make_database, mysql_server):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(server_settings, schema)
    store.put_task(make_task())
    store.remove_all()
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (schema,))
        assert cur.fetchone() == (0,)
    conn.close()
    store.close()


def test_mysql_archive_moves_the_tables_to_a_backup_schema(server_settings, make_database, mysql_server):
    schema = make_database("ltcp")
    backup = f"{schema}.42.bak"
    store = MySQLCheckpointStore(server_settings, schema)
    try:
        store.put_task(make_task())
        store.put_table(make_table())
        assert store.archive(42) == f"mysql {server_settings.address} `{backup}`"
        assert store.table_names() == []
        moved = MySQLCheckpointStore(server_settings, backup)
        assert (moved.get_task(), moved.get_table(make_table().name)) == (make_task(), make_table())
        moved.close()
    finally:
        store.close()
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{backup}`")
        conn.close()


def test_mysql_store_description_names_server_and_schema(server_settings, make_database):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(server_settings, schema)
    assert store.description == f"mysql {server_settings.host}:{server_settings.port} `{schema}`"
    store.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the test server, and can cut every connection, or stop."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut_connections(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self) -> None:
        try:
            # Wakes the accepting thread, whose accept() would otherwise keep the socket listening.
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.cut_connections()


@pytest.fixture
def proxy(mysql_server) -> Iterator[TcpProxy]:
    proxy = TcpProxy(mysql_server.host, mysql_server.port)
    yield proxy
    proxy.stop()


def test_mysql_store_reconnects_after_losing_its_connection(server_settings, make_database, proxy):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(replace(server_settings, host="127.0.0.1", port=proxy.port), schema)
    table = make_table()
    store.put_table(table)
    proxy.cut_connections()
    store.update_status(table.name, CheckpointStatus.IMPORTED)
    proxy.cut_connections()
    assert store.get_table(table.name).status == CheckpointStatus.IMPORTED
    store.close()


def test_mysql_store_that_cannot_reconnect_fails_naming_the_server(server_settings, make_database, proxy):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(replace(server_settings, host="127.0.0.1", port=proxy.port), schema)
    store.put_task(make_task())
    proxy.stop()
    with pytest.raises(CheckpointError, match=f"127.0.0.1:{proxy.port}"):
        store.get_task()
    store.close()


def test_mysql_store_on_an_unreachable_server_fails_naming_it(make_database):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CheckpointError, match=f"cannot connect .*127.0.0.1:{port}.*checkpoint. dsn"):
        MySQLCheckpointStore(ConnectionSettings(host="127.0.0.1", port=port, connect_timeout=2), "cp")


def test_mysql_store_recreates_its_tables_dropped_by_someone_else(
    server_settings, make_database, mysql_server
):
    schema = make_database("ltcp")
    store = MySQLCheckpointStore(server_settings, schema)
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{schema}`")
    conn.close()
    store.put_table(make_table())
    assert store.table_names() == [make_table().name]
    store.close()


# --- choosing a store -----------------------------------------------------------------------------------


def open_from_config(driver: str, dsn: str, tmp_path: Path, target: ConnectionSettings | None = None, **kw):
    return open_checkpoint_store(
        driver,
        dsn,
        schema=kw.get("schema", "tidb_lightning_checkpoint"),
        target=target or ConnectionSettings(),
        default_file=tmp_path / "default.json",
    )


def test_file_driver_uses_the_dsn_as_path(tmp_path):
    store = open_from_config("file", str(tmp_path / "given.json"), tmp_path)
    assert isinstance(store, FileCheckpointStore)
    assert store.description == f"file {tmp_path / 'given.json'}"


def test_file_driver_with_empty_dsn_uses_the_default_file(tmp_path):
    store = open_from_config("file", "", tmp_path)
    assert store.description == f"file {tmp_path / 'default.json'}"


def test_file_driver_refuses_a_remote_address(tmp_path):
    with pytest.raises(ConfigError) as caught:
        open_from_config("file", "s3://bucket/cp.json", tmp_path)
    assert caught.value.key == "checkpoint.dsn"


def test_mysql_driver_with_empty_dsn_uses_the_target(tmp_path, server_settings, make_database):
    schema = make_database("ltcp")
    store = open_from_config("mysql", "", tmp_path, target=server_settings, schema=schema)
    assert store.description == f"mysql {server_settings.address} `{schema}`"
    store.close()


@pytest.mark.parametrize("form", ["go", "url"])
def test_mysql_driver_connects_where_the_dsn_says(tmp_path, server_settings, make_database, form):
    schema = make_database("ltcp")
    s = server_settings
    if form == "go":
        dsn = f"{s.user}:{s.password}@tcp({s.host}:{s.port})/"
    else:
        dsn = f"mysql://{s.user}:{s.password}@{s.host}:{s.port}"
    # The target is somewhere else entirely: only the DSN leads to the server.
    store = open_from_config("mysql", dsn, tmp_path, target=ConnectionSettings(port=1), schema=schema)
    store.put_task(make_task())
    assert store.get_task() == make_task()
    store.close()


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("root:@tcp(127.0.0.1:4000)/", ConnectionSettings("127.0.0.1", 4000, "root", "")),
        ("u:p@ss:w@rd@tcp(db.example:3307)/", ConnectionSettings("db.example", 3307, "u", "p@ss:w@rd")),
        ("u@tcp(host)/", ConnectionSettings("host", 3306, "u", "")),
        ("u:p@tcp([::1]:4000)/dbname?charset=utf8mb4", ConnectionSettings("::1", 4000, "u", "p")),
        ("u:p@/", ConnectionSettings("127.0.0.1", 3306, "u", "p")),
        ("u:p@tcp(h:1)/?tls=skip-verify", ConnectionSettings("h", 1, "u", "p", tls=TlsSettings(TlsMode.REQUIRED, asked_by="checkpoint.dsn tls=skip-verify"))),
        ("mysql://u:p%40x@h:4000", ConnectionSettings("h", 4000, "u", "p@x")),
        ("mysql://h", ConnectionSettings("h", 3306, "root", "")),
        ("mysql://u:p@h:4000/?tls=true", ConnectionSettings("h", 4000, "u", "p", tls=TlsSettings(TlsMode.VERIFY_IDENTITY, asked_by="checkpoint.dsn tls=true"))),
    ],
)
def test_mysql_dsns_in_go_and_url_form_are_read(dsn, expected):
    assert parse_mysql_dsn(dsn) == expected


@pytest.mark.parametrize(
    "dsn",
    [
        "user:s3cret@tcp(host:4000)",
        "user:s3cret@unix(/var/run/mysqld.sock)/",
        "user:s3cret@tcp(host:99999)/",
        "user:s3cret@tcp(host:4000/",
        "user:s3cret@tcp(host:4000)/?tls=custom",
        "mysql://user:s3cret@host:port",
    ],
)
def test_a_bad_mysql_dsn_is_a_config_error_that_hides_the_password(tmp_path, dsn):
    with pytest.raises(ConfigError) as caught:
        open_from_config("mysql", dsn, tmp_path)
    assert caught.value.key == "checkpoint.dsn"
    assert "s3cret" not in str(caught.value)


def test_an_unknown_driver_is_a_config_error_listing_the_drivers(tmp_path):
    with pytest.raises(ConfigError) as caught:
        open_from_config("postgres", "", tmp_path)
    assert caught.value.key == "checkpoint.driver"
    assert "'file', 'mysql', 'airflow'" in str(caught.value)


def test_the_airflow_driver_is_not_opened_outside_airflow(tmp_path):
    with pytest.raises(ConfigError, match="only exists inside an Airflow task"):
        open_from_config("airflow", "", tmp_path)


def test_every_store_is_a_checkpoint_store(tmp_path, server_settings, make_database):
    mysql = MySQLCheckpointStore(server_settings, make_database("ltcp"))
    task_state = TaskStateCheckpointStore(JsonKeyValues())
    for store in (MemoryCheckpointStore(), FileCheckpointStore(tmp_path / "cp.json"), mysql, task_state):
        assert isinstance(store, CheckpointStore)
    mysql.close()
