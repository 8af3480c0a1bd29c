"""Specification of the configuration tree (core/config.py): Lightning's keys, defaults and checks."""

from __future__ import annotations

import json
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_lightning.core.config import (
    BackendKind,
    Config,
    ConflictStrategy,
    FileRouteRule,
    LIGHTNING_KEYS,
    KeepAfterSuccess,
    KeyStatus,
    MaxError,
    PostOpLevel,
    RouteRule,
    lightning_key,
    load_config,
    parse_byte_size,
    parse_duration,
)
from airflow_provider_lightning.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DATA = Path(__file__).parent.parent / "data" / "config"
EVERY_SAMPLE_KEY = DATA / "every-sample-key.toml"
SOURCE = {"mydumper": {"data-source-dir": "/srv/dumps/nightly"}}

# The keys TiDB Lightning's annotated sample config (lightning/tidb-lightning.toml in pingcap/tidb) sets or
# shows commented out, dotted; arrays of tables as "name[].key".
LIGHTNING_SAMPLE_KEYS = """
lightning.status-addr lightning.server-mode lightning.check-requirements lightning.index-concurrency
lightning.table-concurrency lightning.region-concurrency lightning.io-concurrency lightning.meta-schema-name
lightning.max-error lightning.task-info-schema-name lightning.level lightning.file lightning.max-size
lightning.max-days lightning.max-backups
security.ca-path security.cert-path security.key-path security.redact-info-log
checkpoint.enable checkpoint.schema checkpoint.driver checkpoint.dsn checkpoint.keep-after-success
conflict.strategy conflict.precheck-conflict-before-import conflict.threshold conflict.max-record-rows
tikv-importer.backend tikv-importer.addr tikv-importer.region-split-size tikv-importer.send-kv-pairs
tikv-importer.sorted-kv-dir tikv-importer.disk-quota tikv-importer.range-concurrency
tikv-importer.engine-mem-cache-size tikv-importer.local-writer-mem-cache-size
tikv-importer.store-write-bwlimit
tikv-importer.logical-import-batch-size tikv-importer.logical-import-batch-rows
mydumper.read-block-size mydumper.batch-size mydumper.batch-import-ratio mydumper.data-source-dir
mydumper.no-schema mydumper.character-set mydumper.data-character-set mydumper.data-invalid-char-replace
mydumper.case-sensitive mydumper.strict-format mydumper.max-region-size mydumper.default-file-rules
mydumper.filter
mydumper.csv.separator mydumper.csv.delimiter mydumper.csv.terminator mydumper.csv.header
mydumper.csv.not-null mydumper.csv.null mydumper.csv.backslash-escape mydumper.csv.trim-last-separator
mydumper.files[].pattern mydumper.files[].path mydumper.files[].schema mydumper.files[].table
mydumper.files[].type mydumper.files[].key
tidb.host tidb.port tidb.user tidb.password tidb.status-port tidb.pd-addr tidb.log-level
tidb.max-allowed-packet tidb.tls tidb.build-stats-concurrency tidb.distsql-scan-concurrency
tidb.index-serial-scan-concurrency tidb.checksum-table-concurrency
tidb.security.ca-path tidb.security.cert-path tidb.security.key-path
post-restore.checksum post-restore.analyze post-restore.level-1-compact post-restore.compact
post-restore.post-process-at-last
cron.switch-mode cron.log-progress cron.check-disk-quota
""".split()


def load(*sections: dict[str, Any]) -> Config:
    """load_config over a data source plus the given nested sections."""
    data: dict[str, Any] = {"mydumper": {"data-source-dir": "/srv/dumps/nightly"}}
    for section in sections:
        _deep_update(data, section)
    return load_config(data=data)


