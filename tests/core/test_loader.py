"""Discovering a data source: mydumper, Dumpling and custom layouts, filters, routes, fingerprints."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from airflow_provider_lightning.core.errors import ConfigError, SourceError
from airflow_provider_lightning.core.mydump.loader import DataSource, SourceFile, TableSource, discover
from airflow_provider_lightning.core.mydump.router import SourceType
from airflow_provider_lightning.core.storage import Compression, FileInfo, LocalStorage


@dataclass(frozen=True)
class FileRule:
    """A [[mydumper.files]] entry shaped like the config module's."""

    pattern: str | None = None
    path: str | None = None
    schema: str = ""
    table: str = ""
    type: str = ""
    key: str = ""
    compression: str = ""


@dataclass(frozen=True)
class Route:
    """A [[routes]] entry shaped like the config module's."""

    schema_pattern: str
    table_pattern: str = ""
    target_schema: str = ""
    target_table: str = ""


_DUMPLING_ESCAPED = re.compile(r'[\x00-\x1f%"*./:<>?\\|]|-(?i:schema)')


def dumpling_escape(name: str) -> str:
    """How Dumpling writes an identifier into a file name: special characters become %XX."""
    return _DUMPLING_ESCAPED.sub(lambda m: f"%{ord(m.group(0)[0]):02X}{m.group(0)[1:]}", name)


INSERT = b"INSERT INTO `t` VALUES (1,'a'),(2,'b');\n"


