"""Fixtures of the differential suite: one source database, its dumps, and each dump loaded twice.

Everything expensive is made once: the source database for the session, each dump variant's dump and its two
loads (``lightning import`` and the ``mariadb`` client) once per variant, shared by the tests of its tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.differential.dumps import (
    DUMP_VARIANTS,
    DumpVariant,
    LightningRun,
    dump,
    dump_files_in_load_order,
    import_with_lightning,
    load_with_mariadb_client,
)
from tests.differential.tables import create_source, source_tables


@pytest.fixture(scope="session")
def session_database(mysql_server) -> Iterator[Callable[[str], str]]:
    """A factory for databases that live for the whole session (``make_database`` lives for one test)."""
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4")
        conn.close()
        made.append(name)
        return name

    yield make
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        for name in made:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture(scope="session")
def source_database(mysql_server, session_database) -> str:
    """The database every dump is made from: all the tables of :mod:`tables`, filled."""
    name = session_database("lt_dsrc")
    conn = mysql_server.connect(name, charset="utf8mb4")
    try:
        create_source(conn, source_tables())
    finally:
        conn.close()
    return name


@dataclass(frozen=True)
class LoadedDump:
    """One dump, loaded by the oracle into ``oracle`` and by ``lightning import`` into ``ours``."""

    variant: DumpVariant
    dump_dir: Path
    oracle: str
    ours: str
    lightning: LightningRun


@pytest.fixture(scope="session")
def load_dump(
    mysql_server, source_database, session_database, tmp_path_factory
) -> Callable[[DumpVariant], LoadedDump]:
    """Dump with a variant and load the dump both ways, once per variant for the whole session."""
    loaded: dict[str, LoadedDump] = {}

    def load(variant: DumpVariant) -> LoadedDump:
        if variant.name not in loaded:
            workdir = tmp_path_factory.mktemp(variant.name)
            dump_dir = dump(mysql_server, source_database, variant, workdir / "dump")
            oracle = session_database("lt_doracle")
            load_with_mariadb_client(
                mysql_server,
                oracle,
                dump_files_in_load_order(dump_dir, source_database),
                variant.client_options,
            )
            ours = session_database("lt_dours")
            run = import_with_lightning(
                mysql_server,
                dump_dir,
                source_database,
                ours,
                session_database("lt_dti"),
                workdir / "lightning",
            )
            loaded[variant.name] = LoadedDump(variant, dump_dir, oracle, ours, run)
        return loaded[variant.name]

    return load


def _variants(tool: str) -> list[DumpVariant]:
    return [v for v in DUMP_VARIANTS if v.tool == tool]


@pytest.fixture(scope="module", params=DUMP_VARIANTS, ids=[v.name for v in DUMP_VARIANTS])
def loaded_dump(request, load_dump) -> LoadedDump:
    """Each dump variant, loaded both ways."""
    return load_dump(request.param)


@pytest.fixture(scope="module", params=_variants("mydumper"), ids=[v.name for v in _variants("mydumper")])
def mydumper_dump(request, load_dump) -> LoadedDump:
    """Each mydumper variant, loaded both ways."""
    return load_dump(request.param)


@pytest.fixture(
    scope="module", params=_variants("mariadb-dump"), ids=[v.name for v in _variants("mariadb-dump")]
)
def mariadb_dump(request, load_dump) -> LoadedDump:
    """Each mariadb-dump variant, loaded both ways."""
    return load_dump(request.param)