def _deep_update(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def config_error(data: dict[str, Any]) -> ConfigError:
    """The ConfigError loading ``data`` (over a data source) raises."""
    with pytest.raises(ConfigError) as caught:
        load(data)
    return caught.value


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def flattened_keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "max-error":
            keys |= flattened_keys(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                keys |= flattened_keys(item, f"{path}[].")
        else:
            keys.add(path)
    return keys


# ---- a source and a target are enough --------------------------------------------------------------------


def test_a_source_alone_loads_with_lightnings_defaults_for_the_tidb_backend():
    config = load_config(data=SOURCE)

    assert config.tikv_importer.backend is BackendKind.TIDB
    assert config.tidb.host == "127.0.0.1" and config.tidb.port == 4000 and config.tidb.user == "root"
    assert config.tidb.sql_mode == "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
    assert config.tidb.max_allowed_packet == 64 * 1024 * 1024
    assert config.lightning.io_concurrency == 5
    assert config.lightning.check_requirements is True
    assert config.lightning.task_info_schema_name == "lightning_task_info"
    assert config.lightning.max_error == MaxError(syntax=0, charset=2**63 - 1, type=0, conflict=0)
    assert config.mydumper.read_block_size == 64 * 1024
    assert config.mydumper.batch_size == 100 * 1024**3
    assert config.mydumper.max_region_size == 256 * 1024**2
    assert config.mydumper.filter[0] == "*.*" and "!mysql.*" in config.mydumper.filter
    assert config.mydumper.character_set == "auto" and config.mydumper.data_character_set == "binary"
    assert config.tikv_importer.logical_import_batch_size == 96 * 1024
    assert config.tikv_importer.logical_import_batch_rows == 65536
    assert config.checkpoint.enable is True and config.checkpoint.driver == "file"
    assert config.checkpoint.schema == "tidb_lightning_checkpoint"
    assert config.checkpoint.keep_after_success is KeepAfterSuccess.REMOVE
    assert config.routes == ()
    assert config.ignored_keys == ()


def test_the_source_and_target_file_loads():
    config = load_config(DATA / "source-and-target.toml")

    assert config.mydumper.data_source_dir == "/srv/dumps/nightly"
    assert (config.tidb.host, config.tidb.port, config.tidb.user, config.tidb.password) == (
        "db.internal",
        3306,
        "loader",
        "pa55",
    )


def test_checksum_stays_required_with_the_tidb_backend():
    config = load_config(data=SOURCE)

    assert config.post_restore.checksum is PostOpLevel.REQUIRED


def test_analyze_stays_optional_with_the_tidb_backend():
    config = load_config(data=SOURCE)

    assert config.post_restore.analyze is PostOpLevel.OPTIONAL


def test_conflict_strategy_defaults_to_error_with_the_tidb_backend():
    config = load_config(data=SOURCE)

    assert config.conflict.strategy is ConflictStrategy.ERROR
    assert config.conflict.threshold == 0
    assert config.conflict.max_record_rows == 0


def test_region_concurrency_defaults_to_the_cpu_count():
    assert load_config(data=SOURCE).lightning.region_concurrency == cpu_count()


def test_table_and_index_concurrency_default_to_region_concurrency_with_the_tidb_backend():
    config = load({"lightning": {"region-concurrency": 9}})

    assert config.lightning.table_concurrency == 9
    assert config.lightning.index_concurrency == 9


def test_table_and_index_concurrency_default_to_6_and_2_with_the_local_backend(tmp_path):
    config = load({"tikv-importer": {"backend": "local", "sorted-kv-dir": str(tmp_path)}})

    assert config.lightning.table_concurrency == 6
    assert config.lightning.index_concurrency == 2


def test_region_concurrency_is_capped_at_the_cpu_count_with_the_local_backend(tmp_path):
    config = load(
        {"lightning": {"region-concurrency": cpu_count() + 5}},
        {"tikv-importer": {"backend": "local", "sorted-kv-dir": str(tmp_path)}},
    )

    assert config.lightning.region_concurrency == cpu_count()


def test_conflict_strategy_stays_empty_with_the_local_backend(tmp_path):
    config = load({"tikv-importer": {"backend": "local", "sorted-kv-dir": str(tmp_path)}})

    assert config.conflict.strategy is ConflictStrategy.NONE
    assert config.conflict.threshold == 0


@pytest.mark.parametrize(
    ("written", "backend"),
    [
        ("tidb", BackendKind.TIDB),
        ("logical", BackendKind.TIDB),
        ("TiDB", BackendKind.TIDB),
        ("local", BackendKind.LOCAL),
        ("physical", BackendKind.LOCAL),
        ("Local", BackendKind.LOCAL),
    ],
)
def test_backend_accepts_lightnings_names_and_logical_or_physical(tmp_path, written, backend):
    config = load({"tikv-importer": {"backend": written, "sorted-kv-dir": str(tmp_path)}})

    assert config.tikv_importer.backend is backend


def test_backend_compares_equal_to_its_lightning_name():
    assert BackendKind.TIDB == "tidb" and BackendKind.LOCAL == "local" and str(BackendKind.LOCAL) == "local"


def test_the_removed_importer_backend_is_refused_with_the_replacements_named():
    error = config_error({"tikv-importer": {"backend": "importer"}})

    assert error.key == "tikv-importer.backend"
    assert "'local'" in str(error) and "'tidb'" in str(error)


def test_an_unknown_backend_is_refused_with_the_allowed_values():
    error = config_error({"tikv-importer": {"backend": "remote"}})

    assert error.key == "tikv-importer.backend"
    assert "'tidb', 'logical', 'local', 'physical'" in str(error)


def test_the_local_backend_needs_a_sorted_kv_dir():
    error = config_error({"tikv-importer": {"backend": "local"}})

    assert error.key == "tikv-importer.sorted-kv-dir"


def test_a_sorted_kv_dir_that_is_a_file_is_refused(tmp_path):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")

    error = config_error({"tikv-importer": {"backend": "local", "sorted-kv-dir": str(a_file)}})

    assert error.key == "tikv-importer.sorted-kv-dir" and "not a directory" in str(error)


def test_a_missing_data_source_dir_is_an_error_saying_what_to_set():
    with pytest.raises(ConfigError) as caught:
        load_config(data={"tidb": {"port": 3306}})

    assert caught.value.key == "mydumper.data-source-dir"
    assert "s3://" in str(caught.value)


@pytest.mark.parametrize(
    "source", ["/srv/dumps", "relative/dumps", "file:///srv/dumps", "s3://bucket/prefix"]
)
def test_data_source_dir_accepts_local_paths_and_s3(source):
    config = load_config(data={"mydumper": {"data-source-dir": source}})

    assert config.mydumper.data_source_dir == source


def test_data_source_dir_refuses_storage_this_provider_cannot_read():
    error = config_error({"mydumper": {"data-source-dir": "gcs://bucket/prefix"}})

    assert error.key == "mydumper.data-source-dir" and "'gcs'" in str(error)


# ---- Lightning's sample config, ignored keys, unknown keys -----------------------------------------------


def test_the_every_key_file_holds_every_key_of_lightnings_sample_config():
    written = flattened_keys(tomllib.loads(EVERY_SAMPLE_KEY.read_text()))

    assert set(LIGHTNING_SAMPLE_KEYS) <= written


def test_a_config_with_every_key_of_lightnings_sample_loads():
    config = load_config(EVERY_SAMPLE_KEY)

    assert config.lightning.region_concurrency == 12
    assert config.lightning.table_concurrency == 4 and config.lightning.index_concurrency == 3
    assert config.lightning.io_concurrency == 7 and config.lightning.check_requirements is False
    assert config.lightning.max_error.type == 25
    assert config.lightning.task_info_schema_name == "import_errors"
    assert config.lightning.meta_schema_name == "import_meta"
    assert config.checkpoint.driver == "mysql" and config.checkpoint.schema == "import_progress"
    assert config.checkpoint.keep_after_success is KeepAfterSuccess.RENAME
    assert config.conflict.strategy is ConflictStrategy.REPLACE and config.conflict.threshold == 500
    assert config.tikv_importer.region_split_size == 48 * 1024**2
    assert config.tikv_importer.disk_quota == 200 * 1024**3
    assert config.tikv_importer.logical_import_batch_size == 64 * 1024
    assert config.tikv_importer.logical_import_batch_rows == 1000
    assert config.mydumper.read_block_size == 128 * 1024
    assert config.mydumper.batch_import_ratio == 0.5
    assert config.mydumper.strict_format is True and config.mydumper.max_region_size == 128 * 1024**2
    assert config.mydumper.filter == ("shop.*", "!shop.audit_*")
    assert config.mydumper.csv.separator == "|" and config.mydumper.csv.delimiter == "'"
    assert config.mydumper.csv.terminator == "\n" and config.mydumper.csv.null == ("NULL",)
    assert config.mydumper.csv.escaped_by == ""
    assert config.mydumper.files[1] == FileRouteRule(
        pattern=None, path="extra/orders.part1.sql", schema="shop", table="orders", type="sql", key="1"
    )
    assert config.tidb.host == "10.0.0.7" and config.tidb.port == 3307 and config.tidb.password == "hunter2"
    assert config.tidb.max_allowed_packet == 33_554_432 and config.tidb.pd_addr == "10.0.0.8:2379"
    assert config.tidb.security.ca_path == "/etc/import/tidb-ca.pem"
    assert (
        config.post_restore.checksum is PostOpLevel.OPTIONAL
        and config.post_restore.analyze is PostOpLevel.OFF
    )
    assert config.post_restore.post_process_at_last is False
    assert config.cron.switch_mode == 150.0 and config.cron.log_progress == 30.0


def test_keys_of_lightnings_sample_this_provider_does_not_use_are_reported_as_ignored():
    config = load_config(EVERY_SAMPLE_KEY)

    always_ignored = {
        entry.key for entry in LIGHTNING_KEYS if entry.status is KeyStatus.IGNORED and not entry.when
    }
    written = flattened_keys(tomllib.loads(EVERY_SAMPLE_KEY.read_text()))
    assert set(config.ignored_keys) >= written & always_ignored
    assert all(lightning_key(key).status is KeyStatus.IGNORED for key in config.ignored_keys)
    # Keys ignored only under a condition, which this file meets: cron values not the default.
    assert "cron.switch-mode" in config.ignored_keys
    assert len(config.ignored_keys) == len(set(config.ignored_keys))


def test_ignored_keys_are_logged_once_at_warning(caplog):
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_lightning.core.config"):
        config = load_config(EVERY_SAMPLE_KEY)

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert all(key in warnings[0].getMessage() for key in config.ignored_keys)


def test_a_config_without_ignored_keys_logs_no_warning(caplog):
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_lightning.core.config"):
        load_config(DATA / "source-and-target.toml")

    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("lightning", "status-addr", ":8289"),
        ("lightning", "server-mode", True),
        ("lightning", "pprof-port", 8289),
        ("lightning", "max-error-records", 100),
        ("lightning", "level", "debug"),
        ("lightning", "file", "x.log"),
        ("lightning", "max-size", 128),
        ("lightning", "max-days", 28),
        ("lightning", "max-backups", 14),
        ("lightning", "enable-diagnose-logs", True),
        ("tidb", "status-port", 10080),
        ("tidb", "log-level", "error"),
        ("tidb", "build-stats-concurrency", 20),
        ("tidb", "distsql-scan-concurrency", 15),
        ("tidb", "index-serial-scan-concurrency", 20),
        ("tidb", "checksum-table-concurrency", 2),
        ("mydumper", "source-id", "src-1"),
        ("tikv-importer", "addr", "h:8287"),
        ("tikv-importer", "remote-addr", "h:1"),
        ("tikv-importer", "remote-worker-addr", "h:2"),
        ("tikv-importer", "max-kv-pairs", 4096),
        ("tikv-importer", "send-kv-pairs", 32768),
        ("tikv-importer", "send-kv-size", "16KiB"),
        ("tikv-importer", "compress-kv-pairs", "gzip"),
        ("tikv-importer", "region-split-batch-size", 4096),
        ("tikv-importer", "region-split-concurrency", 4),
        ("tikv-importer", "region-check-backoff-limit", 1800),
        ("tikv-importer", "range-concurrency", 16),
        ("tikv-importer", "keyspace-name", "ks"),
        ("tikv-importer", "add-index-by-sql", True),
        ("tikv-importer", "engine-mem-cache-size", "512MiB"),
        ("tikv-importer", "local-writer-mem-cache-size", "128MiB"),
        ("tikv-importer", "store-write-bwlimit", 0),
        ("tikv-importer", "logical-import-prep-stmt", True),
        ("tikv-importer", "pause-pd-scheduler-scope", "global"),
        ("tikv-importer", "block-size", "16KiB"),
        ("tikv-importer", "chunk-size", 8388608),
        ("tikv-importer", "chunk-cache-dir", "/tmp/c"),
        ("post-restore", "level-1-compact", True),
        ("post-restore", "compact", True),
        ("post-restore", "checksum-via-sql", True),
        ("cron", "switch-mode", "1m"),
        ("cron", "log-progress", "1m"),
        ("cron", "check-disk-quota", "5m"),
        ("security", "redact-info-log", True),
    ],
)
def test_a_key_lightning_knows_but_this_provider_does_not_use_is_accepted_and_reported(section, key, value):
    config = load({section: {key: value}})

    assert config.ignored_keys == (f"{section}.{key}",)