def write(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def discover_dir(root: Path, **kwargs) -> DataSource:
    return discover(LocalStorage(root), **kwargs)


def paths(files: tuple[SourceFile, ...]) -> list[str]:
    return [f.path for f in files]


def table(source: DataSource, schema: str, name: str) -> TableSource:
    (found,) = [t for t in source.tables if (t.schema, t.name) == (schema, name)]
    return found


# --- mydumper 0.10 -------------------------------------------------------------------------------------

MYDUMPER_0_10 = {
    "metadata": b"Started dump at: 2020-01-01 00:00:00\n",
    "db-schema-create.sql": b"CREATE DATABASE `db`;\n",
    "db.t-schema.sql": b"CREATE TABLE `t` (`id` int, `v` text);\n",
    "db.t.sql": INSERT,
    "db.t.00001.sql": INSERT + INSERT,
    "db.v-schema.sql": b"CREATE TABLE `v` (`id` tinyint NOT NULL);\n",
    "db.v-schema-view.sql": b"CREATE VIEW `v` AS SELECT `id` FROM `t`;\n",
}


@pytest.fixture
def mydumper_dir(tmp_path) -> Path:
    return write(tmp_path, MYDUMPER_0_10)


def test_a_mydumper_dump_gives_its_database_table_and_view(mydumper_dir):
    source = discover_dir(mydumper_dir)
    (db,) = source.databases
    assert db.name == "db"
    assert db.schema_file.path == "db-schema-create.sql"
    assert db.schema_file.type == SourceType.SCHEMA_SCHEMA
    assert [(t.schema, t.name) for t in db.tables] == [("db", "t")]
    assert [(v.schema, v.name, v.schema_file.path) for v in db.views] == [("db", "v", "db.v-schema-view.sql")]
    assert source.url == str(mydumper_dir)


def test_a_tables_files_carry_type_size_version_and_source_names(mydumper_dir):
    t = table(discover_dir(mydumper_dir), "db", "t")
    assert t.schema_file.path == "db.t-schema.sql"
    assert t.schema_file.type == SourceType.TABLE_SCHEMA
    first = t.data_files[0]
    assert first == SourceFile(
        path="db.t.sql",
        size=len(INSERT),
        version=str(os.stat(mydumper_dir / "db.t.sql").st_mtime_ns),
        type=SourceType.SQL,
        compression=Compression.NONE,
        sort_key="",
        source_schema="db",
        source_table="t",
    )
    assert t.source_names == (("db", "t"),)
    assert t.total_size == 3 * len(INSERT)


def test_a_data_file_without_a_number_comes_before_numbered_ones(mydumper_dir):
    t = table(discover_dir(mydumper_dir), "db", "t")
    assert paths(t.data_files) == ["db.t.sql", "db.t.00001.sql"]


def test_a_views_placeholder_table_makes_no_table(mydumper_dir):
    source = discover_dir(mydumper_dir)
    assert [(t.schema, t.name) for t in source.tables] == [("db", "t")]
    assert [v.name for v in source.views] == ["v"]


def test_metadata_files_are_ignored_not_unmatched(mydumper_dir):
    write(mydumper_dir, {"sub/metadata": b""})
    source = discover_dir(mydumper_dir)
    assert source.ignored == ("metadata", "sub/metadata")
    assert source.unmatched == ()


def test_discovering_twice_gives_the_same_result(mydumper_dir):
    assert discover_dir(mydumper_dir) == discover_dir(mydumper_dir)


class ReverseListedStorage(LocalStorage):
    """A local directory listed in reverse order, as an unordered object store might list it."""

    def walk(self) -> Iterator[FileInfo]:
        return iter(sorted(super().walk(), key=lambda f: f.path, reverse=True))


def test_the_result_does_not_depend_on_the_listing_order(mydumper_dir):
    write(mydumper_dir, {"db.t.2.sql": INSERT, "db.t.10.sql": INSERT, "db.u.000000000.sql": INSERT})
    assert discover(ReverseListedStorage(mydumper_dir)) == discover_dir(mydumper_dir)


# --- Dumpling ------------------------------------------------------------------------------------------


@pytest.fixture
def dumpling_dir(tmp_path) -> Path:
    csv = b"id,v\n1,a\n2,b\n"
    return write(
        tmp_path,
        {
            "metadata": b"Started dump at: 2024-01-01 00:00:00\n",
            "shop-schema-create.sql": b"CREATE DATABASE `shop`;\n",
            "shop.orders-schema.sql": b"CREATE TABLE `orders` (`id` int);\n",
            "shop.orders.000000000.sql": INSERT,
            "shop.orders.000000001.sql.gz": gzip.compress(INSERT),
            "shop.items-schema.sql": b"CREATE TABLE `items` (`id` int, `v` text);\n",
            "shop.items.000000000.csv": csv,
            "shop.items.000000001.csv.zst": zstandard.ZstdCompressor().compress(csv),
            "shop.events-schema.sql": b"CREATE TABLE `events` (`id` int);\n",
            "shop.events.000000000.parquet": b"PAR1 not read by discovery PAR1",
            "shop.a%2Eb-schema.sql": b"CREATE TABLE `a.b` (`id` int);\n",
            "shop.a%2Eb.000000000.sql": INSERT,
            "shop.recent-schema.sql": b"CREATE TABLE `recent` (`id` int);\n",
            "shop.recent-schema-view.sql": b"CREATE VIEW `recent` AS SELECT 1;\n",
        },
    )


def test_a_dumpling_dump_gives_every_table_with_its_formats_and_compressions(dumpling_dir):
    source = discover_dir(dumpling_dir)
    found = {
        t.name: [(f.path, f.type, f.compression, f.sort_key) for f in t.data_files] for t in source.tables
    }
    assert found == {
        "a.b": [("shop.a%2Eb.000000000.sql", SourceType.SQL, Compression.NONE, "000000000")],
        "events": [("shop.events.000000000.parquet", SourceType.PARQUET, Compression.NONE, "000000000")],
        "items": [
            ("shop.items.000000000.csv", SourceType.CSV, Compression.NONE, "000000000"),
            ("shop.items.000000001.csv.zst", SourceType.CSV, Compression.ZSTD, "000000001"),
        ],
        "orders": [
            ("shop.orders.000000000.sql", SourceType.SQL, Compression.NONE, "000000000"),
            ("shop.orders.000000001.sql.gz", SourceType.SQL, Compression.GZ, "000000001"),
        ],
    }
    assert [v.name for v in source.views] == ["recent"]
    assert source.ignored == ("metadata",)


def test_percent_escaped_names_are_decoded(dumpling_dir):
    t = table(discover_dir(dumpling_dir), "shop", "a.b")
    assert t.schema_file.path == "shop.a%2Eb-schema.sql"
    assert t.source_names == (("shop", "a.b"),)


HOSTILE_NAMES = [
    ("we`ird;db'", "t`; DROP TABLE x; --"),
    ('quo"te', "sla/sh.dot"),
    ("emoji😀db", "𝕥𝕒𝕓𝕝𝕖"),
    ("db", "ends-schema"),
    ("db", "100%"),
]


@pytest.mark.parametrize(("schema", "name"), HOSTILE_NAMES)
def test_hostile_identifiers_survive_the_file_names(tmp_path, schema, name):
    db, tbl = dumpling_escape(schema), dumpling_escape(name)
    write(
        tmp_path,
        {
            f"{db}-schema-create.sql": b"CREATE DATABASE x;\n",
            f"{db}.{tbl}-schema.sql": b"CREATE TABLE x (id int);\n",
            f"{db}.{tbl}.000000000.sql": INSERT,
        },
    )
    source = discover_dir(tmp_path)
    assert [d.name for d in source.databases] == [schema]
    t = table(source, schema, name)
    assert t.schema_file.path == f"{db}.{tbl}-schema.sql"
    assert paths(t.data_files) == [f"{db}.{tbl}.000000000.sql"]
    assert source.unmatched == ()


def test_a_file_name_that_is_not_utf8_is_an_error_naming_it(tmp_path):
    (tmp_path / os.fsdecode(b"db.t\xff.000000000.sql")).write_bytes(INSERT)
    with pytest.raises(SourceError, match=r"db\.t\\xff\.000000000\.sql: the file name is not valid UTF-8"):
        discover_dir(tmp_path)


def test_a_file_name_that_is_not_utf8_does_not_matter_when_the_filter_excludes_it(tmp_path):
    (tmp_path / os.fsdecode(b"mysql.t\xff.000000000.sql")).write_bytes(INSERT)
    assert discover_dir(tmp_path).databases == ()


def test_an_unmatched_file_name_that_is_not_utf8_is_listed_and_fingerprinted(tmp_path):
    write(tmp_path, {"db.t.000000000.sql": INSERT})
    (tmp_path / os.fsdecode(b"notes\xff.txt")).write_bytes(b"x")
    source = discover_dir(tmp_path)
    assert source.unmatched == (os.fsdecode(b"notes\xff.txt"),)
    assert len(source.fingerprint()) == 64


# --- ordering ------------------------------------------------------------------------------------------


def test_data_files_are_ordered_by_their_key_as_a_number(tmp_path):
    write(tmp_path, {f"db.t.{n}.sql": INSERT for n in (10, 2, 1, 100)} | {"db.t.sql": INSERT})
    t = table(discover_dir(tmp_path), "db", "t")
    assert paths(t.data_files) == ["db.t.sql", "db.t.1.sql", "db.t.2.sql", "db.t.10.sql", "db.t.100.sql"]


def test_keys_with_more_digits_than_int_conversion_allows_still_sort(tmp_path):
    big, bigger = "9" * 200, "1" + "0" * 200
    write(tmp_path, {f"db.t.{bigger}.sql": INSERT, f"db.t.{big}.sql": INSERT, "db.t.3.sql": INSERT})
    t = table(discover_dir(tmp_path), "db", "t")
    assert [f.sort_key for f in t.data_files] == ["3", big, bigger]


def test_files_with_equal_keys_are_ordered_by_path(tmp_path):
    write(tmp_path, {"b/db.t.1.sql": INSERT, "a/db.t.1.sql": INSERT, "db.t.0.sql": INSERT})
    t = table(discover_dir(tmp_path), "db", "t")
    assert paths(t.data_files) == ["db.t.0.sql", "a/db.t.1.sql", "b/db.t.1.sql"]


def test_databases_tables_and_views_are_sorted_by_name(tmp_path):
    write(
        tmp_path,
        {
            "zz.b.sql": INSERT,
            "zz.a.sql": INSERT,
            "aa.c.sql": INSERT,
            "aa.v2-schema-view.sql": b"",
            "aa.v1-schema-view.sql": b"",
        },
    )
    source = discover_dir(tmp_path)
    assert [d.name for d in source.databases] == ["aa", "zz"]
    assert [(t.schema, t.name) for t in source.tables] == [("aa", "c"), ("zz", "a"), ("zz", "b")]
    assert [v.name for v in source.views] == ["v1", "v2"]


# --- what is kept, left out, refused -------------------------------------------------------------------


def test_data_files_without_a_schema_file_are_kept(tmp_path):
    write(tmp_path, {"db.t.000000000.sql": INSERT})
    source = discover_dir(tmp_path)
    (db,) = source.databases
    assert db.schema_file is None
    assert db.tables[0].schema_file is None
    assert paths(db.tables[0].data_files) == ["db.t.000000000.sql"]


def test_a_schema_file_without_data_gives_an_empty_table(tmp_path):
    write(tmp_path, {"db.t-schema.sql": b"CREATE TABLE t (id int);\n"})
    t = table(discover_dir(tmp_path), "db", "t")
    assert t.data_files == ()
    assert t.total_size == 0


def test_two_schema_files_for_one_table_keep_the_first_by_path_and_warn(tmp_path):
    write(tmp_path, {"b/db.t-schema.sql": b"", "a/db.t-schema.sql": b"", "a/db.t.1.sql": INSERT})
    source = discover_dir(tmp_path)
    assert table(source, "db", "t").schema_file.path == "a/db.t-schema.sql"
    (warning,) = source.warnings
    assert "`db`.`t`" in warning
    assert "using a/db.t-schema.sql, not b/db.t-schema.sql" in warning


def test_default_filter_leaves_out_system_databases(tmp_path):
    write(
        tmp_path,
        {
            "mysql-schema-create.sql": b"",
            "mysql.user-schema.sql": b"",
            "mysql.user.000000000.sql": INSERT,
            "INFORMATION_SCHEMA.tables.000000000.sql": INSERT,
            "shop.orders.000000000.sql": INSERT,
        },
    )
    source = discover_dir(tmp_path)
    assert [d.name for d in source.databases] == ["shop"]
    assert source.unmatched == () and source.ignored == ()


def test_a_filter_leaves_out_tables_and_databases_it_excludes(dumpling_dir):
    write(dumpling_dir, {"other-schema-create.sql": b"", "other.t.000000000.sql": INSERT})
    source = discover_dir(dumpling_dir, filter=["shop.*", "!shop.items", "!shop.recent"])
    assert [d.name for d in source.databases] == ["shop"]
    assert [t.name for t in source.tables] == ["a.b", "events", "orders"]
    assert source.views == ()


def test_a_filter_can_keep_a_database_without_any_of_its_tables(dumpling_dir):
    source = discover_dir(dumpling_dir, filter=["*.*", "!shop.*", "shop.nothing"])
    (db,) = source.databases
    assert db.schema_file.path == "shop-schema-create.sql"
    assert db.tables == () and db.views == ()


def test_the_filter_ignores_case_unless_told_otherwise(dumpling_dir):
    assert [t.name for t in discover_dir(dumpling_dir, filter=["SHOP.ORDERS"]).tables] == ["orders"]
    assert discover_dir(dumpling_dir, filter=["SHOP.ORDERS"], case_sensitive=True).tables == ()


@pytest.mark.parametrize("suffix", ["lz4", "xz", "lzo"])
def test_a_compression_that_cannot_be_read_is_an_error_naming_file_and_supported_ones(tmp_path, suffix):
    write(tmp_path, {f"db.t.000000000.sql.{suffix}": b"\x04\x22\x4d\x18"})
    with pytest.raises(SourceError) as caught:
        discover_dir(tmp_path)
    assert caught.value.path == f"db.t.000000000.sql.{suffix}"
    assert f"{suffix} compression cannot be read" in str(caught.value)
    assert "gzip (.gz), zstd (.zst) and snappy (.snappy)" in str(caught.value)


def test_an_unreadable_compression_of_an_excluded_table_does_not_matter(tmp_path):
    write(tmp_path, {"mysql.user.000000000.sql.lz4": b"", "db.t.000000000.sql": INSERT})
    assert [t.name for t in discover_dir(tmp_path).tables] == ["t"]


def test_a_data_file_for_a_view_is_an_error(tmp_path):
    write(tmp_path, {"db.v-schema-view.sql": b"CREATE VIEW v AS SELECT 1;\n", "db.v.000000000.sql": INSERT})
    with pytest.raises(SourceError, match=r"db\.v\.000000000\.sql: .*`db`\.`v`, which db\.v-schema-view\.sql"):
        discover_dir(tmp_path)


def test_without_any_file_rules_every_file_is_unmatched(mydumper_dir):
    source = discover_dir(mydumper_dir, default_file_rules=False)
    assert source.databases == ()
    assert source.unmatched == tuple(sorted(set(MYDUMPER_0_10) - {"metadata"}))


def test_an_empty_source_gives_an_empty_result(tmp_path):
    source = discover_dir(tmp_path)
    assert (source.databases, source.unmatched, source.ignored, source.warnings) == ((), (), (), ())


# --- custom [[mydumper.files]] layout ------------------------------------------------------------------

CUSTOM_RULES = (
    FileRule(
        pattern=r"^exports/\d+/(?P<db>[^/]+)/(?P<tbl>[^/]+)/part-(\d+)\.csv(?:\.(gz|zst))?$",
        schema="$db",
        table="$tbl",
        type="csv",
        key="$3",
        compression="$4",
    ),
    FileRule(pattern=r"^schemas/([^/]+)/([^/]+)\.sql$", schema="$1", table="$2", type="table-schema"),
    FileRule(pattern=r"^schemas/([^/]+)\.sql$", schema="$1", type="schema-schema"),
    FileRule(pattern=r"/_SUCCESS$", type="ignore"),
    FileRule(path="extra/legacy orders.csv", schema="shop", table="orders", type="csv", key="0"),
)


@pytest.fixture
def custom_dir(tmp_path) -> Path:
    csv = b"id\n1\n"
    return write(
        tmp_path,
        {
            "schemas/shop.sql": b"CREATE DATABASE shop;\n",
            "schemas/shop/orders.sql": b"CREATE TABLE orders (id int);\n",
            "exports/2024/shop/orders/part-0002.csv.gz": gzip.compress(csv),
            "exports/2024/shop/orders/part-0010.csv": csv,
            "exports/2024/shop/orders/_SUCCESS": b"",
            "exports/2024/shop/secret/part-0001.csv": csv,
            "extra/legacy orders.csv": csv,
            "README.txt": b"exported by a nightly job\n",
        },
    )


def test_a_custom_layout_is_routed_by_mydumper_files_rules(custom_dir):
    source = discover_dir(custom_dir, file_rules=CUSTOM_RULES, default_file_rules=False)
    (db,) = source.databases
    assert db.schema_file.path == "schemas/shop.sql"
    orders = table(source, "shop", "orders")
    assert orders.schema_file.path == "schemas/shop/orders.sql"
    assert [(f.path, f.compression) for f in orders.data_files] == [
        ("extra/legacy orders.csv", Compression.NONE),
        ("exports/2024/shop/orders/part-0002.csv.gz", Compression.GZ),
        ("exports/2024/shop/orders/part-0010.csv", Compression.NONE),
    ]
    assert source.ignored == ("exports/2024/shop/orders/_SUCCESS",)
    assert source.unmatched == ("README.txt",)


def test_a_custom_layout_is_filtered_like_any_other(custom_dir):
    source = discover_dir(custom_dir, file_rules=CUSTOM_RULES, default_file_rules=False, filter=["shop.o*"])
    assert [t.name for t in source.tables] == ["orders"]


def test_custom_rules_can_be_combined_with_the_default_ones(custom_dir):
    write(custom_dir, {"shop.items.000000000.sql": INSERT})
    source = discover_dir(custom_dir, file_rules=CUSTOM_RULES)
    assert [t.name for t in source.tables] == ["items", "orders", "secret"]


def test_an_invalid_custom_rule_is_a_config_error(custom_dir):
    with pytest.raises(ConfigError) as caught:
        discover_dir(custom_dir, file_rules=[FileRule(pattern="(?=x)", schema="a", table="b", type="csv")])
    assert caught.value.key == "mydumper.files[0].pattern"


def test_routes_cannot_be_combined_with_custom_file_rules(custom_dir):
    with pytest.raises(ConfigError, match="cannot be combined with") as caught:
        discover_dir(custom_dir, file_rules=CUSTOM_RULES, routes=[Route("a", "", "b")])
    assert caught.value.key == "routes"


# --- routes --------------------------------------------------------------------------------------------

SHARD_FILES = {
    "shard_db_1-schema-create.sql": b"CREATE DATABASE shard_db_1;\n",
    "shard_db_1.shard_table_1-schema.sql": b"CREATE TABLE shard_table_1 (id int);\n",
    "shard_db_1.shard_table_1.000000000.sql": INSERT,
    "shard_db_1.shard_table_2-schema.sql": b"CREATE TABLE shard_table_2 (id int);\n",
    "shard_db_1.shard_table_2.000000000.sql": INSERT,
    "shard_db_1.shard_table_2.000000001.sql": INSERT,
    "shard_db_2-schema-create.sql": b"CREATE DATABASE shard_db_2;\n",
    "shard_db_2.shard_table_1-schema.sql": b"CREATE TABLE shard_table_1 (id int);\n",
    "shard_db_2.shard_table_1.000000000.sql": INSERT,
    "shard_db_2.other-schema.sql": b"CREATE TABLE other (id int);\n",
}
MERGE_SHARDS = Route("shard_db_*", "shard_table_*", "db", "tbl")


@pytest.fixture
def shards_dir(tmp_path) -> Path:
    return write(tmp_path, SHARD_FILES)


def test_routes_merge_sharded_tables_into_one(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    merged = table(source, "db", "tbl")
    assert merged.source_names == (
        ("shard_db_1", "shard_table_1"),
        ("shard_db_1", "shard_table_2"),
        ("shard_db_2", "shard_table_1"),
    )
    assert paths(merged.data_files) == [
        "shard_db_1.shard_table_1.000000000.sql",
        "shard_db_1.shard_table_2.000000000.sql",
        "shard_db_2.shard_table_1.000000000.sql",
        "shard_db_1.shard_table_2.000000001.sql",
    ]
    assert merged.data_files[0].source_table == "shard_table_1"


def test_merged_shards_take_the_first_schema_file_and_say_so(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    assert table(source, "db", "tbl").schema_file.path == "shard_db_1.shard_table_1-schema.sql"
    (warning,) = source.warnings
    assert warning.startswith("table `db`.`tbl`: 3 schema files map to it")


def test_a_target_database_without_its_own_schema_file_takes_a_sources(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    databases = {d.name: d for d in source.databases}
    assert databases["db"].schema_file.path == "shard_db_1-schema-create.sql"
    assert databases["db"].schema_file.source_schema == "shard_db_1"


def test_tables_not_routed_stay_in_their_source_database(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    assert [(t.schema, t.name) for t in source.tables] == [("db", "tbl"), ("shard_db_2", "other")]
    assert "shard_db_2" in [d.name for d in source.databases]


def test_a_source_database_whose_tables_are_all_routed_away_is_not_created(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    assert [d.name for d in source.databases] == ["db", "shard_db_2"]


def test_an_empty_source_database_that_routes_do_not_touch_is_still_created(shards_dir):
    (shards_dir / "empty_db-schema-create.sql").write_text("CREATE DATABASE empty_db;\n")
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    assert "empty_db" in [d.name for d in source.databases]


def test_a_schema_route_moves_databases_and_all_their_tables(shards_dir):
    source = discover_dir(shards_dir, routes=[Route("shard_db_*", target_schema="db")])
    (db,) = source.databases
    assert db.name == "db"
    assert db.schema_file.path == "shard_db_1-schema-create.sql"
    assert [t.name for t in db.tables] == ["other", "shard_table_1", "shard_table_2"]
    assert paths(table(source, "db", "shard_table_1").data_files) == [
        "shard_db_1.shard_table_1.000000000.sql",
        "shard_db_2.shard_table_1.000000000.sql",
    ]
    assert [w.split(":")[0] for w in source.warnings] == ["table `db`.`shard_table_1`", "database `db`"]


def test_the_filter_sees_source_names_before_routes(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS], filter=["shard_db_1.*"])
    assert table(source, "db", "tbl").source_names == (
        ("shard_db_1", "shard_table_1"),
        ("shard_db_1", "shard_table_2"),
    )


def test_an_ambiguous_route_is_a_config_error(shards_dir):
    routes = [MERGE_SHARDS, Route("shard_db_1", "shard_table_1", "x")]
    with pytest.raises(ConfigError, match="matches more than one rule"):
        discover_dir(shards_dir, routes=routes)


# --- fingerprints --------------------------------------------------------------------------------------


def test_the_fingerprint_is_a_stable_hex_digest(mydumper_dir):
    first, second = discover_dir(mydumper_dir).fingerprint(), discover_dir(mydumper_dir).fingerprint()
    assert first == second
    assert re.fullmatch("[0-9a-f]{64}", first)


def test_the_fingerprint_changes_when_a_file_changes(mydumper_dir):
    before = discover_dir(mydumper_dir).fingerprint()
    (mydumper_dir / "db.t.00001.sql").write_bytes(INSERT * 3)
    assert discover_dir(mydumper_dir).fingerprint() != before


def test_the_fingerprint_changes_when_only_the_modification_time_changes(mydumper_dir):
    before = discover_dir(mydumper_dir).fingerprint()
    stat = os.stat(mydumper_dir / "db.t.sql")
    os.utime(mydumper_dir / "db.t.sql", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert discover_dir(mydumper_dir).fingerprint() != before


def test_the_fingerprint_changes_when_a_file_is_added(mydumper_dir):
    before = discover_dir(mydumper_dir).fingerprint()
    write(mydumper_dir, {"db.t.00002.sql": INSERT})
    assert discover_dir(mydumper_dir).fingerprint() != before


def test_files_the_import_does_not_read_leave_the_fingerprint_alone(mydumper_dir):
    before = discover_dir(mydumper_dir).fingerprint()
    write(mydumper_dir, {"README.md": b"notes", "db.t.sql.bak": INSERT, "mysql.user.000000000.sql": INSERT})
    assert discover_dir(mydumper_dir).fingerprint() == before


def test_a_tables_fingerprint_changes_only_with_its_own_files(dumpling_dir):
    before = {t.name: t.fingerprint() for t in discover_dir(dumpling_dir).tables}
    write(dumpling_dir, {"shop.orders.000000002.sql": INSERT})
    after = {t.name: t.fingerprint() for t in discover_dir(dumpling_dir).tables}
    assert [name for name in before if before[name] != after[name]] == ["orders"]


def test_every_file_the_import_reads_is_listed_once(shards_dir):
    source = discover_dir(shards_dir, routes=[MERGE_SHARDS])
    passed_over = {"shard_db_1.shard_table_2-schema.sql", "shard_db_2.shard_table_1-schema.sql"}
    assert paths(source.files) == sorted(set(SHARD_FILES) - passed_over)
