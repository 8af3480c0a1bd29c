"""The ``mariadb`` client is the oracle: each real dump, loaded by ``lightning import``, is what it loads.

Every dump variant (mydumper with and without ``--rows``/``--compress``, mariadb-dump with its options) is
made once from the source database and loaded twice; each table is then its own test, so a failure names the
variant and the table:
``test_a_mariadb_dump_table_lands_as_the_mariadb_client_loads_it[mariadb-dump-latin1-strings_latin1]``.
"""

from __future__ import annotations

import pytest

from tests.differential.compare import assert_same_table, table_rows
from tests.differential.dumps import MYDUMPER_UNLOADABLE_TABLES
from tests.differential.tables import source_tables

ALL_TABLES = [table.name for table in source_tables()]
MYDUMPER_TABLES = [name for name in ALL_TABLES if name not in MYDUMPER_UNLOADABLE_TABLES]


def test_the_oracle_loads_every_source_row(loaded_dump, mysql_server):
    """A dump or client that loses rows would make the comparison blind: the oracle holds every row made."""
    dumped = MYDUMPER_TABLES if loaded_dump.variant.tool == "mydumper" else ALL_TABLES
    tables = [table for table in source_tables() if table.name in dumped]
    counts = {table.name: len(table_rows(mysql_server, loaded_dump.oracle, table.name)) for table in tables}
    assert counts == {table.name: len(table.rows) for table in tables}


def test_lightning_import_succeeds(loaded_dump):
    assert loaded_dump.lightning.returncode == 0, loaded_dump.lightning.summary()


@pytest.mark.parametrize("table", MYDUMPER_TABLES)
def test_a_mydumper_table_lands_as_the_mariadb_client_loads_it(mydumper_dump, mysql_server, table):
    assert_same_table(
        mysql_server, mydumper_dump.oracle, mydumper_dump.ours, table, mydumper_dump.lightning.summary()
    )


@pytest.mark.parametrize("table", ALL_TABLES)
def test_a_mariadb_dump_table_lands_as_the_mariadb_client_loads_it(mariadb_dump, mysql_server, table):
    assert_same_table(
        mysql_server, mariadb_dump.oracle, mariadb_dump.ours, table, mariadb_dump.lightning.summary()
    )