def test_an_unknown_key_is_an_error_naming_its_path_and_the_closest_known_key():
    with pytest.raises(ConfigError) as caught:
        load_config(DATA / "misspelled-key.toml")

    assert caught.value.key == "mydumper.csv.seperator"
    assert "did you mean 'separator'?" in str(caught.value)


def test_an_unknown_section_is_an_error():
    error = config_error({"block-allow-list": {"do-dbs": ["a"]}})

    assert error.key == "block-allow-list"


def test_an_unknown_key_of_a_file_rule_is_named_with_its_index():
    error = config_error(
        {"mydumper": {"files": [{"pattern": "x", "schema": "a", "table": "b", "type": "sql", "typ": "csv"}]}}
    )

    assert error.key == "mydumper.files[0].typ"


def test_an_unknown_key_of_a_route_is_named_with_its_index():
    route = {"schema-pattern": "a", "target-schema": "b"}

    error = config_error({"routes": [route, {**route, "target-db": "c"}]})

    assert error.key == "routes[1].target-db"


def test_a_section_that_is_not_a_table_is_an_error():
    error = config_error({"tidb": "localhost"})

    assert error.key == "tidb" and "expected a table" in str(error)


def test_a_missing_config_file_is_an_error_naming_the_file(tmp_path):
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(ConfigError) as caught:
        load_config(missing)

    assert caught.value.key == str(missing)


def test_a_config_file_with_a_toml_syntax_error_is_an_error_naming_the_line():
    with pytest.raises(ConfigError) as caught:
        load_config(DATA / "broken-syntax.toml")

    assert caught.value.key.endswith("broken-syntax.toml")
    assert "line 5" in str(caught.value)


def test_a_config_file_that_is_not_utf8_is_an_error_naming_the_byte_offset(tmp_path):
    latin1 = tmp_path / "latin1.toml"
    content = b'[mydumper]\ndata-source-dir = "/srv/d\xe9p\xf4t"\n'
    latin1.write_bytes(content)

    with pytest.raises(ConfigError) as caught:
        load_config(latin1)

    bad_byte = content.index(0xE9)
    assert f"offset {bad_byte}" in str(caught.value)


# ---- merging file, data and overrides --------------------------------------------------------------------


def test_data_merges_over_the_file_table_by_table():
    config = load_config(DATA / "source-and-target.toml", data={"tidb": {"port": 4000}})

    assert config.tidb.port == 4000
    assert config.tidb.host == "db.internal"


def test_an_array_in_data_replaces_the_files_array():
    config = load_config(
        EVERY_SAMPLE_KEY,
        data={"mydumper": {"files": [{"path": "a.sql", "schema": "a", "table": "t", "type": "sql"}]}},
    )

    assert [rule.path for rule in config.mydumper.files] == ["a.sql"]


def test_overrides_apply_after_the_file_and_data():
    config = load_config(
        DATA / "source-and-target.toml",
        data={"tidb": {"port": 4000}},
        overrides={"tidb.port": 3307, "mydumper.csv.separator": ";"},
    )

    assert config.tidb.port == 3307
    assert config.mydumper.csv.separator == ";"


def test_an_override_through_a_key_that_is_not_a_table_is_an_error():
    with pytest.raises(ConfigError) as caught:
        load_config(data={**SOURCE, "tidb": {"port": 3306}}, overrides={"tidb.port.number": 1})

    assert caught.value.key == "tidb.port.number" and "'tidb.port' is not a table" in str(caught.value)


def test_none_in_data_or_overrides_means_not_given():
    config = load_config(
        DATA / "source-and-target.toml", data={"tidb": {"port": None}}, overrides={"tidb.host": None}
    )

    assert (config.tidb.host, config.tidb.port) == ("db.internal", 3306)


def test_loading_leaves_the_callers_dicts_as_they_were():
    data = {"mydumper": {"data-source-dir": "/a", "csv": {"separator": ";"}}}
    overrides = {"mydumper.csv.delimiter": "'"}
    before = json.dumps([data, overrides])

    load_config(data=data, overrides=overrides)

    assert json.dumps([data, overrides]) == before


