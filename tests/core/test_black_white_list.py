"""Specification of the deprecated ``[black-white-list]``: loaded as Lightning loads it and applied as
Lightning's ``ParseMySQLReplicationRules`` filter (pkg/util/table-filter/compat.go)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_lightning.core.config import BlackWhiteList, TableName, load_config
from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.mydump.table_filter import DEFAULT_FILTER, BlackWhiteListFilter

SOURCE = {"mydumper": {"data-source-dir": "/srv/dumps/nightly"}}


def bwl(**rules) -> BlackWhiteListFilter:
    case_sensitive = rules.pop("case_sensitive", False)
    for key in ("do_tables", "ignore_tables"):
        rules[key] = tuple(TableName(db, tbl) for db, tbl in rules.get(key, ()))
    for key in ("do_dbs", "ignore_dbs"):
        rules[key] = tuple(rules.get(key, ()))
    return BlackWhiteListFilter(BlackWhiteList(**rules), case_sensitive=case_sensitive)


# ---- loading --------------------------------------------------------------------------------------------


def test_the_section_loads_into_the_typed_config():
    config = load_config(
        data={
            **SOURCE,
            "black-white-list": {
                "do-dbs": ["shop"],
                "ignore-dbs": ["tmp"],
                "do-tables": [{"db-name": "shop", "tbl-name": "orders"}],
                "ignore-tables": [{"db-name": "shop", "tbl-name": "log_*"}],
            },
        }
    )

    assert config.black_white_list == BlackWhiteList(
        do_dbs=("shop",),
        ignore_dbs=("tmp",),
        do_tables=(TableName("shop", "orders"),),
        ignore_tables=(TableName("shop", "log_*"),),
    )


def test_loading_it_warns_that_it_is_deprecated(caplog):
    with caplog.at_level(logging.WARNING, logger="airflow_provider_lightning.core.config"):
        load_config(data={**SOURCE, "black-white-list": {"do-dbs": ["shop"]}})

    assert "[black-white-list] is deprecated" in caplog.text and "mydumper.filter" in caplog.text


def test_it_cannot_be_combined_with_a_filter_of_ones_own():
    with pytest.raises(ConfigError) as caught:
        load_config(
            data={
                "mydumper": {**SOURCE["mydumper"], "filter": ["shop.*"]},
                "black-white-list": {"do-dbs": ["a"]},
            }
        )

    assert caught.value.key == "black-white-list"
    assert "mydumper.filter" in str(caught.value)


def test_a_filter_written_out_as_the_default_may_go_with_it():
    config = load_config(
        data={
            "mydumper": {**SOURCE["mydumper"], "filter": list(DEFAULT_FILTER)},
            "black-white-list": {"do-dbs": ["a"]},
        }
    )

    assert config.black_white_list.do_dbs == ("a",)


def test_a_table_entry_without_a_name_is_refused_naming_it():
    with pytest.raises(ConfigError) as caught:
        load_config(data={**SOURCE, "black-white-list": {"do-tables": [{"db-name": "shop"}]}})

    assert caught.value.key == "black-white-list.do-tables[0].tbl-name"


def test_to_dict_round_trips_it():
    config = load_config(
        data={**SOURCE, "black-white-list": {"ignore-tables": [{"db-name": "a", "tbl-name": "b"}]}}
    )

    assert load_config(data=config.to_dict(redact=False)) == config


# ---- matching -------------------------------------------------------------------------------------------


def test_do_dbs_lets_only_those_databases_through():
    f = bwl(do_dbs=["shop"])

    assert f.matches("shop", "orders") and not f.matches("crm", "orders")


def test_ignore_dbs_keeps_those_databases_out():
    f = bwl(ignore_dbs=["tmp*"])

    assert f.matches("shop", "orders") and not f.matches("tmp_1", "x")


def test_do_dbs_wins_over_ignore_dbs():
    f = bwl(do_dbs=["shop"], ignore_dbs=["shop"])

    assert f.matches("shop", "orders")


def test_do_tables_lets_only_those_tables_through():
    f = bwl(do_tables=[("shop", "orders")])

    assert f.matches("shop", "orders") and not f.matches("shop", "customers")


def test_ignore_tables_keeps_those_tables_out():
    f = bwl(ignore_tables=[("shop", "log_?")])

    assert f.matches("shop", "orders") and not f.matches("shop", "log_1") and f.matches("shop", "log_12")


def test_a_table_must_pass_both_the_database_and_the_table_rules():
    f = bwl(do_dbs=["shop"], do_tables=[("crm", "orders"), ("shop", "orders")])

    assert f.matches("shop", "orders")
    assert not f.matches("crm", "orders")  # passes do-tables, not do-dbs


def test_a_tilde_pattern_is_an_unanchored_regular_expression():
    f = bwl(do_dbs=["~^shop_[0-9]+"])

    assert f.matches("shop_12", "t") and f.matches("shop_1x", "t") and not f.matches("old_shop_1", "t")


def test_a_wildcard_matches_the_whole_name_and_knows_negated_classes():
    f = bwl(do_tables=[("s", "t[!0-9]")])

    assert f.matches("s", "ta") and not f.matches("s", "t1") and not f.matches("s", "tab")


def test_a_dot_in_a_wildcard_is_literal():
    f = bwl(do_dbs=["a.b*"])

    assert f.matches("a.bc", "t") and not f.matches("axbc", "t")


def test_names_compare_without_case_unless_case_sensitive():
    assert bwl(do_dbs=["Shop"]).matches("SHOP", "t")
    assert not bwl(do_dbs=["Shop"], case_sensitive=True).matches("SHOP", "t")


def test_a_database_schema_file_passes_on_the_database_rule_alone():
    f = bwl(do_dbs=["shop"], do_tables=[("shop", "orders")])

    assert f.matches_schema("shop") and not f.matches_schema("crm")
