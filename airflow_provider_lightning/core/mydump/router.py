"""File routing: which table a source file belongs to, and what kind of file it is.

A :class:`FileRouter` tries ``[[mydumper.files]]`` rules first and then, when ``default-file-rules`` is on,
Lightning's built-in rules for mydumper and Dumpling layouts. The first rule whose regular expression
matches the file's path (relative to the data source, ``/``-separated) decides; its templates (``$1``,
``${1}``, ``$name``, ``${name}``, ``$$``) are expanded from the match into the schema, table, type, sort key
and compression of the file.

Rules are written in Go's regular expression syntax (RE2), as in Lightning's configuration files;
:func:`compile_go_regexp` translates them to Python's :mod:`re` with the same meaning, and refuses what
Go would refuse (backreferences, lookaround) or what has no Python equivalent.
"""

from __future__ import annotations

import enum
import logging
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_lightning.core.errors import ConfigError, SourceError, printable
from airflow_provider_lightning.core.storage import Compression

log = logging.getLogger(__name__)


class SourceType(enum.IntEnum):
    """What a source file holds; numbers are Lightning's (``mydump.SourceType``)."""

    IGNORE = 0
    SCHEMA_SCHEMA = 1
    TABLE_SCHEMA = 2
    SQL = 3
    CSV = 4
    PARQUET = 5
    VIEW_SCHEMA = 6
    # Not Lightning's: triggers, stored routines and events a dumper wrote (mydumper -G -R -E). Listed by
    # the precheck and not imported, so they never fire or run during the import.
    SCHEMA_OBJECTS = 7

    @classmethod
    def parse(cls, label: str) -> SourceType:
        """Map a ``[[mydumper.files]] type`` value (``"table-schema"``, ``"csv"``, ...) to a SourceType."""
        wanted = label.strip().lower()
        for member in cls:
            if member.label == wanted:
                return member
        allowed = ", ".join(repr(m.label) for m in cls)
        raise ValueError(f"unknown file type {label!r}; allowed: {allowed}")

    @property
    def label(self) -> str:
        """The name Lightning's configuration uses for this type."""
        return self.name.lower().replace("_", "-")

    @property
    def is_data(self) -> bool:
        return self in (SourceType.SQL, SourceType.CSV, SourceType.PARQUET)

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Where a file goes. ``table`` is empty for a database schema file (``schema-schema``)."""

    schema: str
    table: str
    type: SourceType
    key: str
    compression: Compression


@dataclass(frozen=True, slots=True)
class FileRouteRule:
    """One file routing rule, a ``[[mydumper.files]]`` entry or a built-in one: which files (``pattern``
    regexp or literal ``path``) hold what.

    Exactly one of ``pattern`` and ``path`` is set; ``path`` is relative to ``data-source-dir``. ``schema``,
    ``table``, ``type``, ``key`` and ``compression`` are Go regexp templates (``$1``, ``${name}``) for a
    ``pattern`` rule and literals for a ``path`` rule; the configuration lower-cases literal types and
    compressions.
    """

    pattern: str | None = None
    path: str | None = None
    schema: str = ""
    table: str = ""
    type: str = ""
    key: str = ""
    compression: str = ""


# Lightning's `defaultFileRouteRules` (pkg/lightning/mydump/router.go), in the same order, after three rules
# of ours for the trigger, routine and event files of mydumper's -G -R -E: Lightning ignores only the
# singular "-schema-trigger.sql", so mydumper's "db.t-schema-triggers.sql" became a data file of a table
# "t-schema-triggers" there. Their schema and table names are percent-decoded (Dumpling escapes special
# characters in the names it puts into file names); the names of [[mydumper.files]] rules are taken as
# they are, as in Lightning.
DEFAULT_FILE_ROUTE_RULES: tuple[FileRouteRule, ...] = (
    # {db}.{table}-schema-triggers.sql[.{compression}]: a table's triggers (mydumper 0.9 to today, -G);
    # also the singular -schema-trigger.sql Lightning's own rule names
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)-schema-triggers?\.sql(?:\.(\w*?))?$",
        schema="$1",
        table="$2",
        type="schema-objects",
        compression="$3",
    ),
    # {db}-schema-triggers.sql[.{compression}]: a database's triggers in one file (current mydumper)
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)-schema-triggers?\.sql(?:\.(\w*?))?$",
        schema="$1",
        type="schema-objects",
        compression="$2",
    ),
    # {db}-schema-post.sql[.{compression}]: a database's stored procedures, functions and events (-R -E)
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)-schema-post\.sql(?:\.(\w*?))?$",
        schema="$1",
        type="schema-objects",
        compression="$2",
    ),
    # other trigger and post-import files (Lightning's rule; names the three rules above do not read)
    FileRouteRule(pattern=r"(?i).*(-schema-trigger|-schema-post)\.sql(?:\.(\w*?))?$", type="ignore"),
    # backup copies
    FileRouteRule(pattern=r"(?i).*\.(sql|csv|parquet)(\.(\w+))?\.(bak|BAK)$", type="ignore"),
    # {db}-schema-create.sql[.{compression}]
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)-schema-create\.sql(?:\.(\w*?))?$",
        schema="$1",
        type="schema-schema",
        compression="$2",
    ),
    # {db}.{table}-schema.sql[.{compression}]
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)-schema\.sql(?:\.(\w*?))?$",
        schema="$1",
        table="$2",
        type="table-schema",
        compression="$3",
    ),
    # {db}.{view}-schema-view.sql[.{compression}]
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)-schema-view\.sql(?:\.(\w*?))?$",
        schema="$1",
        table="$2",
        type="view-schema",
        compression="$3",
    ),
    # {db}.{table}.{NNN}.{snappy|gzip|gz|zstd|zst}.parquet: compressed inside, by the Parquet writer
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*)\.([0-9]+)\.(snappy|gzip|gz|zstd|zst)\.parquet$",
        schema="$1",
        table="$2",
        type="parquet",
        key="$3",
    ),
    # {db}.{table}[.{NNN}].{sql|csv|parquet}[.{compression}]
    FileRouteRule(
        pattern=r"(?i)^(?:[^/]*/)*([^/.]+)\.(.*?)(?:\.([0-9]+))?\.(sql|csv|parquet)(?:\.(\w+))?$",
        schema="$1",
        table="$2",
        type="$4",
        key="$3",
        compression="$5",
    ),
)

_DEFAULT_RULE_NAMES = (
    "{db}.{table}-schema-triggers.sql",
    "{db}-schema-triggers.sql",
    "{db}-schema-post.sql",
    "trigger/post files",
    "backup files",
    "{db}-schema-create.sql",
    "{db}.{table}-schema.sql",
    "{db}.{view}-schema-view.sql",
    "{db}.{table}.{NNN}.{compression}.parquet",
    "{db}.{table}[.{NNN}].{sql|csv|parquet}[.{compression}]",
)


_SCHEMA_OBJECTS_SUFFIX = re.compile(r"(?i)-schema-(triggers?|post)\.sql(?:\.\w*)?$")


def schema_objects_contents(path: str, schema: str, table: str) -> str:
    """What a ``schema-objects`` file holds, for the precheck report: "the triggers of `db`.`t`", ..."""
    quoted = ".".join("`" + n.replace("`", "``") + "`" for n in ((schema, table) if table else (schema,)))
    match = _SCHEMA_OBJECTS_SUFFIX.search(path)
    if match is None:
        return f"triggers, routines or events of {quoted}"
    if match.group(1).lower().startswith("trigger"):
        return f"the triggers of {'table' if table else 'database'} {quoted}"
    return f"the stored procedures, functions and events of database {quoted}"


class FileRouter:
    """Routes source file paths to tables by ``[[mydumper.files]]`` rules, then Lightning's defaults.

    :param rules: ``[[mydumper.files]]`` entries, tried in order before the defaults.
    :param default_rules: also apply Lightning's built-in mydumper/Dumpling rules.
    :param source_root: the data source's URL or directory; an absolute ``path`` in a rule is made
        relative to it.
    :raises ConfigError: a rule is invalid, naming ``mydumper.files[i].<field>``.
    """

    def __init__(
        self,
        rules: Iterable[FileRouteRule] = (),
        *,
        default_rules: bool = True,
        source_root: str | None = None,
    ) -> None:
        compiled = [
            _compile_rule(rule, f"mydumper.files[{i}]", source_root) for i, rule in enumerate(rules)
        ]
        if default_rules:
            compiled += [
                _compile_rule(rule, f"default file rule for {name}", None, unescape=True)
                for rule, name in zip(DEFAULT_FILE_ROUTE_RULES, _DEFAULT_RULE_NAMES, strict=True)
            ]
        self._rules = tuple(compiled)

    def route(self, path: str) -> RouteResult | None:
        """The route of ``path``, or None when no rule matches it.

        :raises SourceError: a rule matches but its templates give a value that is not allowed here (an
            unknown type or compression, an empty schema or table name).
        """
        for rule in self._rules:
            match = rule.regex.search(path)
            if match is not None:
                return rule.apply(path, match)
        return None


# --- rules -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    name: str  # how messages refer to the rule
    regex: re.Pattern[str]
    schema: str
    table: str
    type: str
    key: str
    compression: str
    unescape: bool

    def apply(self, path: str, match: re.Match[str]) -> RouteResult:
        type_text = _expand(self.type, match)
        try:
            source_type = SourceType.parse(type_text)
        except ValueError as exc:
            raise SourceError(printable_path(path), f"{self.name} gives this file {exc}") from None
        if source_type == SourceType.IGNORE:
            return RouteResult("", "", SourceType.IGNORE, "", Compression.NONE)

        schema = self._name(_expand(self.schema, match), path)
        table = ""
        if source_type != SourceType.SCHEMA_SCHEMA:
            table = self._name(_expand(self.table, match), path)
        if not schema:
            raise SourceError(printable_path(path), self._empty_name_message("database"))
        if not table and source_type not in (SourceType.SCHEMA_SCHEMA, SourceType.SCHEMA_OBJECTS):
            raise SourceError(printable_path(path), self._empty_name_message("table"))

        compression_text = _expand(self.compression, match)
        try:
            compression = Compression.parse(compression_text)
        except ValueError:
            raise SourceError(
                printable_path(path),
                f"{self.name} takes {compression_text!r} for the compression of this file, which is not "
                "a compression (gz, gzip, zst, zstd, snappy; lz4, xz, lzo are recognised but cannot be "
                "read); rename the file or give it a [[mydumper.files]] rule with type = 'ignore'",
            ) from None
        if source_type == SourceType.PARQUET and compression != Compression.NONE:
            raise SourceError(
                printable_path(path),
                "a Parquet file compressed as a whole cannot be read; write the Parquet file with its own "
                "internal compression (e.g. snappy or zstd pages) instead",
            )
        return RouteResult(schema, table, source_type, _expand(self.key, match), compression)

    def _name(self, value: str, path: str) -> str:
        if not self.unescape:
            return value
        unescaped = _percent_unescape(value)
        if unescaped is None:
            log.warning("file %s: cannot percent-decode the name %r; using it as it is", path, value)
            return value
        return unescaped

    def _empty_name_message(self, what: str) -> str:
        return (
            f"{self.name} gives this file an empty {what} name; fix the rule, rename the file, or give "
            "it a [[mydumper.files]] rule with type = 'ignore'"
        )


def _field(rule: FileRouteRule, name: str) -> str:
    value = getattr(rule, name, None)
    return "" if value is None else str(value)


def _compile_rule(
    rule: FileRouteRule, name: str, source_root: str | None, *, unescape: bool = False
) -> _CompiledRule:
    pattern, path = _field(rule, "pattern"), _field(rule, "path")
    schema, table, type_text = _field(rule, "schema"), _field(rule, "table"), _field(rule, "type")
    key, compression = _field(rule, "key"), _field(rule, "compression")

    if not pattern and not path:
        raise ConfigError(f"{name}.pattern", "one of 'pattern' and 'path' must be set")
    if pattern and path:
        raise ConfigError(f"{name}.path", "set either 'pattern' or 'path', not both")
    if path:
        # An exact path: templates hold no variables, so every '$' is literal.
        regex = re.compile("^" + re.escape(_relative_rule_path(path, name, source_root)) + r"\Z")
        schema, table, type_text, key, compression = (
            t.replace("$", "$$") for t in (schema, table, type_text, key, compression)
        )
    else:
        try:
            regex = compile_go_regexp(pattern)
        except ValueError as exc:
            raise ConfigError(
                f"{name}.pattern", f"{pattern!r} is not a usable regular expression: {exc}"
            ) from None

    if not type_text:
        allowed = ", ".join(repr(t.label) for t in SourceType)
        raise ConfigError(f"{name}.type", f"must not be empty; one of {allowed} or a template such as '$3'")
    _check_template(regex, type_text, f"{name}.type")
    if "$" not in type_text:
        try:
            literal_type = SourceType.parse(type_text)
        except ValueError as exc:
            raise ConfigError(f"{name}.type", str(exc)) from None
    else:
        literal_type = None

    if literal_type != SourceType.IGNORE:
        if not schema:
            raise ConfigError(
                f"{name}.schema", "must not be empty: give a database name or a template such as '$1'"
            )
        _check_template(regex, schema, f"{name}.schema")
        if literal_type == SourceType.SCHEMA_OBJECTS:
            _check_template(regex, table, f"{name}.table")  # a database's objects have no table
        elif literal_type != SourceType.SCHEMA_SCHEMA:
            if not table:
                raise ConfigError(
                    f"{name}.table", "must not be empty: give a table name or a template such as '$2'"
                )
            _check_template(regex, table, f"{name}.table")
        _check_template(regex, key, f"{name}.key")
        _check_template(regex, compression, f"{name}.compression")
        if "$" not in compression:
            try:
                Compression.parse(compression)
            except ValueError as exc:
                raise ConfigError(f"{name}.compression", str(exc)) from None

    return _CompiledRule(
        name=name,
        regex=regex,
        schema=schema,
        table=table,
        type=type_text,
        key=key,
        compression=compression,
        unescape=unescape,
    )


def _relative_rule_path(path: str, name: str, source_root: str | None) -> str:
    if source_root:
        root = source_root.rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root) :]
    if path.startswith("/") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path):
        raise ConfigError(
            f"{name}.path",
            f"{path!r} is not inside the data source {source_root or ''}; give a path relative to it",
        )
    return path.removeprefix("./")


# --- templates: Go's Regexp.Expand ---------------------------------------------------------------------


def _is_name_char(ch: str) -> bool:
    # Go's template names are made of Unicode letters, decimal digits and '_'.
    return ch == "_" or unicodedata.category(ch).startswith("L") or unicodedata.category(ch) == "Nd"


def _template_variable(template: str, start: int) -> tuple[str, int] | None:
    """The variable name at ``template[start]`` (a '$') and the length of the reference, or None."""
    i = start + 1
    brace = i < len(template) and template[i] == "{"
    if brace:
        i += 1
    name_start = i
    while i < len(template) and _is_name_char(template[i]):
        i += 1
    if i == name_start:
        return None
    name = template[name_start:i]
    if brace:
        if i >= len(template) or template[i] != "}":
            return None
        i += 1
    return name, i - start


def _group_number(name: str) -> int | None:
    """The group number ``name`` refers to, as Go reads it: ASCII digits without a leading zero."""
    if name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0")) and len(name) < 9:
        return int(name)
    return None


def _template_references(template: str) -> Iterable[tuple[str, str]]:
    """Every (reference as written, variable name) in ``template``; ``$$`` is skipped."""
    i = 0
    while (j := template.find("$", i)) >= 0:
        if template.startswith("$$", j):
            i = j + 2
            continue
        variable = _template_variable(template, j)
        if variable is None:
            i = j + 1
            continue
        name, length = variable
        yield template[j : j + length], name
        i = j + length


def _check_template(regex: re.Pattern[str], template: str, key: str) -> None:
    for written, name in _template_references(template):
        number = _group_number(name)
        if number is not None:
            if number > regex.groups:
                raise ConfigError(
                    key,
                    f"{written!r} refers to group {number}, but the pattern has only {regex.groups} groups",
                )
        elif name not in regex.groupindex:
            known = ", ".join(repr(n) for n in regex.groupindex) or "none"
            raise ConfigError(
                key, f"{written!r} refers to no named group of the pattern (named groups: {known})"
            )


def _expand(template: str, match: re.Match[str]) -> str:
    out: list[str] = []
    i = 0
    while (j := template.find("$", i)) >= 0:
        out.append(template[i:j])
        if template.startswith("$$", j):
            out.append("$")
            i = j + 2
            continue
        variable = _template_variable(template, j)
        if variable is None:  # as in Go, a '$' that starts no variable is kept
            out.append("$")
            i = j + 1
            continue
        name, length = variable
        out.append(_group_text(match, name))
        i = j + length
    out.append(template[i:])
    return "".join(out)


def _group_text(match: re.Match[str], name: str) -> str:
    """What ``$name`` expands to: the group's text; empty when it took no part or does not exist."""
    number = _group_number(name)
    if number is not None:
        return (match.group(number) or "") if number <= match.re.groups else ""
    return (match.group(name) or "") if name in match.re.groupindex else ""