# ---- types -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"tidb": {"port": "abc"}}, "tidb.port", "expected an integer, got 'abc'"),
        ({"tidb": {"port": 3306.5}}, "tidb.port", "expected an integer, got 3306.5"),
        ({"tidb": {"port": True}}, "tidb.port", "expected an integer, got True"),
        ({"tidb": {"host": 10}}, "tidb.host", "expected a string, got 10"),
        (
            {"lightning": {"check-requirements": 1}},
            "lightning.check-requirements",
            "expected true or false, got 1",
        ),
        ({"lightning": {"region-concurrency": 0}}, "lightning.region-concurrency", "must be 1 or more"),
        ({"lightning": {"table-concurrency": -1}}, "lightning.table-concurrency", "must be 0 or more"),
        ({"mydumper": {"filter": 5}}, "mydumper.filter", "expected an array of strings, got 5"),
        ({"mydumper": {"filter": ["a.*", 5]}}, "mydumper.filter[1]", "expected a string, got 5"),
        ({"mydumper": {"csv": {"null": [None, 1]}}}, "mydumper.csv.null[0]", "expected a string"),
        ({"mydumper": {"read-block-size": "lots"}}, "mydumper.read-block-size", "is not a byte size"),
        ({"mydumper": {"batch-import-ratio": 1.0}}, "mydumper.batch-import-ratio", "less than 1"),
        ({"mydumper": {"batch-import-ratio": "half"}}, "mydumper.batch-import-ratio", "expected a number"),
        ({"mydumper": {"character-set": "ebcdic"}}, "mydumper.character-set", "'auto', 'utf8mb4'"),
        ({"mydumper": {"data-character-set": "ebcdic"}}, "mydumper.data-character-set", "'gbk'"),
        ({"tidb": {"port": 70000}}, "tidb.port", "between 1 and 65535"),
        ({"tidb": {"tls": "yes"}}, "tidb.tls", "'skip-verify'"),
        ({"checkpoint": {"driver": "redis"}}, "checkpoint.driver", "'file', 'mysql', 'airflow'"),
        ({"cron": {"log-progress": "soon"}}, "cron.log-progress", "is not a duration"),
        ({"routes": {"schema-pattern": "a"}}, "routes", "expected an array of tables"),
        ({"mydumper": {"files": [["x"]]}}, "mydumper.files[0]", "expected a table"),
        (
            {"tikv-importer": {"logical-import-batch-rows": 0}},
            "tikv-importer.logical-import-batch-rows",
            "larger than 0",
        ),
        (
            {"tikv-importer": {"logical-import-batch-size": 0}},
            "tikv-importer.logical-import-batch-size",
            "larger than 0",
        ),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_an_error_naming_the_key(data, key, message):
    error = config_error(data)

    assert error.key == key
    assert message in str(error)


def test_strings_that_spell_integers_and_booleans_are_accepted():
    config = load({"tidb": {"port": "3306"}, "lightning": {"check-requirements": "False"}})

    assert config.tidb.port == 3306
    assert config.lightning.check_requirements is False


def test_a_password_of_the_wrong_type_is_not_echoed_in_the_error():
    error = config_error({"tidb": {"password": 987654321}})

    assert error.key == "tidb.password"
    assert "987654321" not in str(error)


def test_the_password_never_shows_in_repr():
    config = load({"tidb": {"password": "correct-horse"}})

    assert "correct-horse" not in repr(config)
    assert "correct-horse" not in repr(config.tidb)


def test_a_checkpoint_dsn_never_shows_in_repr():
    config = load({"checkpoint": {"driver": "mysql", "dsn": "u:battery-staple@tcp(h:3306)/"}})

    assert "battery-staple" not in repr(config)


# ---- byte sizes and durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "size"),
    [
        (4096, 4096),
        ("512", 512),
        ("64KiB", 65536),
        ("64kib", 65536),
        ("64K", 65536),
        ("64KB", 65536),
        ("96MiB", 96 * 2**20),
        ("1GB", 2**30),
        ("2 g", 2 * 2**30),
        ("1TiB", 2**40),
        ("1P", 2**50),
        ("10b", 10),
        ("1.5K", 1536),
        ("0.1MiB", 104857),
        ("0", 0),
    ],
)
def test_parse_byte_size_reads_lightnings_sizes_as_binary_multiples(written, size):
    assert parse_byte_size(written, "k") == size


@pytest.mark.parametrize(
    "written",
    [
        "",
        "KiB",
        "-1",
        "1.2.3K",
        "1 KiB ",
        " 1KiB",
        "1EiB",
        "1KiBB",
        "1  K",
        "١٢",
        "9" * 80,
        "8PiB" * 2,
        True,
        1.5,
        -5,
        None,
        "9999999P",
    ],
)
def test_parse_byte_size_refuses_what_is_not_a_size(written):
    with pytest.raises(ConfigError) as caught:
        parse_byte_size(written, "tikv-importer.disk-quota")

    assert caught.value.key == "tikv-importer.disk-quota"


@given(
    st.integers(min_value=0, max_value=2**40),
    st.sampled_from(["", "K", "KB", "KiB", "k", "kib", "M", "MiB", "G", "gb", "T", "P"]),
    st.sampled_from(["", " "]),
)
def test_parse_byte_size_multiplies_by_the_binary_unit(number, unit, space):
    multiple = 1024 ** "kmgtp".find(unit[:1].lower()) * 1024 if unit else 1
    text = f"{number}{space if unit else ''}{unit}"

    if number * multiple <= 2**63 - 1:
        assert parse_byte_size(text, "k") == number * multiple
    else:
        with pytest.raises(ConfigError):
            parse_byte_size(text, "k")


@given(st.text(max_size=20))
def test_parse_byte_size_gives_a_size_or_a_config_error_for_any_text(text):
    try:
        size = parse_byte_size(text, "k")
    except ConfigError as error:
        assert error.key == "k"
    else:
        assert 0 <= size <= 2**63 - 1


