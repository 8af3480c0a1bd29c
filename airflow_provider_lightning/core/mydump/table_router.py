"""Table routes (``[[routes]]``): rename source databases and tables, e.g. to merge shards into one table.

Each rule has a ``schema-pattern`` and an optional ``table-pattern``, and a ``target-schema`` and an
optional ``target-table``. Patterns are wildcards (``*`` any run of characters, ``?`` one character,
``[a-z]`` / ``[!a-z]`` a character in / not in the set), or a Go regular expression after ``~``
(``~^shard_[0-9]+$``, unanchored). A rule without ``table-pattern`` routes a whole database: the database and
all of its tables. An empty ``target-table`` keeps the table's name.

Precedence is Lightning's (``pkg/util/regexpr-router``): a rule with a table pattern beats one without;
a name that two rules of the same kind match is a configuration error, because which one was meant is a
guess. Unless ``mydumper.case-sensitive`` is set, patterns match regardless of case; target names are
used as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.mydump.router import compile_go_regexp


class RouteRuleLike(Protocol):
    """A ``[[routes]]`` entry as the configuration hands it over."""

    schema_pattern: str
    table_pattern: str
    target_schema: str
    target_table: str


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One ``[[routes]]`` entry."""

    schema_pattern: str
    table_pattern: str = ""
    target_schema: str = ""
    target_table: str = ""


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    index: int
    rule: RouteRule
    schema: re.Pattern[str]
    table: re.Pattern[str] | None  # None: the rule routes whole databases

    def describe(self) -> str:
        rule = self.rule
        source = f"schema-pattern={rule.schema_pattern!r}"
        if rule.table_pattern:
            source += f", table-pattern={rule.table_pattern!r}"
        return f"routes[{self.index}] ({source})"


class TableRouter:
    """Maps source (database, table) names to target names by ``[[routes]]`` rules.

    :param rules: objects with ``schema_pattern``, ``table_pattern``, ``target_schema``, ``target_table``.
    :param case_sensitive: match patterns exactly; by default case is ignored, as in Lightning.
    :raises ConfigError: a rule is invalid, naming ``routes[i].<key>``.
    """

    def __init__(self, rules: Iterable[RouteRuleLike] = (), *, case_sensitive: bool = False) -> None:
        self._case_sensitive = case_sensitive
        self._rules = tuple(self._compile(i, rule) for i, rule in enumerate(rules))

    def _compile(self, index: int, given: RouteRuleLike) -> _CompiledRoute:
        rule = RouteRule(
            schema_pattern=_text(given, "schema_pattern"),
            table_pattern=_text(given, "table_pattern"),
            target_schema=_text(given, "target_schema"),
            target_table=_text(given, "target_table"),
        )
        if not rule.schema_pattern:
            raise ConfigError(f"routes[{index}].schema-pattern", "must not be empty")
        if not rule.target_schema:
            raise ConfigError(
                f"routes[{index}].target-schema", "must not be empty: name the database to route into"
            )
        schema = self._pattern(rule.schema_pattern, f"routes[{index}].schema-pattern")
        table = None
        if rule.table_pattern:
            table = self._pattern(rule.table_pattern, f"routes[{index}].table-pattern")
        return _CompiledRoute(index, rule, schema, table)

    def _pattern(self, pattern: str, key: str) -> re.Pattern[str]:
        if pattern.startswith("~"):
            try:
                return compile_go_regexp(pattern[1:], ignore_case=not self._case_sensitive)
            except ValueError as exc:
                raise ConfigError(key, f"{pattern!r} is not a usable regular expression: {exc}") from None
        flags = re.DOTALL | (0 if self._case_sensitive else re.IGNORECASE)
        return re.compile("^" + _wildcard_to_regex(pattern) + r"\Z", flags)

    def route(self, schema: str, table: str) -> tuple[str, str]:
        """The target (database, table) of a source table; pass ``table=""`` for a database.

        :raises ConfigError: two rules of the same kind match the name (key ``routes``).
        """
        schema_rules: list[_CompiledRoute] = []
        table_rules: list[_CompiledRoute] = []
        for rule in self._rules:
            if rule.schema.search(schema) is None:
                continue
            if rule.table is None:
                schema_rules.append(rule)
            elif table and rule.table.search(table) is not None:
                table_rules.append(rule)
        chosen = table_rules or schema_rules
        if not chosen:
            return schema, table
        if len(chosen) > 1:
            name = f"`{schema}`.`{table}`" if table else f"`{schema}`"
            raise ConfigError(
                "routes",
                f"{name} matches more than one rule: {chosen[0].describe()} and {chosen[1].describe()}; "
                "make the patterns exclusive so that one rule decides",
            )
        target = chosen[0].rule
        return target.target_schema or schema, target.target_table or table


def _text(rule: RouteRuleLike, name: str) -> str:
    value = getattr(rule, name, None)
    return "" if value is None else str(value)


def _wildcard_to_regex(pattern: str) -> str:
    """Lightning's route wildcard as a Python regular expression (without the end anchor).

    ``[`` opens a set up to the next ``]`` (``[`` without a ``]`` is itself); inside, ``!`` first negates
    and ``a-z`` is a range. There are no escapes.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and (close := pattern.find("]", i + 1)) >= 0:
            out.append(_bracket(pattern[i + 1 : close]))
            i = close
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _bracket(body: str) -> str:
    negated = body.startswith("!")
    if negated:
        body = body[1:]
        if not body:  # `[!]` is the character '!'
            return "!"
    parts: list[str] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = body[k], body[k + 2]
            if low <= high:  # a reversed range holds no character
                parts.append(f"{_member(low)}-{_member(high)}")
            k += 3
        else:
            parts.append(_member(body[k]))
            k += 1
    if not parts:  # `[]`: no character; `[!]` handled above
        return "." if negated else "(?!)"
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


def _member(ch: str) -> str:
    return "\\" + ch if ch in "\\]-[^&|~" else re.escape(ch) if ch == "\n" else ch
