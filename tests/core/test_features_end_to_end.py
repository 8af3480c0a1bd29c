"""What the docs promise, proven through the real ``lightning import`` against the real MariaDB.

- every ``[mydumper.csv]`` option, set in the config file and imported from a CSV whose bytes need it,
  stores what ``LOAD DATA LOCAL INFILE`` with the matching options stores (the ``mariadb`` client is the
  oracle): same rows, same ``CHECKSUM TABLE``;
- CSV and SQL data files of several MB compressed with gzip, zstd and snappy (framed) import equal to
  the same files uncompressed;
- ``[[routes]]`` merge shards of several source databases into one target table.
"""

from __future__ import annotations

import gzip
import io
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import snappy
import zstandard

from tests.core.test_cli import run_lightning, write_config
from tests.differential.compare import assert_same_table, table_checksum, table_rows
from tests.differential.dumps import import_with_lightning, load_with_mariadb_client, mariadb_client_sql

SOURCE = "featsrc"
TABLE_SQL = (
    "CREATE TABLE `t` (`id` INT NOT NULL PRIMARY KEY, `a` VARCHAR(40) NULL, `b` VARCHAR(40) NULL) "
    "DEFAULT CHARSET=utf8mb4;\n"
)


# ---- [mydumper.csv] ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvOption:
    """A ``[mydumper.csv]`` setting, a file that needs it, and the ``LOAD DATA`` clauses that read it alike."""

    name: str
    config: str  # lines of [mydumper.csv]
    data: bytes
    load_data: str  # everything after INTO TABLE `t`


CSV_OPTIONS = (
    CsvOption(
        "separator",
        'header = false\nseparator = "|:"\n',
        b"1|:x,y|:plain\n2|:\"q|:q\"|:,\n",
        "FIELDS TERMINATED BY '|:' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        "delimiter",
        "header = false\ndelimiter = \"'\"\n",
        b"1,'a,b','it''s'\n2,\"dq\",'x\ny'\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\\'' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        "terminator",
        'header = false\nterminator = "\\r\\n"\n',
        b"1,line\nfeed,x\r\n2,bare\rcr,y\r\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\r\\n'",
    ),
    CsvOption(
        "escaped-by",
        'header = false\nescaped-by = "!"\n',
        b'1,"a!"b",c!,d\n2,!!bang,tab!there\n3,back\\slash,nl!nhere\n',
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '!' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        "backslash-escape",
        "header = false\nbackslash-escape = false\n",
        b'1,"C:\\temp\\new","ends\\"\n2,a\\,b\\t\n',
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        "null",
        'header = false\nnull = "NULL"\n',
        b"1,NULL,x\n2,nULL,NULL\n3,,NULLs\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        # Without not-null, \N (the default null token, with escapes off) would be NULL.
        "not-null",
        'header = false\nnot-null = true\nbackslash-escape = false\ndelimiter = ""\n',
        b"1,\\N,x\n2,NULL,\\N\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '' ESCAPED BY '' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        "header",
        "header = true\n",
        b"id,a,b\n1,x,y\n2,\\N,z\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' IGNORE 1 LINES",
    ),
    CsvOption(
        "header-without-header",
        "header = false\n",
        b"1,x,y\n2,\\N,z\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
    ),
    CsvOption(
        "header-schema-match",
        "header = true\nheader-schema-match = true\n",
        b"b,id,a\nfirst,1,second\nB,2,A\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' IGNORE 1 LINES "
        "(b, id, a)",
    ),
    CsvOption(
        "header-schema-match-off",
        "header = true\nheader-schema-match = false\n",
        b"col1,col2,col3\n1,x,y\n2,z,w\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' IGNORE 1 LINES",
    ),
    CsvOption(
        "trim-last-separator",
        "header = false\ntrim-last-separator = true\n",
        b"1,x,y,\n2,,z,\n",
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (id, a, b, @trailing)",
    ),
)


def write_csv_source(root: Path, data: bytes) -> Path:
    root.mkdir()
    (root / f"{SOURCE}-schema-create.sql").write_text(f"CREATE DATABASE `{SOURCE}`;\n")
    (root / f"{SOURCE}.t-schema.sql").write_text(TABLE_SQL)
    (root / f"{SOURCE}.t.000000001.csv").write_bytes(data)
    return root