def test_byte_size_keys_of_the_config_hold_integers():
    config = load({"tikv-importer": {"logical-import-batch-size": "1MiB"}, "mydumper": {"batch-size": "2GB"}})

    assert config.tikv_importer.logical_import_batch_size == 1048576
    assert config.mydumper.batch_size == 2 * 2**30


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("2m30s", 150.0),
        ("0", 0.0),
        ("1h0m0s", 3600.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("100us", 0.0001),
        ("90µs", 0.00009),
        ("7ns", 7e-9),
        (90, 90.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration_reads_go_durations_as_seconds(written, seconds):
    assert parse_duration(written, "cron.log-progress") == seconds


@pytest.mark.parametrize("written", ["5", "5x", "-1s", "", "m", "1 m", "1h-5m", True, -1, float("nan"), None])
def test_parse_duration_refuses_what_is_not_a_duration(written):
    with pytest.raises(ConfigError) as caught:
        parse_duration(written, "cron.log-progress")

    assert caught.value.key == "cron.log-progress"


@given(st.integers(min_value=0, max_value=2**53))
def test_durations_round_trip_through_to_dict(nanoseconds):
    seconds = nanoseconds / 10**9
    config = load({"cron": {"log-progress": seconds}})

    written = config.to_dict()["cron"]["log-progress"]

    assert parse_duration(written, "k") == seconds


# ---- Lightning's tri-state values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "level"),
    [
        (True, PostOpLevel.REQUIRED),
        (False, PostOpLevel.OFF),
        ("off", PostOpLevel.OFF),
        ("optional", PostOpLevel.OPTIONAL),
        ("required", PostOpLevel.REQUIRED),
        ("Required", PostOpLevel.REQUIRED),
        ("true", PostOpLevel.REQUIRED),
        ("false", PostOpLevel.OFF),
    ],
)
def test_post_restore_levels_accept_booleans_and_names(written, level):
    config = load({"post-restore": {"checksum": written, "analyze": written}})

    assert config.post_restore.checksum is level and config.post_restore.analyze is level


def test_post_op_levels_carry_lightnings_numbers():
    assert [int(level) for level in (PostOpLevel.OFF, PostOpLevel.OPTIONAL, PostOpLevel.REQUIRED)] == [
        0,
        1,
        2,
    ]


def test_an_unknown_post_restore_level_is_refused_with_the_allowed_values():
    error = config_error({"post-restore": {"checksum": "sometimes"}})

    assert error.key == "post-restore.checksum"
    assert "'off', 'optional', 'required'" in str(error)


@pytest.mark.parametrize(
    ("written", "strategy"),
    [
        (True, KeepAfterSuccess.RENAME),
        (False, KeepAfterSuccess.REMOVE),
        ("remove", KeepAfterSuccess.REMOVE),
        ("rename", KeepAfterSuccess.RENAME),
        ("origin", KeepAfterSuccess.ORIGIN),
    ],
)
def test_keep_after_success_accepts_booleans_and_names(written, strategy):
    assert load({"checkpoint": {"keep-after-success": written}}).checkpoint.keep_after_success is strategy


def test_an_unknown_keep_after_success_is_refused_with_the_allowed_values():
    error = config_error({"checkpoint": {"keep-after-success": "archive"}})

    assert error.key == "checkpoint.keep-after-success"
    assert "'remove', 'rename', 'origin'" in str(error)


# ---- max-error -------------------------------------------------------------------------------------------


def test_max_error_as_an_integer_sets_the_type_error_limit():
    assert load({"lightning": {"max-error": 7}}).lightning.max_error == MaxError(type=7)


def test_max_error_as_a_table_sets_the_type_error_limit():
    assert load({"lightning": {"max-error": {"type": 3}}}).lightning.max_error.type == 3


def test_max_error_conflict_is_accepted_but_ignored_in_favour_of_conflict_threshold():
    config = load(
        {"lightning": {"max-error": {"type": 3, "conflict": 50}}}, {"conflict": {"strategy": "ignore"}}
    )

    assert config.ignored_keys == ("lightning.max-error.conflict",)
    assert config.lightning.max_error.conflict == config.conflict.threshold == 10000


@pytest.mark.parametrize("fixed", ["syntax", "charset"])
def test_max_error_syntax_and_charset_cannot_be_set(fixed):
    error = config_error({"lightning": {"max-error": {fixed: 5}}})

    assert error.key == f"lightning.max-error.{fixed}"


def test_a_negative_max_error_is_refused():
    error = config_error({"lightning": {"max-error": -1}})

    assert error.key == "lightning.max-error"


def test_an_unknown_key_in_max_error_is_refused():
    assert config_error({"lightning": {"max-error": {"typo": 5}}}).key == "lightning.max-error.typo"


# ---- [conflict] ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["replace", "ignore"])
def test_conflict_threshold_defaults_to_10000_for_replace_and_ignore(strategy):
    assert load({"conflict": {"strategy": strategy}}).conflict.threshold == 10000


def test_conflict_threshold_cannot_be_set_with_strategy_error():
    error = config_error({"conflict": {"strategy": "error", "threshold": 10}})

    assert error.key == "conflict.threshold"


def test_conflict_threshold_of_zero_is_allowed_with_strategy_error():
    assert load({"conflict": {"strategy": "error", "threshold": 0}}).conflict.threshold == 0


def test_max_record_rows_defaults_to_the_threshold():
    config = load({"conflict": {"strategy": "ignore", "threshold": 250}})

    assert config.conflict.max_record_rows == 250


def test_max_record_rows_follows_the_threshold_for_replace_with_the_tidb_backend():
    # Unlike Lightning (0 there): the logical backend here can tell which rows a REPLACE displaced.
    config = load({"conflict": {"strategy": "replace", "threshold": 250}})

    assert config.conflict.max_record_rows == 250


def test_max_record_rows_follows_the_threshold_for_replace_with_the_local_backend(tmp_path):
    config = load(
        {"conflict": {"strategy": "replace", "threshold": 250}},
        {"tikv-importer": {"backend": "local", "sorted-kv-dir": str(tmp_path)}},
    )

    assert config.conflict.max_record_rows == 250


def test_a_max_record_rows_different_from_the_threshold_is_reported_as_ignored():
    config = load({"conflict": {"strategy": "ignore", "threshold": 250, "max-record-rows": 100}})

    assert config.conflict.max_record_rows == 250
    assert config.ignored_keys == ("conflict.max-record-rows",)


def test_deprecated_on_duplicate_sets_the_conflict_strategy():
    assert load({"tikv-importer": {"on-duplicate": "replace"}}).conflict.strategy is ConflictStrategy.REPLACE


def test_conflict_strategy_wins_over_deprecated_on_duplicate():
    config = load({"tikv-importer": {"on-duplicate": "replace"}, "conflict": {"strategy": "ignore"}})

    assert config.conflict.strategy is ConflictStrategy.IGNORE


def test_an_invalid_on_duplicate_is_named_as_written():
    assert config_error({"tikv-importer": {"on-duplicate": "merge"}}).key == "tikv-importer.on-duplicate"


def test_deprecated_duplicate_resolution_cannot_be_combined_with_a_strategy(tmp_path):
    error = config_error(
        {
            "tikv-importer": {
                "backend": "local",
                "sorted-kv-dir": str(tmp_path),
                "duplicate-resolution": "replace",
            },
            "conflict": {"strategy": "error"},
        }
    )

    assert error.key == "tikv-importer.duplicate-resolution"


def test_ignore_strategy_is_refused_with_the_local_backend(tmp_path):
    error = config_error(
        {
            "tikv-importer": {"backend": "local", "sorted-kv-dir": str(tmp_path)},
            "conflict": {"strategy": "ignore"},
        }
    )

    assert error.key == "conflict.strategy"


def test_precheck_conflict_before_import_is_refused_with_the_tidb_backend():
    error = config_error({"conflict": {"precheck-conflict-before-import": True}})

    assert error.key == "conflict.precheck-conflict-before-import"


def test_an_unknown_conflict_strategy_is_refused_with_the_allowed_values():
    error = config_error({"conflict": {"strategy": "overwrite"}})

    assert error.key == "conflict.strategy"
    assert "'error', 'replace', 'ignore'" in str(error)


def test_a_conflict_threshold_below_minus_one_is_refused():
    assert config_error({"conflict": {"strategy": "replace", "threshold": -2}}).key == "conflict.threshold"


# ---- [mydumper.csv] --------------------------------------------------------------------------------------


def test_csv_defaults_are_lightnings():
    csv = load_config(data=SOURCE).mydumper.csv

    assert (csv.separator, csv.delimiter, csv.terminator) == (",", '"', "")
    assert csv.null == ("\\N",) and csv.escaped_by == "\\" and csv.backslash_escape is True
    assert csv.header is True and csv.header_schema_match is True
    assert csv.not_null is False and csv.trim_last_separator is False


def test_an_empty_csv_separator_is_refused():
    assert config_error({"mydumper": {"csv": {"separator": ""}}}).key == "mydumper.csv.separator"


@pytest.mark.parametrize(("separator", "delimiter"), [(",", ","), ("ab", "a"), ("a", "ab"), ("||", "|")])
def test_separator_and_delimiter_must_not_be_prefixes_of_each_other(separator, delimiter):
    error = config_error({"mydumper": {"csv": {"separator": separator, "delimiter": delimiter}}})

    assert error.key == "mydumper.csv.delimiter" and "prefixes of each other" in str(error)


def test_an_empty_delimiter_is_allowed():
    assert load({"mydumper": {"csv": {"delimiter": ""}}}).mydumper.csv.delimiter == ""


@pytest.mark.parametrize("escape", ["\\\\", "é", "ab"])
def test_escaped_by_longer_than_one_byte_is_refused(escape):
    assert config_error({"mydumper": {"csv": {"escaped-by": escape}}}).key == "mydumper.csv.escaped-by"


@pytest.mark.parametrize(
    "csv",
    [
        {"separator": "#", "escaped-by": "#"},
        {"delimiter": "#", "escaped-by": "#"},
        {"terminator": "#", "escaped-by": "#"},
    ],
)
def test_escaped_by_must_differ_from_separator_delimiter_and_terminator(csv):
    assert config_error({"mydumper": {"csv": csv}}).key == "mydumper.csv.escaped-by"


def test_backslash_escape_false_turns_the_default_escape_off():
    assert load({"mydumper": {"csv": {"backslash-escape": False}}}).mydumper.csv.escaped_by == ""


def test_backslash_escape_false_keeps_an_explicit_other_escape():
    csv = load({"mydumper": {"csv": {"backslash-escape": False, "escaped-by": "#"}}}).mydumper.csv

    assert csv.escaped_by == "#"


def test_csv_null_accepts_a_string():
    assert load({"mydumper": {"csv": {"null": "NULL"}}}).mydumper.csv.null == ("NULL",)


def test_csv_null_accepts_a_list_of_strings():
    assert load({"mydumper": {"csv": {"null": ["NULL", "\\N"]}}}).mydumper.csv.null == ("NULL", "\\N")


def test_an_empty_csv_null_means_the_empty_field_when_nulls_are_allowed():
    assert load({"mydumper": {"csv": {"null": []}}}).mydumper.csv.null == ("",)


def test_an_empty_csv_null_stays_empty_with_not_null():
    assert load({"mydumper": {"csv": {"null": [], "not-null": True}}}).mydumper.csv.null == ()


def test_strict_format_needs_a_csv_terminator():
    error = config_error({"mydumper": {"strict-format": True}})

    assert error.key == "mydumper.strict-format" and "terminator" in str(error)


@settings(max_examples=300)
@given(st.text(max_size=3), st.text(max_size=3), st.text(max_size=2))
def test_any_separator_delimiter_and_escape_load_consistently_or_fail_with_a_config_error(sep, delim, escape):
    try:
        csv = load(
            {"mydumper": {"csv": {"separator": sep, "delimiter": delim, "escaped-by": escape}}}
        ).mydumper.csv
    except ConfigError as error:
        assert error.key.startswith("mydumper.csv.")
    else:
        assert csv.separator
        if csv.delimiter:
            assert not csv.separator.startswith(csv.delimiter) and not csv.delimiter.startswith(csv.separator)
        assert len(csv.escaped_by.encode()) <= 1
        if csv.escaped_by:
            assert csv.escaped_by not in (csv.separator, csv.delimiter, csv.terminator)


# ---- [mydumper] ------------------------------------------------------------------------------------------


def test_data_character_set_utf8_means_utf8mb4():
    assert load({"mydumper": {"data-character-set": "UTF8"}}).mydumper.data_character_set == "utf8mb4"


def test_data_invalid_char_replace_must_differ_from_the_csv_separator_when_converting():
    error = config_error({"mydumper": {"data-character-set": "gbk", "data-invalid-char-replace": ","}})

    assert error.key == "mydumper.data-invalid-char-replace"


def test_data_invalid_char_replace_is_not_checked_when_nothing_is_converted():
    config = load({"mydumper": {"data-character-set": "binary", "csv": {"separator": "\ufffd"}}})

    assert config.mydumper.csv.separator == config.mydumper.data_invalid_char_replace


def test_ignore_data_columns_are_refused_by_name_until_they_are_applied():
    error = config_error(
        {"mydumper": {"ignore-data-columns": [{"db": "shop", "table": "orders", "columns": ["Note"]}]}}
    )

    assert error.key == "mydumper.ignore-data-columns"
    assert "would change the data" in str(error)


def test_an_empty_ignore_data_columns_asks_for_nothing_and_loads():
    config = load({"mydumper": {"ignore-data-columns": []}})

    assert config.mydumper.ignore_data_columns == ()


def test_ignore_data_columns_must_say_which_tables():
    error = config_error({"mydumper": {"ignore-data-columns": [{"db": "shop", "columns": ["a"]}]}})

    assert error.key == "mydumper.ignore-data-columns[0]"


# ---- [[mydumper.files]] ----------------------------------------------------------------------------------

CSV_RULE = {"pattern": r"^(\w+)\.(\w+)\.csv$", "schema": "$1", "table": "$2", "type": "csv"}


def test_default_file_rules_is_on_without_file_rules():
    assert load_config(data=SOURCE).mydumper.default_file_rules is True


def test_default_file_rules_is_off_with_file_rules():
    config = load({"mydumper": {"files": [CSV_RULE]}})

    assert config.mydumper.default_file_rules is False


def test_default_file_rules_can_be_turned_on_next_to_file_rules():
    config = load({"mydumper": {"files": [CSV_RULE], "default-file-rules": True}})

    assert config.mydumper.default_file_rules is True


def test_a_file_rule_by_pattern_keeps_its_templates():
    rule = load({"mydumper": {"files": [{**CSV_RULE, "key": "$0", "compression": "GZ"}]}}).mydumper.files[0]

    assert rule == FileRouteRule(
        pattern=r"^(\w+)\.(\w+)\.csv$",
        path=None,
        schema="$1",
        table="$2",
        type="csv",
        key="$0",
        compression="gz",
    )


def test_a_file_rule_may_use_named_groups():
    rule = {"pattern": r"^(?P<db>\w+)/(?P<tbl>\w+)\.sql$", "schema": "${db}", "table": "$tbl", "type": "sql"}

    assert load({"mydumper": {"files": [rule]}}).mydumper.files[0].table == "$tbl"


def test_a_file_rule_with_pattern_and_path_is_refused():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "path": "a.b.csv"}]}})

    assert error.key == "mydumper.files[0].path"


