"""Lightning's table filter (``mydumper.filter``): which source tables take part in the import.

A rule is ``schema.table``, each side a pattern:

- a wildcard: ``*`` (any run of characters), ``?`` (one character), ``[a-z]`` / ``[!a-z]`` (a character in /
  not in the set); letters, digits, ``_``, ``$`` and non-ASCII characters stand for themselves, any other
  character must be escaped with ``\\`` (``db\\-1.t``) or the name quoted;
- a quoted name in backquotes or double quotes, ``"db.1"`` (a doubled quote stands for itself);
- a regular expression between slashes, ``/^db_\\d+$/`` (Go syntax, unanchored).

A rule starting with ``!`` excludes what it matches. Rules are read in order and the **last** rule that
matches a table decides; a table no rule matches is excluded. Empty rules and ``#`` comments are skipped.
Like Lightning, matching is case-insensitive unless ``mydumper.case-sensitive`` is set.

Not supported: ``@file`` (reading rules from a file); list the rules in ``mydumper.filter`` instead.

:class:`BlackWhiteListFilter` applies the deprecated ``[black-white-list]`` instead, when a config has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.mydump.router import compile_go_regexp

FILTER_KEY = "mydumper.filter"

DEFAULT_FILTER: tuple[str, ...] = (
    "*.*",
    "!mysql.*",
    "!sys.*",
    "!INFORMATION_SCHEMA.*",
    "!PERFORMANCE_SCHEMA.*",
    "!METRICS_SCHEMA.*",
    "!INSPECTION_SCHEMA.*",
)


@dataclass(frozen=True, slots=True)
class _NamePattern:
    """One side of a rule. ``literal`` is set for a plain name, ``regex`` otherwise."""

    literal: str | None
    regex: re.Pattern[str] | None
    search: bool  # a /regex/ matches anywhere; a wildcard must match the whole name
    matches_everything: bool

    def matches(self, name: str) -> bool:
        if self.literal is not None:
            return self.literal == name
        assert self.regex is not None
        if self.search:
            return self.regex.search(name) is not None
        return self.regex.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class _Rule:
    schema: _NamePattern
    table: _NamePattern
    include: bool


class TableFilter:
    """Decides which tables (and databases) of the source are imported.

    :param rules: filter rules, e.g. :data:`DEFAULT_FILTER` or ``config.mydumper.filter``.
    :param case_sensitive: compare names exactly; by default case is ignored, as in Lightning.
    :raises ConfigError: a rule cannot be parsed (key ``mydumper.filter``, naming the rule).
    """

    def __init__(self, rules: Iterable[str] = DEFAULT_FILTER, *, case_sensitive: bool = False) -> None:
        if isinstance(rules, str):
            raise ConfigError(FILTER_KEY, f"must be a list of rules such as [{rules!r}], not a single string")
        self._case_sensitive = case_sensitive
        parsed: list[_Rule] = []
        for index, text in enumerate(rules):
            rule = _RuleParser(text, index, case_sensitive).parse()
            if rule is not None:
                parsed.append(rule)
        # the last matching rule decides, so look at them last-first
        self._rules = tuple(reversed(parsed))

    def _fold(self, name: str) -> str:
        return name if self._case_sensitive else name.lower()

    def matches(self, schema: str, table: str) -> bool:
        """Whether the table ``schema.table`` is imported."""
        schema, table = self._fold(schema), self._fold(table)
        for rule in self._rules:
            if rule.schema.matches(schema) and rule.table.matches(table):
                return rule.include
        return False

    def matches_schema(self, schema: str) -> bool:
        """Whether the database ``schema`` is imported at all (for its ``-schema-create.sql`` file).

        A database is excluded only by a rule that excludes all of its tables (``!db.*``); an exclusion
        of some tables (``!db.t``) leaves the database in.
        """
        schema = self._fold(schema)
        for rule in self._rules:
            if rule.schema.matches(schema) and (rule.include or rule.table.matches_everything):
                return rule.include
        return False


_REGEX_PATTERN = re.compile(r"/(?:\\.|[^/])+/")
_DOUBLE_QUOTED = re.compile(r'"(?:""|[^"])+"')
_BACKQUOTED = re.compile(r"`(?:``|[^`])+`")


def _strip_unescaped(text: str) -> str:
    """``text`` without surrounding blanks, keeping a blank escaped by a backslash (``t\\ ``)."""
    stripped = text.strip(" \t")
    backslashes = len(stripped) - len(stripped.rstrip("\\"))
    if backslashes % 2 and stripped:
        end = len(text) - len(text.lstrip(" \t")) + len(stripped)
        stripped += text[end : end + 1]
    return stripped


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class _RuleParser:
    def __init__(self, text: str, index: int, case_sensitive: bool) -> None:
        self.text = text
        self.index = index
        self.case_sensitive = case_sensitive

    def error(self, reason: str) -> ConfigError:
        return ConfigError(FILTER_KEY, f"rule {self.index + 1} ({self.text!r}): {reason}")

    def parse(self) -> _Rule | None:
        line = _strip_unescaped(self.text)
        if not line or line.startswith("#"):
            return None
        include = True
        if line.startswith("@"):
            raise self.error(
                "reading filter rules from a file (@file) is not supported; list the rules in mydumper.filter"
            )
        if line.startswith("!"):
            include = False
            line = line[1:]
        schema, rest = self.pattern(line)
        if not rest:
            raise self.error("a rule is 'schema.table': the '.' and the table pattern are missing")
        if rest[0] != ".":
            raise self.error(f"unexpected {rest[0]!r} after the schema pattern; a rule is 'schema.table'")
        table, rest = self.pattern(rest[1:])
        if rest:
            raise self.error(
                f"unexpected {rest!r} after the table pattern; quote names that contain '.' (`a.b`)"
            )
        return _Rule(schema, table, include)

    def pattern(self, text: str) -> tuple[_NamePattern, str]:
        """The pattern at the start of ``text`` and what follows it."""
        if not text:
            raise self.error("a pattern is missing")
        if text[0] == "/":
            found = _REGEX_PATTERN.match(text)
            if found is None:
                raise self.error("a regular expression is not closed by '/'")
            source = found.group(0)[1:-1]
            try:
                regex = compile_go_regexp(source, ignore_case=not self.case_sensitive)
            except ValueError as exc:
                raise self.error(f"/{source}/ is not a usable regular expression: {exc}") from None
            return _NamePattern(None, regex, search=True, matches_everything=False), text[found.end() :]
        if text[0] in "`\"":
            quoted = (_BACKQUOTED if text[0] == "`" else _DOUBLE_QUOTED).match(text)
            if quoted is None:
                raise self.error(f"a quoted name is not closed by {text[0]}")
            quote = text[0]
            name = quoted.group(0)[1:-1].replace(quote * 2, quote)
            return self.literal(name), text[quoted.end() :]
        return self.wildcard(text)

    def literal(self, name: str) -> _NamePattern:
        return _NamePattern(name if self.case_sensitive else name.lower(), None, False, False)

    def wildcard(self, text: str) -> tuple[_NamePattern, str]:
        literal: list[str] = []
        regex: list[str] = []
        is_literal = True
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == ".":
                break
            if ch == "\\":
                if i + 1 >= len(text):
                    raise self.error("a '\\' at the end of the rule escapes nothing")
                escaped = text[i + 1]
                if _is_ascii_alnum(escaped):
                    raise self.error(
                        f"letters and digits cannot be escaped ('\\{escaped}'); write them plainly"
                    )
                literal.append(escaped)
                regex.append(re.escape(escaped))
                i += 2
            elif ch == "*":
                is_literal = False
                regex.append(".*")
                i += 1
            elif ch == "?":
                is_literal = False
                regex.append(".")
                i += 1
            elif ch == "[":
                is_literal = False
                bracket, i = self.bracket(text, i)
                regex.append(bracket)
            elif ch in "$_" or _is_ascii_alnum(ch) or not ch.isascii():
                literal.append(ch)
                regex.append(re.escape(ch))
                i += 1
            else:
                raise self.error(
                    f"unexpected {ch!r}; escape it with a backslash or quote the name with backquotes"
                )
        rest = text[i:]
        if is_literal:
            return self.literal("".join(literal)), rest
        flags = re.DOTALL | (0 if self.case_sensitive else re.IGNORECASE)
        try:
            compiled = re.compile("".join(regex), flags)
        except re.error as exc:
            raise self.error(f"not a usable pattern: {exc.msg}") from None
        everything = text[:i] == "*"
        return _NamePattern(None, compiled, search=False, matches_everything=everything), rest

    def bracket(self, text: str, start: int) -> tuple[str, int]:
        """Translate the ``[...]`` at ``text[start]``; returns the Python class and the index after it."""
        i = start + 1
        negated = text.startswith("!", i) and i + 1 < len(text) and text[i + 1] != "]"
        if negated:
            i += 1
        members: list[tuple[str, bool]] = []  # (character, escaped)
        while True:
            if i >= len(text):
                raise self.error("a character class '[' is not closed by ']'")
            ch = text[i]
            if ch == "]":
                if not members:
                    raise self.error("empty character class '[]'")
                i += 1
                break
            if ch == "\\":
                if i + 1 >= len(text) or _is_ascii_alnum(text[i + 1]):
                    raise self.error("in a character class, '\\' escapes only punctuation")
                members.append((text[i + 1], True))
                i += 2
            else:
                members.append((ch, False))
                i += 1
        parts: list[str] = []
        k = 0
        while k < len(members):
            low = members[k][0]
            is_range = k + 2 < len(members) and members[k + 1] == ("-", False)
            if is_range:
                high = members[k + 2][0]
                if high < low:
                    raise self.error(f"invalid character range {low}-{high}")
                parts.append(f"{_class_member(low)}-{_class_member(high)}")
                k += 3
            else:
                parts.append(_class_member(low))
                k += 1
        return "[" + ("^" if negated else "") + "".join(parts) + "]", i


def _class_member(ch: str) -> str:
    return "\\" + ch if ch in "\\]-[^&|~" else re.escape(ch) if ch == "\n" else ch


class BlackWhiteListFilter:
    """The deprecated ``[black-white-list]`` filter (MySQL replication rules), as Lightning still applies it.

    A table is imported when it passes both the database rule and the table rule. The database rule is
    ``do-dbs`` if given (the database matches one of them), otherwise ``ignore-dbs`` (it matches none);
    the table rule is ``do-tables`` if given, otherwise ``ignore-tables``, each entry a ``db-name`` and a
    ``tbl-name``. A pattern is a literal name, a wildcard (``*``, ``?``, ``[a-z]``, ``[!a-z]``) matching the
    whole name, or ``~`` and a Go regular expression matching anywhere in it. Like Lightning, names compare
    case-insensitively unless ``mydumper.case-sensitive`` is set.

    :param rules: an object with ``do_dbs``, ``ignore_dbs`` (patterns) and ``do_tables``, ``ignore_tables``
        (objects with ``db_name`` and ``tbl_name``), such as ``config.black_white_list``.
    :raises ConfigError: a pattern cannot be compiled (naming ``black-white-list.<key>``).
    """

    _KEY = "black-white-list"

    def __init__(self, rules: Any, *, case_sensitive: bool = False) -> None:
        self._case_sensitive = case_sensitive
        if rules.do_dbs:
            self._dbs_include, key, dbs = True, "do-dbs", rules.do_dbs
        else:
            self._dbs_include, key, dbs = False, "ignore-dbs", rules.ignore_dbs
        self._dbs = tuple(self._pattern(p, f"{self._KEY}.{key}[{i}]") for i, p in enumerate(dbs))
        if rules.do_tables:
            self._tables_include, key, tables = True, "do-tables", rules.do_tables
        else:
            self._tables_include, key, tables = False, "ignore-tables", rules.ignore_tables
        self._tables = tuple(
            (
                self._pattern(t.db_name, f"{self._KEY}.{key}[{i}].db-name"),
                self._pattern(t.tbl_name, f"{self._KEY}.{key}[{i}].tbl-name"),
            )
            for i, t in enumerate(tables)
        )

    def _pattern(self, pattern: str, key: str) -> Callable[[str], bool]:
        flags = 0 if self._case_sensitive else re.IGNORECASE
        if pattern.startswith("~"):
            try:
                regex = compile_go_regexp(pattern[1:], ignore_case=not self._case_sensitive)
            except (re.error, ValueError) as error:
                raise ConfigError(key, f"{pattern!r} is not a usable regular expression: {error}") from None
            return lambda name: regex.search(name) is not None
        if not any(ch in pattern for ch in "?*["):
            literal = pattern if self._case_sensitive else pattern.lower()
            return lambda name: (name if self._case_sensitive else name.lower()) == literal
        # A legacy wildcard: only *, ? and [..] / [!..] are special; everything else is literal.
        parts: list[str] = []
        index = 0
        while index < len(pattern):
            ch = pattern[index]
            if ch == "*":
                parts.append(".*")
            elif ch == "?":
                parts.append(".")
            elif ch == "[":
                end = pattern.find("]", index + 1)
                if end < 0:
                    raise ConfigError(key, f"{pattern!r} has a '[' without its ']'")
                body = pattern[index + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                parts.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                index = end
            else:
                parts.append(re.escape(ch))
            index += 1
        try:
            regex = re.compile("".join(parts), flags | re.DOTALL)
        except re.error as error:
            raise ConfigError(key, f"{pattern!r} is not a usable wildcard: {error}") from None
        return lambda name: regex.fullmatch(name) is not None

    def matches_schema(self, schema: str) -> bool:
        """Whether the database passes the database rule (for its ``-schema-create.sql`` file)."""
        if self._dbs_include:
            return any(match(schema) for match in self._dbs)
        return not any(match(schema) for match in self._dbs)

    def matches(self, schema: str, table: str) -> bool:
        """Whether the table ``schema.table`` is imported: it passes the database and the table rules."""
        if not self.matches_schema(schema):
            return False
        found = any(db(schema) and tbl(table) for db, tbl in self._tables)
        return found if self._tables_include else not found
