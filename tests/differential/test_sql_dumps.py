"""The ``mariadb`` client is the oracle: each real dump, loaded by ``lightning import``, is what the client loads.

Every dump variant (mydumper with and without ``--rows``/``--compress``, mariadb-dump with its options) is
made once from the source database and loaded twice; each table is then its own test, so a failure names the
variant and the table (``test_table_lands_as_the_mariadb_client_loads_it[mariadb-dump-latin1-strings_latin1]``).
"""

from __future__ import annotations

import pytest

from tests.differential.compare import assert_same_table, table_rows
from tests.differential.tables import source_tables

TABLE_NAMES = [table.name for table in source_tables()]


def test_the_oracle_loads_every_source_row(loaded_dump, mysql_server):
    """A dump or client that loses rows would make the comparison blind: the oracle holds every row made."""
    counts = {table.name: len(table_rows(mysql_server, loaded_dump.oracle, table.name)) for table in source_tables()}
    assert counts == {table.name: len(table.rows) for table in source_tables()}


def test_lightning_import_succeeds(loaded_dump):
    assert loaded_dump.lightning.returncode == 0, loaded_dump.lightning.summary()


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_table_lands_as_the_mariadb_client_loads_it(loaded_dump, mysql_server, table):
    assert_same_table(mysql_server, loaded_dump.oracle, loaded_dump.ours, table, loaded_dump.lightning.summary())