def test_a_file_rule_without_pattern_or_path_is_refused():
    error = config_error({"mydumper": {"files": [CSV_RULE, {"schema": "a", "table": "b", "type": "sql"}]}})

    assert error.key == "mydumper.files[1]"


def test_an_unknown_file_type_is_refused_with_the_allowed_types():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "type": "json"}]}})

    assert error.key == "mydumper.files[0].type"
    assert "'schema-schema', 'table-schema', 'view-schema', 'sql', 'csv', 'parquet', 'ignore'" in str(error)


def test_a_template_naming_a_missing_group_is_refused():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "table": "$3"}]}})

    assert error.key == "mydumper.files[0].table" and "$3" in str(error)


def test_a_template_naming_a_missing_named_group_is_refused():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "schema": "${db}"}]}})

    assert error.key == "mydumper.files[0].schema"


def test_a_file_rule_with_an_invalid_regular_expression_is_refused():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "pattern": "(unclosed"}]}})

    assert error.key == "mydumper.files[0].pattern"


def test_a_file_rule_needs_a_table_unless_it_routes_database_schemas():
    schema_rule = {"pattern": r"^(\w+)-schema-create\.sql$", "schema": "$1", "type": "schema-schema"}

    assert load({"mydumper": {"files": [schema_rule]}}).mydumper.files[0].table == ""
    assert (
        config_error({"mydumper": {"files": [{**schema_rule, "type": "sql"}]}}).key
        == "mydumper.files[0].table"
    )


