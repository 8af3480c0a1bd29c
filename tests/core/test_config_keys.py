"""Specification of LIGHTNING_KEYS: every key of Lightning's configuration is honoured, ignored with a warning
that says why, or refused by name; a file holding every key loads; the docs list the same statuses."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lightning.core.config import (
    LIGHTNING_KEYS,
    BackendKind,
    ConflictStrategy,
    KeepAfterSuccess,
    KeyStatus,
    PostOpLevel,
    RouteRule,
    key_status_markdown,
    lightning_key,
    load_config,
)
from airflow_provider_lightning.core.errors import ConfigError

ROOT = Path(__file__).parent.parent.parent
EVERY_KEY = ROOT / "tests" / "data" / "config" / "every-lightning-key.toml"
SOURCE = {"mydumper": {"data-source-dir": "/srv/dumps/nightly"}}


@pytest.fixture(scope="module")
def full():
    return load_config(EVERY_KEY)


def normalised(keys) -> set[str]:
    return {re.sub(r"\[[0-9]+\]", "[]", key) for key in keys}


def always(status: KeyStatus) -> set[str]:
    return {entry.key for entry in LIGHTNING_KEYS if entry.status is status and not entry.when}


# ---- the table and the file ------------------------------------------------------------------------------


def test_the_file_of_every_key_holds_each_key_of_the_table_that_can_load(full):
    # Refused keys cannot load (each is tested below); max-error's integer form is the table form's twin;
    # [black-white-list] left Lightning's config (it is honoured here, tested in test_black_white_list.py).
    cannot_be_in_the_file = always(KeyStatus.REFUSED) | {"lightning.max-error"}
    cannot_be_in_the_file |= {e.key for e in LIGHTNING_KEYS if e.key.startswith("black-white-list.")}
    expected = {entry.key for entry in LIGHTNING_KEYS} - cannot_be_in_the_file

    assert normalised(full.written_keys) == expected


def test_every_key_the_file_writes_is_in_the_table(full):
    assert all(lightning_key(key) is not None for key in full.written_keys)


def test_the_docs_list_every_key_with_the_status_in_the_table():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    between = re.search(r"<!-- key-status:begin -->\n(.*)<!-- key-status:end -->", doc, re.DOTALL)

    assert between is not None
    assert between.group(1) == key_status_markdown()


def test_the_table_names_each_key_once():
    keys = [entry.key for entry in LIGHTNING_KEYS]

    assert len(keys) == len(set(keys))


# ---- ignored: accepted, and a warning names the key and why --------------------------------------------


def test_every_ignored_key_of_the_file_is_warned_about_with_its_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="airflow_provider_lightning.core.config"):
        config = load_config(EVERY_KEY)

    message = "\n".join(record.getMessage() for record in caplog.records)
    written = normalised(config.written_keys)
    ignored = {key for key in written if lightning_key(key).status is KeyStatus.IGNORED}
    # Every conditionally ignored key of the file meets its condition (TLS paths set, cron not default, ...).
    assert set(config.ignored_keys) == ignored
    for key in ignored:
        assert f"{key} ({lightning_key(key).why})" in message


def test_log_rotation_is_warned_about_as_a_logging_setting(caplog):
    with caplog.at_level(logging.WARNING, logger="airflow_provider_lightning.core.config"):
        load_config(data={**SOURCE, "lightning": {"max-backups": 3}})

    assert "lightning.max-backups (log rotation: logging is configured by Airflow" in caplog.text


def test_status_addr_is_warned_about_as_there_is_no_status_server(caplog):
    with caplog.at_level(logging.WARNING, logger="airflow_provider_lightning.core.config"):
        config = load_config(data={**SOURCE, "lightning": {"status-addr": ":8289"}})

    assert config.ignored_keys == ("lightning.status-addr",)
    assert "lightning.status-addr (there is no status server" in caplog.text


def test_no_honoured_key_is_reported_as_ignored(full):
    assert not [key for key in full.ignored_keys if lightning_key(key).status is KeyStatus.HONOURED]


# ---- refused: by name, with the reason ------------------------------------------------------------------

REFUSED_EXAMPLES: dict[str, dict[str, Any]] = {
    "lightning.max-error.syntax": {"lightning": {"max-error": {"syntax": 1}}},
    "lightning.max-error.charset": {"lightning": {"max-error": {"charset": 1}}},
    "mydumper.ignore-data-columns": {
        "mydumper": {"ignore-data-columns": [{"db": "shop", "table": "orders", "columns": ["note"]}]}
    },
    "mydumper.ignore-columns": {
        "mydumper": {"ignore-columns": [{"db": "shop", "table": "orders", "columns": ["note"]}]}
    },
    "routes[0].extract-table": {
        "routes": [
            {
                "schema-pattern": "s*",
                "target-schema": "t",
                "extract-table": {"table-regexp": "t_(.*)", "target-column": "c"},
            }
        ]
    },
    "routes[0].extract-schema": {
        "routes": [
            {
                "schema-pattern": "s*",
                "target-schema": "t",
                "extract-schema": {"schema-regexp": "s_(.*)", "target-column": "c"},
            }
        ]
    },
    "routes[0].extract-source": {
        "routes": [
            {
                "schema-pattern": "s*",
                "target-schema": "t",
                "extract-source": {"source-regexp": "(.*)", "target-column": "c"},
            }
        ]
    },
    "conflict.precheck-conflict-before-import": {"conflict": {"precheck-conflict-before-import": True}},
}


def test_every_refused_key_has_an_example_here():
    refused = {entry.key for entry in LIGHTNING_KEYS if entry.status is KeyStatus.REFUSED}

    assert normalised(REFUSED_EXAMPLES) == refused


@pytest.mark.parametrize("key", sorted(REFUSED_EXAMPLES))
def test_a_refused_key_fails_naming_the_key_and_why(key):
    data = {**REFUSED_EXAMPLES[key]}
    data["mydumper"] = {**SOURCE["mydumper"], **data.get("mydumper", {})}

    with pytest.raises(ConfigError) as caught:
        load_config(data=data)

    assert caught.value.key == key
    assert lightning_key(key).why in str(caught.value)


@pytest.mark.parametrize("key", ["ignore-data-columns", "ignore-columns"])
def test_a_refused_key_written_empty_asks_for_nothing_and_loads(key):
    config = load_config(data={"mydumper": {**SOURCE["mydumper"], key: []}})

    assert config.mydumper.ignore_data_columns == ()


def test_a_replacement_character_is_accepted_when_nothing_is_converted():
    config = load_config(data={"mydumper": {**SOURCE["mydumper"], "data-invalid-char-replace": "?"}})

    assert config.mydumper.data_invalid_char_replace == "?"


def test_a_replacement_character_is_used_as_written_where_a_charset_is_converted():
    config = load_config(data={"mydumper": {**SOURCE["mydumper"], "data-character-set": "gbk",
                                            "data-invalid-char-replace": "?"}})

    assert config.mydumper.data_invalid_char_replace == "?"


# ---- honoured: each group reaches the typed config ------------------------------------------------------


def test_lightning_keys_reach_the_config(full):
    app = full.lightning
    assert (app.region_concurrency, app.table_concurrency) == (3, 5)
    assert app.check_requirements is False
    assert app.max_error.type == 11
    assert app.task_info_schema_name == "import_errors"


def test_the_integer_form_of_max_error_counts_type_errors():
    config = load_config(data={**SOURCE, "lightning": {"max-error": 4}})

    assert config.lightning.max_error.type == 4


def test_tidb_keys_reach_the_config(full):
    tidb = full.tidb
    assert (tidb.host, tidb.port, tidb.user, tidb.password) == ("db.internal", 3307, "importer", "hunter2")
    assert tidb.sql_mode == "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
    assert dict(tidb.session_vars) == {"innodb_lock_wait_timeout": "120"}
    assert tidb.max_allowed_packet == 32 * 1024**2


def test_checkpoint_keys_reach_the_config(full):
    checkpoint = full.checkpoint
    assert checkpoint.enable is False and checkpoint.schema == "import_progress"
    assert checkpoint.driver == "mysql" and checkpoint.dsn == "checkpointer:s3cret@tcp(10.0.0.9:3306)/"
    assert checkpoint.keep_after_success is KeepAfterSuccess.ORIGIN


def test_mydumper_keys_reach_the_config(full):
    m = full.mydumper
    assert m.data_source_dir == "/srv/dumps/2026-12-07"
    assert (m.read_block_size, m.batch_size) == (128 * 1024, 50 * 1024**3)
    assert (m.character_set, m.data_character_set) == ("gb18030", "utf8mb4")
    assert m.max_region_size == 128 * 1024**2
    assert m.filter == ("shop.*", "!shop.audit_*")
    assert m.no_schema is True and m.case_sensitive is True and m.strict_format is True
    assert m.default_file_rules is True


def test_csv_keys_reach_the_config(full):
    csv = full.mydumper.csv
    assert (csv.separator, csv.delimiter, csv.terminator) == ("|", "'", "\r\n")
    assert csv.null == ("NULL", "\\N")
    assert csv.header is False and csv.header_schema_match is False
    assert csv.trim_last_separator is True and csv.not_null is True
    assert csv.backslash_escape is False and csv.escaped_by == "~"


def test_file_rules_reach_the_config(full):
    by_pattern, by_path = full.mydumper.files
    assert by_pattern.type == "csv" and by_pattern.key == "$3" and by_pattern.compression == "gz"
    assert (by_path.path, by_path.schema, by_path.table, by_path.key) == (
        "extra/orders.part1.sql",
        "shop",
        "orders",
        "1",
    )


def test_tikv_importer_keys_reach_the_config(full):
    importer = full.tikv_importer
    assert importer.backend is BackendKind.TIDB
    assert importer.parallel_import is True
    assert (importer.logical_import_batch_size, importer.logical_import_batch_rows) == (64 * 1024, 1000)
    assert importer.disk_quota == 200 * 1024**3
    assert importer.sorted_kv_dir == "/var/tmp/sorted-kv"


def test_deprecated_on_duplicate_sets_the_strategy_when_conflict_strategy_is_left_out():
    config = load_config(data={**SOURCE, "tikv-importer": {"on-duplicate": "ignore"}})

    assert config.conflict.strategy is ConflictStrategy.IGNORE


def test_deprecated_incremental_import_turns_on_parallel_import():
    config = load_config(data={**SOURCE, "tikv-importer": {"incremental-import": True}})

    assert config.tikv_importer.parallel_import is True


def test_post_restore_keys_reach_the_config(full):
    assert full.post_restore.checksum is PostOpLevel.OPTIONAL
    assert full.post_restore.analyze is PostOpLevel.REQUIRED


def test_routes_reach_the_config(full):
    assert full.routes == (RouteRule("shard_*", "orders_*", "shop", "orders"),)


def test_conflict_keys_reach_the_config(full):
    assert full.conflict.strategy is ConflictStrategy.REPLACE and full.conflict.threshold == 500


# ---- written keys ---------------------------------------------------------------------------------------


def test_written_keys_list_what_the_file_data_and_overrides_wrote():
    config = load_config(
        data={**SOURCE, "tidb": {"sql-mode": "ANSI"}},
        overrides={"routes": [{"schema-pattern": "a", "target-schema": "b"}]},
    )

    assert config.written("tidb.sql-mode")
    assert config.written("routes[0].target-schema")
    assert not config.written("tidb.port")


def test_a_sql_mode_equal_to_lightnings_default_counts_as_written():
    config = load_config(data={**SOURCE, "tidb": {"sql-mode": "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"}})

    assert config.written("tidb.sql-mode")
    assert not load_config(data=SOURCE).written("tidb.sql-mode")