@pytest.mark.parametrize("option", CSV_OPTIONS, ids=[o.name for o in CSV_OPTIONS])
def test_a_csv_option_set_in_the_config_imports_as_load_data_with_the_matching_options(
    option, mysql_server, make_database, tmp_path
):
    source = write_csv_source(tmp_path / "source", option.data)
    oracle = make_database("lt_fcsvo")
    mariadb_client_sql(mysql_server, oracle, TABLE_SQL)
    mariadb_client_sql(
        mysql_server, oracle,
        f"LOAD DATA LOCAL INFILE '{source / f'{SOURCE}.t.000000001.csv'}' INTO TABLE `t` CHARACTER SET utf8mb4 "
        + option.load_data,
    )
    ours = make_database("lt_fcsv")

    run = import_with_lightning(
        mysql_server, source, SOURCE, ours, make_database("lt_fti"), tmp_path / "lightning",
        extra_config="[mydumper.csv]\n" + option.config,
    )

    assert run.returncode == 0, run.summary()
    assert len(table_rows(mysql_server, oracle, "t")) >= 2  # the oracle read the file as meant
    assert_same_table(mysql_server, oracle, ours, "t", run.summary())


@pytest.mark.slow
def test_the_csv_options_without_their_setting_store_other_rows(mysql_server, make_database, tmp_path):
    """The files above need their option: each read with the defaults gives other rows, or fails."""
    needing = [o for o in CSV_OPTIONS if o.name not in ("header", "header-schema-match", "header-without-header")]
    differing = []
    for option in needing:
        source = write_csv_source(tmp_path / option.name, option.data)
        oracle = make_database("lt_fcsvo")
        mariadb_client_sql(mysql_server, oracle, TABLE_SQL)
        mariadb_client_sql(
            mysql_server, oracle,
            f"LOAD DATA LOCAL INFILE '{source / f'{SOURCE}.t.000000001.csv'}' INTO TABLE `t` "
            f"CHARACTER SET utf8mb4 {option.load_data}",
        )
        ours = make_database("lt_fcsv")
        # The default header = true would eat the first row: keep only that setting of the case.
        keep = "header = true\n" if "header = true" in option.config else "header = false\n"
        run = import_with_lightning(
            mysql_server, source, SOURCE, ours, make_database("lt_fti"), tmp_path / f"{option.name}-run",
            extra_config="[mydumper.csv]\n" + keep,
        )
        if run.returncode != 0 or table_rows(mysql_server, ours, "t") != table_rows(mysql_server, oracle, "t"):
            differing.append(option.name)
    assert differing == [o.name for o in needing]


# ---- compression --------------------------------------------------------------------------------------

COMPRESSED_ROWS = 45_000  # about 3.5 MB as SQL and as CSV
WIDE_TABLE_SQL = TABLE_SQL.replace("VARCHAR(40)", "VARCHAR(80)")


def _rows() -> list[tuple[int, str, str]]:
    rng = random.Random(11)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "it's", 'say "hi"']
    return [
        (i, " ".join(rng.choice(words) for _ in range(4)), f"{rng.random():.12f}-{uuid.UUID(int=rng.getrandbits(128))}")
        for i in range(1, COMPRESSED_ROWS + 1)
    ]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_data(table: str, rows: list[tuple[int, str, str]]) -> bytes:
    out = io.StringIO()
    out.write("/*!40101 SET NAMES binary*/;\n")
    for start in range(0, len(rows), 500):
        values = ",\n".join(f"({i},{_sql_literal(a)},{_sql_literal(b)})" for i, a, b in rows[start:start + 500])
        out.write(f"INSERT INTO `{table}` VALUES\n{values};\n")
    return out.getvalue().encode()