def test_an_ignore_rule_needs_no_schema_or_table():
    rule = load({"mydumper": {"files": [{"pattern": r"\.bak$", "type": "ignore"}]}}).mydumper.files[0]

    assert rule.type == "ignore"


def test_an_absolute_file_rule_path_is_made_relative_to_the_data_source_dir():
    config = load_config(
        data={
            "mydumper": {
                "data-source-dir": "file:///srv/dumps",
                "files": [{"path": "/srv/dumps/sub/x.sql", "schema": "a", "table": "b", "type": "sql"}],
            }
        }
    )

    assert config.mydumper.files[0].path == "sub/x.sql"


def test_an_absolute_file_rule_path_outside_the_data_source_dir_is_refused():
    error = config_error(
        {"mydumper": {"files": [{"path": "/etc/x.sql", "schema": "a", "table": "b", "type": "sql"}]}}
    )

    assert error.key == "mydumper.files[0].path" and "not inside" in str(error)


def test_an_unreadable_file_compression_is_refused():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "compression": "lz4"}]}})

    assert error.key == "mydumper.files[0].compression" and "'snappy'" in str(error)


def test_a_whole_file_compressed_parquet_rule_is_refused():
    error = config_error({"mydumper": {"files": [{**CSV_RULE, "type": "parquet", "compression": "gz"}]}})

    assert error.key == "mydumper.files[0].compression"


# ---- [[routes]] ------------------------------------------------------------------------------------------


def test_route_patterns_are_kept_as_written_for_the_table_router_to_fold():
    # The table router folds case (unless mydumper.case-sensitive) and leaves `~regex` patterns alone,
    # so the config must not fold them first.
    config = load(
        {
            "routes": [
                {
                    "schema-pattern": "Shard_*",
                    "table-pattern": "~^Orders_\\D+$",
                    "target-schema": "Shop",
                    "target-table": "Orders",
                }
            ]
        }
    )

    assert config.routes == (RouteRule("Shard_*", "~^Orders_\\D+$", "Shop", "Orders"),)


def test_file_rule_patterns_use_go_regexp_syntax():
    config = load({"mydumper": {"files": [{"pattern": "(?i)^data/(\\w+)\\.csv\\z", "schema": "db", "table": "$1", "type": "csv"}]}})

    assert config.mydumper.files[0].pattern == "(?i)^data/(\\w+)\\.csv\\z"


def test_a_route_without_a_target_schema_is_refused():
    error = config_error({"routes": [{"schema-pattern": "a", "target-schema": "b"}, {"schema-pattern": "c"}]})

    assert error.key == "routes[1].target-schema"


def test_a_route_without_a_schema_pattern_is_refused():
    assert config_error({"routes": [{"target-schema": "b"}]}).key == "routes[0].schema-pattern"


def test_a_route_extracting_names_into_a_column_is_refused_rather_than_silently_dropped():
    route = {
        "schema-pattern": "a",
        "target-schema": "b",
        "extract-table": {"table-regexp": "t_(.*)", "target-column": "c"},
    }

    assert config_error({"routes": [route]}).key == "routes[0].extract-table"


# ---- [tidb], [security], [checkpoint] --------------------------------------------------------------------


def test_sql_mode_is_normalised_to_upper_case_names():
    config = load({"tidb": {"sql-mode": " strict_trans_tables, no_zero_date ,"}})

    assert config.tidb.sql_mode == "STRICT_TRANS_TABLES,NO_ZERO_DATE"


def test_an_empty_sql_mode_is_allowed():
    assert load({"tidb": {"sql-mode": ""}}).tidb.sql_mode == ""


def test_an_unknown_sql_mode_is_refused_with_the_closest_name():
    error = config_error({"tidb": {"sql-mode": "STRICT_TRANS_TABLE"}})

    assert error.key == "tidb.sql-mode" and "'STRICT_TRANS_TABLES'" in str(error)


def test_session_vars_are_read_as_strings():
    config = load({"tidb": {"session-vars": {"foreign_key_checks": 0, "time_zone": "+00:00"}}})

    assert dict(config.tidb.session_vars) == {"foreign_key_checks": "0", "time_zone": "+00:00"}


def test_a_session_var_name_must_be_an_identifier():
    error = config_error({"tidb": {"session-vars": {"x = 1; DROP": "1"}}})

    assert error.key == "tidb.session-vars.x = 1; DROP"


def test_tidb_security_defaults_to_a_copy_of_security():
    config = load({"security": {"ca-path": "/ca.pem", "cert-path": "/c.pem", "key-path": "/k.pem"}})

    assert config.tidb.security == config.security
    assert config.security.ca_path == "/ca.pem"


def test_tls_and_the_certificate_paths_are_used_not_reported_as_ignored():
    config = load({"tidb": {"tls": "skip-verify"}, "security": {"ca-path": "/ca.pem", "cert-path": "/c.pem"}})

    assert config.ignored_keys == ()
    assert config.tidb.tls == "skip-verify"
    assert config.tidb.security.cert_path == "/c.pem"


