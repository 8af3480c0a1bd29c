"""The differential suite: the ``mariadb`` client is the oracle of what an import must store.

One source database (``tables.py``: every column type, hostile and hypothesis-generated values, strings in
utf8mb4, latin1, gbk, ascii and binary) is dumped by the real tools (``dumps.DUMP_VARIANTS``), and each dump
is loaded by ``lightning import`` and by ``mariadb db < file``; every table must then have the same columns,
rows and ``CHECKSUM TABLE`` (``compare.py``). CSV files in GBK, GB18030, latin1 and UTF-8 are compared with
``LOAD DATA LOCAL INFILE ... CHARACTER SET`` the same way (``test_csv_charsets.py``).

To cover a new kind of dump, add a ``DumpVariant`` (or a table to ``source_tables``): every table of every
variant becomes its own test id, ``test_table_lands_as_the_mariadb_client_loads_it[<variant>-<table>]``.
"""