def _csv_data(rows: list[tuple[int, str, str]]) -> bytes:
    def field(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "".join(f"{i},{field(a)},{field(b)}\n" for i, a, b in rows).encode()


COMPRESSORS = {
    "": lambda data: data,
    ".gz": gzip.compress,
    ".zst": lambda data: zstandard.ZstdCompressor().compress(data),
    ".snappy": lambda data: _snappy_framed(data),
}


def _snappy_framed(data: bytes) -> bytes:
    out = io.BytesIO()
    snappy.stream_compress(io.BytesIO(data), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def compressed_source(tmp_path_factory) -> Path:
    """Tables ``sql_plain``, ``sql_gz``, ... ``csv_snappy``: the same rows in every format and compression."""
    root = tmp_path_factory.mktemp("compressed") / "source"
    root.mkdir()
    (root / f"{SOURCE}-schema-create.sql").write_text(f"CREATE DATABASE `{SOURCE}`;\n")
    rows = _rows()
    for fmt in ("sql", "csv"):
        for suffix, compress in COMPRESSORS.items():
            table = f"{fmt}_{suffix.lstrip('.') or 'plain'}"
            (root / f"{SOURCE}.{table}-schema.sql").write_text(WIDE_TABLE_SQL.replace("`t`", f"`{table}`"))
            data = _sql_data(table, rows) if fmt == "sql" else _csv_data(rows)
            assert len(data) > 3_000_000
            (root / f"{SOURCE}.{table}.000000001.{fmt}{suffix}").write_bytes(compress(data))
    return root


@pytest.mark.slow
def test_gz_zst_and_snappy_csv_and_sql_files_of_several_mb_import_equal_to_the_uncompressed_ones(
    compressed_source, mysql_server, make_database, tmp_path
):
    ours = make_database("lt_fcomp")

    run = import_with_lightning(
        mysql_server, compressed_source, SOURCE, ours, make_database("lt_fti"), tmp_path / "lightning",
        extra_config="[mydumper.csv]\nheader = false\n",
    )

    assert run.returncode == 0, run.summary()
    for fmt in ("sql", "csv"):
        plain = table_rows(mysql_server, ours, f"{fmt}_plain")
        assert len(plain) == COMPRESSED_ROWS
        for suffix in ("gz", "zst", "snappy"):
            table = f"{fmt}_{suffix}"
            assert table_rows(mysql_server, ours, table) == plain, f"{table} differs from {fmt}_plain"
            assert table_checksum(mysql_server, ours, table) == table_checksum(mysql_server, ours, f"{fmt}_plain")
    # and the plain ones hold what was written
    assert table_rows(mysql_server, ours, "sql_plain") == table_rows(mysql_server, ours, "csv_plain")


# ---- [[routes]] shard merge --------------------------------------------------------------------------


def test_routes_merge_shards_of_several_databases_into_one_table_with_every_row_and_the_checksum_ok(
    mysql_server, make_database, tmp_path
):
    source = tmp_path / "shards"
    source.mkdir()
    shard_files: list[Path] = []
    next_id = 1
    shards = f"lt_shard_{uuid.uuid4().hex[:8]}"  # the source databases: {shards}_1 .. {shards}_3
    for shard in range(1, 4):
        db = f"{shards}_{shard}"
        (source / f"{db}-schema-create.sql").write_text(f"CREATE DATABASE `{db}`;\n")
        for part in range(1, 3):
            table = f"orders_{part}"
            (source / f"{db}.{table}-schema.sql").write_text(TABLE_SQL.replace("`t`", f"`{table}`"))
            rows = [(next_id + k, f"shard {shard}", f"part {part}") for k in range(250)]
            next_id += 250
            path = source / f"{db}.{table}.000000001.sql"
            path.write_bytes(_sql_data(table, rows).replace(f"`{table}`".encode(), b"`orders`"))
            shard_files.append(path)
    target = make_database("lt_fmerge")
    config = write_config(
        tmp_path / "tidb-lightning.toml",
        make_database("lt_fti"),
        f'[[routes]]\nschema-pattern = "{shards}_*"\ntable-pattern = "orders_*"\n'
        f'target-schema = "{target}"\ntarget-table = "orders"\n',
    )

    result = run_lightning(
        "import", "-c", str(config), "--source", str(source), "--target", mysql_server.url,
        "--checkpoint-file", str(tmp_path / "checkpoints.json"), "--no-progress",
    )

    # Exit 0 means Lightning's own checksum of the merged table matched the sum of the shards'.
    assert result.returncode == 0, result.stdout + result.stderr
    # The oracle: the same INSERTs into one table by the mariadb client.
    oracle = make_database("lt_fmergeo")
    mariadb_client_sql(mysql_server, oracle, TABLE_SQL.replace("`t`", "`orders`"))
    load_with_mariadb_client(mysql_server, oracle, shard_files)
    assert len(table_rows(mysql_server, oracle, "orders")) == 6 * 250
    assert_same_table(mysql_server, oracle, target, "orders", result.stdout + result.stderr)
    for shard in range(1, 4):
        exists = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s"
        conn = mysql_server.connect()
        with conn.cursor() as cur:
            cur.execute(exists, (f"{shards}_{shard}",))
            assert cur.fetchone()[0] == 0, "a source database whose tables were all routed away was created"
        conn.close()