def test_tls_cluster_needs_a_ca():
    assert config_error({"tidb": {"tls": "cluster"}}).key == "tidb.tls"


def test_tls_false_clears_the_tidb_certificates():
    config = load({"tidb": {"tls": "false"}, "security": {"ca-path": "/ca.pem"}})

    assert config.tidb.security.ca_path == ""


def test_an_unset_checkpoint_dsn_stays_empty_for_the_store_to_choose():
    config = load({"checkpoint": {"driver": "file"}})

    assert config.checkpoint.dsn == ""


def test_an_unset_mysql_checkpoint_dsn_stays_empty_meaning_the_target():
    assert load({"checkpoint": {"driver": "mysql"}}).checkpoint.dsn == ""


# ---- to_dict ---------------------------------------------------------------------------------------------


def test_to_dict_of_the_default_config_round_trips():
    config = load_config(data=SOURCE)

    assert load_config(data=config.to_dict(redact=False)) == config


def test_to_dict_of_a_config_with_every_key_round_trips():
    config = load_config(EVERY_SAMPLE_KEY)

    assert load_config(data=config.to_dict(redact=False)) == config


def test_to_dict_is_json_serialisable_with_toml_keys():
    tree = json.loads(json.dumps(load_config(EVERY_SAMPLE_KEY).to_dict()))

    assert tree["tikv-importer"]["backend"] == "tidb"
    assert tree["mydumper"]["csv"]["null"] == ["NULL"]
    assert tree["post-restore"]["checksum"] == "optional"
    assert tree["lightning"]["max-error"] == {"type": 25}
    assert tree["cron"]["switch-mode"] == "2m30s"


def test_to_dict_redacts_the_password_by_default():
    tree = load_config(EVERY_SAMPLE_KEY).to_dict()

    assert tree["tidb"]["password"] == "******"
    assert tree["checkpoint"]["dsn"] == "checkpointer:******@tcp(10.0.0.9:3306)/"
    assert "hunter2" not in json.dumps(tree) and "s3cret" not in json.dumps(tree)


def test_to_dict_without_redaction_keeps_the_password():
    assert load_config(EVERY_SAMPLE_KEY).to_dict(redact=False)["tidb"]["password"] == "hunter2"


def test_a_config_survives_pickling_for_worker_processes():
    config = load_config(EVERY_SAMPLE_KEY, data={"tidb": {"session-vars": {"time_zone": "+00:00"}}})

    assert pickle.loads(pickle.dumps(config)) == config


def test_a_config_is_hashable():
    config = load({"tidb": {"session-vars": {"time_zone": "+00:00"}}})

    assert hash(config) == hash(load({"tidb": {"session-vars": {"time_zone": "+00:00"}}}))


def test_to_dict_leaves_out_ignored_keys():
    tree = load_config(EVERY_SAMPLE_KEY).to_dict()

    assert "status-addr" not in tree["lightning"] and "compact" not in tree["post-restore"]


_FILE_RULES = st.lists(
    st.fixed_dictionaries(
        {
            "path": st.from_regex(r"[a-z]{1,5}/[a-z]{1,5}\.sql", fullmatch=True),
            "schema": st.just("db"),
            "table": st.just("t"),
            "type": st.sampled_from(["sql", "csv", "parquet"]),
        }
    ),
    max_size=2,
)
_VARIED_CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "lightning": st.fixed_dictionaries(
            {},
            optional={
                "region-concurrency": st.integers(1, 64),
                "table-concurrency": st.integers(0, 64),
                "max-error": st.one_of(
                    st.integers(0, 10**6), st.fixed_dictionaries({"type": st.integers(0, 9)})
                ),
                "task-info-schema-name": st.text(max_size=8),
            },
        ),
        "tidb": st.fixed_dictionaries(
            {},
            optional={
                "port": st.integers(1, 65535),
                "password": st.text(max_size=8),
                "session-vars": st.dictionaries(
                    st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=5)
                ),
            },
        ),
        "mydumper": st.fixed_dictionaries(
            {},
            optional={
                "filter": st.lists(st.text(max_size=6), max_size=3),
                "read-block-size": st.integers(0, 2**40),
                "strict-format": st.booleans(),
                "files": _FILE_RULES,
                "csv": st.fixed_dictionaries(
                    {},
                    optional={
                        "null": st.one_of(st.text(max_size=3), st.lists(st.text(max_size=3), max_size=2)),
                        "not-null": st.booleans(),
                        "backslash-escape": st.booleans(),
                        "terminator": st.sampled_from(["\n", "\r\n", ";;"]),
                    },
                ),
            },
        ),
        "conflict": st.fixed_dictionaries(
            {},
            optional={
                "strategy": st.sampled_from(["", "replace", "ignore"]),
                "threshold": st.integers(-1, 10**5),
            },
        ),
        "post-restore": st.fixed_dictionaries(
            {}, optional={"checksum": st.sampled_from([True, False, "off", "optional", "required"])}
        ),
        "checkpoint": st.fixed_dictionaries(
            {},
            optional={
                "keep-after-success": st.sampled_from([True, False, "origin"]),
                "schema": st.text(max_size=8),
            },
        ),
        "cron": st.fixed_dictionaries(
            {},
            optional={
                "log-progress": st.floats(0, 10**6, allow_nan=False),
                "switch-mode": st.sampled_from(["1h2m3.5s", "7ms"]),
            },
        ),
    },
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_VARIED_CONFIGS)
def test_to_dict_round_trips_any_config_that_loads(data):
    try:
        config = load(data)
    except ConfigError:
        return  # some combinations are invalid (strict-format without terminator); the rest must round-trip

    tree = config.to_dict(redact=False)

    assert load_config(data=json.loads(json.dumps(tree))) == config


# ---- robustness: any input gives a Config or a ConfigError -----------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["64KiB", "5m", "tidb", "local", "required", "replace", "$1", "*.*", "/x", "s3://b/p"]),
)
_KEYS = st.sampled_from(
    [
        "lightning",
        "tidb",
        "mydumper",
        "csv",
        "files",
        "routes",
        "tikv-importer",
        "conflict",
        "checkpoint",
        "post-restore",
        "cron",
        "security",
        "max-error",
        "type",
        "port",
        "backend",
        "separator",
        "delimiter",
        "null",
        "pattern",
        "path",
        "schema",
        "table",
        "schema-pattern",
        "target-schema",
        "threshold",
        "strategy",
        "data-source-dir",
        "session-vars",
        "filter",
        "keep-after-success",
        "checksum",
        "switch-mode",
        "x",
    ]
)
_ANY_TREE = st.recursive(
    _SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _ANY_TREE, max_size=5))
def test_any_nested_data_loads_or_fails_with_a_config_error(data):
    try:
        load(data)
    except ConfigError as error:
        assert error.key


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=20), _SCALARS, max_size=4))
def test_any_overrides_load_or_fail_with_a_config_error(overrides):
    try:
        load_config(data=SOURCE, overrides=overrides)
    except ConfigError as error:
        assert isinstance(error.key, str)