def printable_path(path: str) -> str:
    """``path`` for messages: bytes of a file name that are not UTF-8, and control characters, shown as
    ``\\xNN`` escapes (see :func:`~airflow_provider_lightning.core.errors.printable`)."""
    return printable(path)


def _percent_unescape(value: str) -> str | None:
    """``%XX``-decode ``value`` strictly (as Go's ``url.PathUnescape``); None if it is not well-formed
    or does not decode to UTF-8."""
    if "%" not in value:
        return value
    out = bytearray()
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "%":
            digits = value[i + 1 : i + 3]
            if len(digits) != 2 or not all(d in string.hexdigits for d in digits):
                return None
            out.append(int(digits, 16))
            i += 3
        else:
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- Go regular expressions -----------------------------------------------------------------------------

_WORD = "0-9A-Za-z_"
_SPACE = "\\t\\n\\f\\r "
# Go's Perl classes are ASCII-only; Python's are Unicode, so they are spelled out.
_PERL_CLASSES_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
# Inside brackets a negated class cannot be spelled out, so \D \W \S stay Python's (Unicode) ones there.
_PERL_CLASSES_INSIDE = {"d": "0-9", "w": _WORD, "s": _SPACE, "D": "\\D", "W": "\\W", "S": "\\S"}
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": _WORD,
    "xdigit": "0-9A-Fa-f",
}
_UNICODE_CLASSES = {"L": "[^\\W\\d_]", "Nd": "\\d"}
_UNICODE_CLASSES_NEGATED = {"L": "[\\W\\d_]", "Nd": "\\D"}
_WORD_BOUNDARY = f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))"
_NOT_WORD_BOUNDARY = f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"
_SIMPLE_ESCAPES = {"a": "\a", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")
_FLAGS_GROUP = re.compile(r"\(\?([A-Za-z]*(?:-[A-Za-z]*)?)([:)])")
_NAMED_GROUP = re.compile(r"\(\?P?<([^>]*)>")
_OCTAL = "01234567"


def compile_go_regexp(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile a regular expression written in Go's syntax (RE2) into an equivalent Python pattern.

    Go's ``$`` (end of text unless ``(?m)``), ASCII ``\\d \\w \\s \\b``, ``\\z``, ``\\Q...\\E``,
    ``\\x{...}``, POSIX classes, ``(?<name>...)`` and flag groups in mid-pattern are translated.
    ``\\pL``/``\\p{Nd}`` (and their negations) are supported outside brackets.

    :raises ValueError: with the reason, for syntax Go rejects (backreferences, lookaround, possessive or
        nested repetition) or that Python cannot express (``(?U)``, other Unicode classes).
    """
    translated = _GoRegexpTranslator(pattern).translate()
    try:
        return re.compile(translated, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ValueError(exc.msg) from None
    except (OverflowError, RecursionError) as exc:
        raise ValueError(f"pattern too complex: {exc}") from None


@dataclass(slots=True)
class _Frame:
    """An open group of the pattern being translated."""

    multiline: bool
    scopes: list[str]  # flag groups opened by a mid-pattern ``(?flags)``, closed with the group


class _GoRegexpTranslator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        self.frames = [_Frame(multiline=False, scopes=[])]
        self.after_atom = False  # whether a repetition operator may follow

    def fail(self, reason: str) -> ValueError:
        return ValueError(f"{reason} (at character {self.pos + 1})")

    def translate(self) -> str:
        src = self.src
        while self.pos < len(src):
            ch = src[self.pos]
            if ch == "\\":
                self.escape()
            elif ch == "[":
                self.out.append(self.char_class())
                self.after_atom = True
            elif ch == "(":
                self.open_group()
            elif ch == ")":
                if len(self.frames) == 1:
                    raise self.fail("unexpected ')'")
                frame = self.frames.pop()
                self.out.append(")" * len(frame.scopes) + ")")
                self.pos += 1
                self.after_atom = True
            elif ch == "|":
                scopes = self.frames[-1].scopes
                self.out.append(")" * len(scopes) + "|" + "".join(scopes))
                self.pos += 1
                self.after_atom = False
            elif ch in "*+?":
                self.repetition(ch, 1)
            elif ch == "{":
                repeat = _REPEAT.match(src, self.pos)
                if repeat is None:
                    self.literal("{")  # not a repetition: Go takes '{' literally, Python might not
                else:
                    self.repetition(repeat.group(0), len(repeat.group(0)))
            elif ch == "$":
                self.out.append("$" if self.frames[-1].multiline else "\\Z")
                self.pos += 1
                self.after_atom = False
            elif ch in "^.":
                self.out.append(ch)
                self.pos += 1
                self.after_atom = ch == "."
            else:
                self.literal(ch)
        if len(self.frames) > 1:
            raise self.fail("missing ')'")
        self.out.append(")" * len(self.frames[0].scopes))
        return "".join(self.out)

    def literal(self, ch: str) -> None:
        self.out.append(re.escape(ch))
        self.pos += 1
        self.after_atom = True

    def repetition(self, operator: str, length: int) -> None:
        if not self.after_atom:
            raise self.fail(f"missing argument to repetition operator {operator!r}")
        self.pos += length
        self.out.append(operator)
        if self.src.startswith("?", self.pos):
            self.out.append("?")
            self.pos += 1
        nxt = self.src[self.pos : self.pos + 1]
        if nxt and (nxt in "*+?" or _REPEAT.match(self.src, self.pos)):
            raise self.fail("invalid nested repetition operator")
        self.after_atom = False

    def open_group(self) -> None:
        src, frame = self.src, self.frames[-1]
        if not src.startswith("(?", self.pos):
            self.frames.append(_Frame(frame.multiline, []))
            self.out.append("(")
            self.pos += 1
            self.after_atom = False
            return
        named = _NAMED_GROUP.match(src, self.pos)
        if named is not None and not src.startswith(("(?<=", "(?<!"), self.pos):
            self.frames.append(_Frame(frame.multiline, []))
            self.out.append(f"(?P<{named.group(1)}>")
            self.pos = named.end()
            self.after_atom = False
            return
        flags = _FLAGS_GROUP.match(src, self.pos)
        if flags is None:
            raise self.fail(
                "lookaround, backreferences and other Perl extensions are not part of Go's syntax"
            )
        spec, terminator = flags.groups()
        multiline = self.apply_flags(spec, frame.multiline)
        self.pos = flags.end()
        if terminator == ":":
            self.frames.append(_Frame(multiline, []))
            self.out.append(f"(?{spec}:" if spec else "(?:")
        else:  # (?flags) holds until the end of the enclosing group, across '|'
            opener = f"(?{spec}:"
            frame.scopes.append(opener)
            frame.multiline = multiline
            self.out.append(opener)
        self.after_atom = False

    def apply_flags(self, spec: str, multiline: bool) -> bool:
        if not spec:
            return multiline
        on, _, off = spec.partition("-")
        if "-" in spec and not off:
            raise self.fail("missing flags after '-'")
        for flag in on + off:
            if flag == "U":
                raise self.fail(
                    "the ungreedy flag (?U) is not supported; use lazy operators such as *? instead"
                )
            if flag not in "ims":
                raise self.fail(f"unknown flag {flag!r}; Go knows i, m, s and U")
        if "m" in on:
            return True
        if "m" in off:
            return False
        return multiline

    def escape(self) -> None:
        src = self.src
        if self.pos + 1 >= len(src):
            raise self.fail("trailing backslash at end of expression")
        ch = src[self.pos + 1]
        if ch == "Q":
            end = src.find("\\E", self.pos + 2)
            text = src[self.pos + 2 :] if end < 0 else src[self.pos + 2 : end]
            self.out.append("".join(re.escape(c) for c in text))
            self.pos = len(src) if end < 0 else end + 2
            self.after_atom = bool(text)
            return
        self.pos += 2
        zero_width = {"A": "\\A", "z": "\\Z", "b": _WORD_BOUNDARY, "B": _NOT_WORD_BOUNDARY}
        if ch in zero_width:
            self.out.append(zero_width[ch])
            self.after_atom = False
            return
        if ch in _PERL_CLASSES_OUTSIDE:
            self.out.append(_PERL_CLASSES_OUTSIDE[ch])
        elif ch in "pP":
            self.out.append(self.unicode_class(ch == "P"))
        else:
            self.out.append(re.escape(self.escaped_char(ch)))
        self.after_atom = True

    def unicode_class(self, negated: bool) -> str:
        src = self.src
        if src.startswith("{", self.pos):
            end = src.find("}", self.pos)
            if end < 0:
                raise self.fail("missing '}' in \\p{...}")
            name = src[self.pos + 1 : end]
            self.pos = end + 1
        else:
            name = src[self.pos : self.pos + 1]
            self.pos += 1
        table = _UNICODE_CLASSES_NEGATED if negated else _UNICODE_CLASSES
        if name not in table:
            raise self.fail(
                f"the Unicode class {name!r} is not supported; use \\pL, \\p{{Nd}} or a bracket class"
            )
        return table[name]

    def escaped_char(self, ch: str) -> str:
        """The character an escape other than a class stands for; ``self.pos`` is just after ``ch``."""
        src = self.src
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch in "123456789" and (ch in "89" or src[self.pos : self.pos + 1] not in tuple(_OCTAL)):
            raise self.fail(f"backreferences such as \\{ch} are not supported by Go's syntax")
        if ch in _OCTAL:  # \0 alone, or two or three octal digits
            digits = ch
            while len(digits) < 3 and src[self.pos : self.pos + 1] and src[self.pos] in _OCTAL:
                digits += src[self.pos]
                self.pos += 1
            return chr(int(digits, 8))
        if ch == "x":
            if src.startswith("{", self.pos):
                end = src.find("}", self.pos)
                digits = src[self.pos + 1 : end] if end > 0 else ""
                self.pos = end + 1 if end > 0 else self.pos
            else:
                digits = src[self.pos : self.pos + 2]
                self.pos += 2
                if len(digits) != 2:
                    raise self.fail("invalid hexadecimal escape")
            if not digits or not all(d in string.hexdigits for d in digits) or len(digits) > 8:
                raise self.fail("invalid hexadecimal escape")
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise self.fail("hexadecimal escape beyond Unicode")
            return chr(code)
        if ch.isascii() and ch.isalnum():
            raise self.fail(f"invalid escape sequence \\{ch}")
        return ch

    def char_class(self) -> str:
        """Translate the bracket expression at ``self.pos``."""
        src = self.src
        self.pos += 1
        negated = src.startswith("^", self.pos)
        if negated:
            self.pos += 1
        parts: list[str] = []
        first = True
        while True:
            if self.pos >= len(src):
                raise self.fail("missing closing ']' of a character class")
            if src[self.pos] == "]" and not first:
                self.pos += 1
                return "[" + ("^" if negated else "") + "".join(parts) + "]"
            first = False
            posix = self.posix_class()
            if posix is not None:
                parts.append(posix)
                continue
            low, class_text = self.class_item()
            if class_text is not None:
                parts.append(class_text)
                continue
            if src.startswith("-", self.pos) and self.pos + 1 < len(src) and src[self.pos + 1] != "]":
                self.pos += 1
                high, class_text = self.class_item()
                if class_text is not None:
                    raise self.fail("invalid character class range")
                if high < low:
                    raise self.fail(f"invalid character class range {low!r}-{high!r}")
                parts.append(f"{_class_char(low)}-{_class_char(high)}")
            else:
                parts.append(_class_char(low))

    def posix_class(self) -> str | None:
        """A ``[:name:]`` class at ``self.pos`` as Python bracket content, or None if there is none."""
        src = self.src
        if not src.startswith("[:", self.pos):
            return None
        end = src.find(":]", self.pos + 2)
        name = src[self.pos + 2 : end] if end > 0 else ""
        if name.startswith("^") and name[1:] in _POSIX_CLASSES:
            raise self.fail(f"negated POSIX class [:{name}:] is not supported; negate the bracket instead")
        if name not in _POSIX_CLASSES:
            return None
        self.pos = end + 2
        return _POSIX_CLASSES[name]

    def class_item(self) -> tuple[str, str | None]:
        """One member of a bracket expression: (character, None), or ("", text) for a class escape."""
        src = self.src
        ch = src[self.pos]
        if ch != "\\":
            self.pos += 1
            return ch, None
        if self.pos + 1 >= len(src):
            raise self.fail("trailing backslash at end of expression")
        esc = src[self.pos + 1]
        self.pos += 2
        if esc in _PERL_CLASSES_INSIDE:
            return "", _PERL_CLASSES_INSIDE[esc]
        if esc in "pP":
            raise self.fail("\\p{...} inside brackets is not supported; write it outside the brackets")
        return self.escaped_char(esc), None


def _class_char(ch: str) -> str:
    """A character as a literal member of a Python bracket expression."""
    if ch in "\\]-[^&|~":
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    return ch
