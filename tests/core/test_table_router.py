"""Table routes: renaming databases and tables, merging shards, Lightning's precedence."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.mydump.table_router import TableRouter


@dataclass(frozen=True)
class Route:
    """A [[routes]] entry shaped like the config module's."""

    schema_pattern: str
    table_pattern: str = ""
    target_schema: str = ""
    target_table: str = ""


SHARDS = Route("shard_db_*", "shard_table_*", "db", "tbl")


def test_without_rules_names_are_unchanged():
    assert TableRouter().route("Db", "T") == ("Db", "T")


@given(st.text(min_size=1), st.text())
def test_names_no_rule_matches_are_unchanged(schema, table):
    router = TableRouter([Route("~^never$", "", "x")])
    assert router.route(schema, table) == (schema, table)


def test_shards_are_merged_into_one_table():
    router = TableRouter([SHARDS])
    assert router.route("shard_db_1", "shard_table_07") == ("db", "tbl")
    assert router.route("shard_db_22", "shard_table_1") == ("db", "tbl")


def test_a_table_rule_leaves_other_tables_of_the_database_alone():
    router = TableRouter([SHARDS])
    assert router.route("shard_db_1", "config") == ("shard_db_1", "config")


def test_a_table_rule_does_not_route_the_database_itself():
    assert TableRouter([SHARDS]).route("shard_db_1", "") == ("shard_db_1", "")


def test_a_rule_with_only_a_schema_pattern_routes_the_database_and_all_its_tables():
    router = TableRouter([Route("shard_db_*", target_schema="db")])
    assert router.route("shard_db_3", "") == ("db", "")
    assert router.route("shard_db_3", "anything") == ("db", "anything")


def test_an_empty_target_table_keeps_the_tables_name():
    router = TableRouter([Route("old", "t*", "new")])
    assert router.route("old", "t1") == ("new", "t1")


def test_a_table_rule_beats_a_schema_rule():
    router = TableRouter([Route("shard_*", target_schema="all"), Route("shard_*", "log_*", "logs", "log")])
    assert router.route("shard_1", "log_2020") == ("logs", "log")
    assert router.route("shard_1", "users") == ("all", "users")


def test_two_matching_table_rules_are_a_config_error_naming_both():
    router = TableRouter([Route("a*", "t*", "x"), Route("ab", "t1", "y")])
    with pytest.raises(ConfigError, match=r"`ab`\.`t1` matches more than one rule: routes\[0\].*routes\[1\]"):
        router.route("ab", "t1")
    assert router.route("ac", "t1") == ("x", "t1")


def test_two_matching_schema_rules_are_a_config_error():
    router = TableRouter([Route("a*", target_schema="x"), Route("*b", target_schema="y")])
    with pytest.raises(ConfigError, match="matches more than one rule") as caught:
        router.route("ab", "")
    assert caught.value.key == "routes"


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("t?", "t1", True),
        ("t?", "t", False),
        ("t?", "t12", False),
        ("t[0-3]", "t2", True),
        ("t[0-3]", "t4", False),
        ("t[!0-3]", "t4", True),
        ("t[!0-3]", "t2", False),
        ("t[!]", "t!", True),
        ("t[]", "t", False),
        ("t[", "t[", True),  # a '[' that opens no set is itself
        ("t[z-a]", "tb", False),  # a reversed range holds nothing
        ("a*z", "abcz", True),
        ("a.b", "axb", False),  # '.' is not special
        ("*", "anything", True),
    ],
)
def test_wildcards(pattern, name, expected):
    router = TableRouter([Route("db", pattern, "routed")])
    assert (router.route("db", name)[0] == "routed") is expected


def test_a_tilde_pattern_is_a_go_regular_expression_matching_anywhere():
    router = TableRouter([Route(r"~^shard_\d+$", "~log", "logs")])
    assert router.route("shard_12", "access_log_1") == ("logs", "access_log_1")
    assert router.route("shard_x", "log") == ("shard_x", "log")


def test_patterns_ignore_case_by_default_but_targets_keep_theirs():
    router = TableRouter([Route("Shard_*", "T*", "MixedCase", "Tbl")])
    assert router.route("SHARD_1", "t1") == ("MixedCase", "Tbl")
    assert TableRouter([Route(r"~^SHARD_\D$", "", "x")]).route("shard_a", "t") == ("x", "t")


def test_patterns_can_be_case_sensitive():
    router = TableRouter([Route("Shard_*", "", "x")], case_sensitive=True)
    assert router.route("shard_1", "t") == ("shard_1", "t")
    assert router.route("Shard_1", "t") == ("x", "t")


@pytest.mark.parametrize(
    ("route", "key", "message"),
    [
        (Route("", "t", "x"), "routes[1].schema-pattern", "must not be empty"),
        (Route("db", "t", ""), "routes[1].target-schema", "must not be empty"),
        (Route("~(", "t", "x"), "routes[1].schema-pattern", "not a usable regular expression"),
        (Route("db", "~a**", "x"), "routes[1].table-pattern", "nested repetition"),
    ],
)
def test_invalid_rules_are_config_errors_naming_the_key(route, key, message):
    with pytest.raises(ConfigError, match=message) as caught:
        TableRouter([Route("ok", target_schema="ok"), route])
    assert caught.value.key == key
