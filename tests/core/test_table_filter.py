"""Lightning's table filter: wildcards, quoting, regexps, exclusions, last rule wins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.mydump.table_filter import DEFAULT_FILTER, TableFilter

identifiers = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)


def matches(rules: list[str], schema: str, table: str, **kwargs) -> bool:
    return TableFilter(rules, **kwargs).matches(schema, table)


def test_the_default_filter_is_lightnings():
    assert DEFAULT_FILTER == (
        "*.*",
        "!mysql.*",
        "!sys.*",
        "!INFORMATION_SCHEMA.*",
        "!PERFORMANCE_SCHEMA.*",
        "!METRICS_SCHEMA.*",
        "!INSPECTION_SCHEMA.*",
    )


@pytest.mark.parametrize(
    ("schema", "table", "imported"),
    [
        ("shop", "orders", True),
        ("mysql", "user", False),
        ("sys", "x", False),
        ("information_schema", "tables", False),
        ("Performance_Schema", "threads", False),
        ("metrics_schema", "up", False),
        ("inspection_schema", "x", False),
        ("mysql2", "user", True),
    ],
)
def test_the_default_filter_leaves_out_system_schemas(schema, table, imported):
    assert TableFilter().matches(schema, table) is imported


@pytest.mark.parametrize(
    ("rule", "schema", "table", "expected"),
    [
        ("db.t", "db", "t", True),
        ("db.t", "db", "t2", False),
        ("db*.t", "db_1", "t", True),
        ("db*.t", "xdb", "t", False),
        ("db.t?", "db", "t1", True),
        ("db.t?", "db", "t", False),
        ("db.t?", "db", "t12", False),
        ("db.[a-c]x", "db", "bx", True),
        ("db.[a-c]x", "db", "dx", False),
        ("db.[!a-c]x", "db", "dx", True),
        ("db.[!a-c]x", "db", "ax", False),
        ("db.[^a]", "db", "^", True),  # '^' is not a negation in a wildcard
        ("db.[^a]", "db", "b", False),
        ("db.*", "db", "", True),
        ("*.*", "any", "thing", True),
        ("$db_1.t$", "$db_1", "t$", True),
        ("数据库.表", "数据库", "表", True),
    ],
)
def test_wildcards(rule, schema, table, expected):
    assert matches([rule], schema, table) is expected


@pytest.mark.parametrize(
    ("rule", "schema", "table"),
    [
        ("`a.b`.`c.d`", "a.b", "c.d"),
        ('"a.b"."c.d"', "a.b", "c.d"),
        ("`a``b`.t", "a`b", "t"),
        ('"a""b".t', 'a"b', "t"),
        ("`*`.t", "*", "t"),
        (r"db\-1.t\.x", "db-1", "t.x"),
        (r"db\*.t", "db*", "t"),
        ("db.t\\ ", "db", "t "),  # an escaped blank at the end is kept
    ],
)
def test_quoted_and_escaped_names_are_literal(rule, schema, table):
    assert matches([rule], schema, table)


def test_a_quoted_star_is_not_a_wildcard():
    assert not matches(["`*`.t"], "db", "t")


@given(schema=identifiers, table=identifiers)
def test_any_backquoted_name_matches_exactly_itself(schema, table):
    def quoted(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    table_filter = TableFilter([f"{quoted(schema)}.{quoted(table)}"], case_sensitive=True)
    assert table_filter.matches(schema, table)
    assert not table_filter.matches(schema + "x", table)
    assert not table_filter.matches(schema, "x" + table)


@given(schema=identifiers, table=identifiers)
def test_any_name_with_its_punctuation_escaped_matches_exactly_itself(schema, table):
    def escaped(name: str) -> str:
        return "".join(ch if ch.isalnum() or not ch.isascii() or ch in "$_" else "\\" + ch for ch in name)

    table_filter = TableFilter([f"{escaped(schema)}.{escaped(table)}"], case_sensitive=True)
    assert table_filter.matches(schema, table)
    assert not table_filter.matches(schema, table + "x")


def test_a_regexp_pattern_searches_anywhere_in_the_name():
    assert matches(["/^shard_[0-9]+$/./log/"], "shard_12", "access_log_2020")
    assert not matches(["/^shard_[0-9]+$/.*"], "shard_x", "t")


def test_a_regexp_may_contain_an_escaped_slash():
    assert matches([r"/a\/b/.*"], "a/b", "t")


def test_the_last_matching_rule_decides():
    rules = ["db.*", "!db.secret*", "db.secret_but_public"]
    assert matches(rules, "db", "orders")
    assert not matches(rules, "db", "secret_keys")
    assert matches(rules, "db", "secret_but_public")


def test_an_exclusion_before_a_broader_inclusion_has_no_effect():
    assert matches(["!db.t", "*.*"], "db", "t")


def test_a_table_no_rule_matches_is_excluded():
    assert not matches(["db.t"], "other", "t")
    assert not TableFilter([]).matches("db", "t")


def test_matching_ignores_case_by_default():
    assert matches(["DB.Orders"], "db", "ORDERS")
    assert matches(["db.[A-C]*"], "DB", "bar")
    assert matches(["/^SHARD/.*"], "shard_1", "t")
    assert not matches(["!MYSQL.*", "*.*"][::-1], "mysql", "user")


def test_matching_can_be_case_sensitive():
    assert not matches(["DB.Orders"], "db", "orders", case_sensitive=True)
    assert matches(["DB.Orders"], "DB", "Orders", case_sensitive=True)


def test_comments_and_blank_rules_are_skipped():
    assert matches(["# all of db", "   ", "\tdb.*  "], "db", "t")


@pytest.mark.parametrize(
    ("rules", "schema", "included"),
    [
        (["db.t"], "db", True),
        (["*.*", "!db.*"], "db", False),
        (["*.*", "!db.t"], "db", True),  # excluding one table keeps the database
        (["*.*", "!db*.*"], "db1", False),
        (["other.*"], "db", False),
        (["*.*", "!db.*", "db.t"], "db", True),
        (list(DEFAULT_FILTER), "mysql", False),
        (list(DEFAULT_FILTER), "shop", True),
    ],
)
def test_a_database_is_in_unless_a_rule_excludes_all_its_tables(rules, schema, included):
    assert TableFilter(rules).matches_schema(schema) is included


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("db", "'.' and the table pattern are missing"),
        ("db.", "a pattern is missing"),
        ("db.t.x", "unexpected '.x' after the table pattern"),
        ("db-1.t", "unexpected '-'"),
        ("db.t u", "unexpected ' '"),
        (r"db.\a", "letters and digits cannot be escaped"),
        ("db.t\\", "escapes nothing"),
        ("`db.t", "not closed by `"),
        ('"db".t"', "unexpected"),
        ("/db.t", "not closed by '/'"),
        ("/(/.t", "not a usable regular expression"),
        ("db.[a-", "not closed by ']'"),
        ("db.[]", "empty character class"),
        ("db.[z-a]", "invalid character range"),
        ("@rules.txt", "@file) is not supported"),
    ],
)
def test_bad_rules_are_config_errors_naming_the_rule(rule, message):
    with pytest.raises(ConfigError) as caught:
        TableFilter(["*.*", rule])
    assert caught.value.key == "mydumper.filter"
    assert f"rule 2 ({rule!r})" in str(caught.value)
    assert message in str(caught.value)


def test_a_single_string_instead_of_a_list_is_a_config_error():
    with pytest.raises(ConfigError, match="must be a list of rules"):
        TableFilter("*.*")
