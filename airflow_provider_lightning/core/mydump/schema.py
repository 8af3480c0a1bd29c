"""Schema files of a dump: splitting them into statements, finding what they create, and preparing that
DDL for the target.

mydumper, Dumpling and mysqldump write one schema file per object:

- ``db-schema-create.sql`` — ``CREATE DATABASE``;
- ``db.tbl-schema.sql`` — ``CREATE TABLE`` (for a view: a placeholder table with the view's columns);
- ``db.view-schema-view.sql`` — drops the placeholder, then ``CREATE ... VIEW``.

Around the CREATE they write session settings (``/*!40101 SET NAMES binary*/;``, ``SET character_set_client
= ...``). :func:`parse_schema_file` keeps every statement in :attr:`SchemaFile.statements`, but
:func:`rewrite_create` returns only what creates the object: the settings belong to the dumping session,
and the restoring session has its own (Lightning drops them too).

Lightning parses schema files with TiDB's SQL parser and prints the AST back. We have no parser for every
dialect, so we work on tokens: find the head (``CREATE ... name``), rebuild it for the target name, and keep
the rest of the statement byte for byte — whatever the target understands survives unchanged.

Statements from :func:`rewrite_create` are text to run on a connection whose character set is utf8mb4 —
not under the dump's ``SET NAMES binary``: with ``binary``, MariaDB stores a latin1 column's ``DEFAULT 'é'``
(written in UTF-8) as ``'Ã©'``, while with utf8mb4 every default round-trips, even the raw bytes the server
prints for a ``varbinary`` default (``DEFAULT '\\0<0xFF>'``; such files need
``mydumper.character-set = "binary"``). Bytes that are not UTF-8 are carried as surrogate escapes, which
pymysql turns back into the original bytes when it encodes a query.

Targets other than the dump's source server (see :func:`collation_for_server`):

- **MariaDB** has no ``utf8mb4_*0900*`` collations before 11.4.5. We map them to the NO PAD collation of
  the same strength, as MariaDB 11.4.5 itself aliases them: ``utf8mb4_0900_ai_ci`` ->
  ``utf8mb4_uca1400_nopad_ai_ci`` (``utf8mb4_unicode_520_nopad_ci`` before MariaDB 10.10), language
  collations to MariaDB's language of the same name, ``utf8mb4_0900_bin`` -> ``utf8mb4_nopad_bin``. NO PAD
  matters: under a PAD SPACE collation ``'a'`` and ``'a '`` are equal, so rows that were unique on MySQL 8
  would collide in a unique key. MySQL 8 options that MariaDB rejects (``ENCRYPTION``, ``COMPRESSION``,
  ``AUTOEXTEND_SIZE``, ``SECONDARY_ENGINE``, ``ENGINE_ATTRIBUTE``, column ``SRID``) are removed. MariaDB
  itself ignores ``/*!NNNNN`` comments for versions 5.7.0-9.99.99, so ``/*!80016 DEFAULT ENCRYPTION='N' */``
  needs no help, and treats TiDB's ``/*T![...] */`` as a plain comment.
- **MySQL 8** gets MariaDB's ``utf8mb4_uca1400_*`` collations as ``utf8mb4_*0900*`` ones and ``*_nopad_*``
  collations as their PAD SPACE siblings. Other MariaDB-only syntax (``WITH SYSTEM VERSIONING``, Aria
  options, ...) is left as it is.
- **TiDB** gets the statement as written.
"""

from __future__ import annotations

import bisect
import enum
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from airflow_provider_lightning.core.charsets import MysqlCharset
from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.identifiers import quote_identifier
from airflow_provider_lightning.core.errors import ConfigError, ParseError
from airflow_provider_lightning.core.target import ServerFlavor, ServerVersion

__all__ = [
    "SchemaFile",
    "SchemaKind",
    "ServerFlavor",
    "ServerVersion",
    "SkippedStatement",
    "Statement",
    "collation_for_server",
    "connection_charset",
    "definer_clauses",
    "parse_schema_file",
    "quote_identifier",
    "rewrite_create",
    "rewrite_definer",
    "schema_file_definer",
    "split_statements",
    "statements_not_run",
]

logger = logging.getLogger(__name__)

SchemaKind = Literal["database", "table", "view"]

CHARACTER_SETS = ("auto", "utf8mb4", "gb18030", "gbk", "latin1", "binary")

_KINDS = ("database", "table", "view")
_SPACE = frozenset(b" \t\r\n\x0b\x0c")
_QUOTES = frozenset(b"'\"`")
_BACKQUOTE = ord("`")
_BACKSLASH = ord("\\")
_UTF8_BOM = b"\xef\xbb\xbf"
_WORD = re.compile(rb"[0-9A-Za-z_$\x80-\xff]+")
# Where a quoted string or identifier can end or escape: strings take backslash escapes, identifiers do not.
_QUOTE_STOPS = {
    ord("'"): re.compile(rb"['\\]"),
    ord('"'): re.compile(rb'["\\]'),
    _BACKQUOTE: re.compile(rb"`"),
}
_EXECUTABLE_HEADER = re.compile(rb"/\*(!|M!|T!)([0-9]{0,6})")
_TIDB_FEATURES = re.compile(rb"\[[^\]*]*\]")
# MariaDB's dump "sandbox mode" line: a client command the server never runs, not SQL.
_MARIADB_SANDBOX = b"/*M!999999\\-"


# --- values -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a schema file, without its delimiter.

    ``offset`` is the byte offset of its first byte in the file as given, ``line`` that byte's 1-based
    line. Executable comments (``/*!40101 ... */``) are part of ``sql``; comments before it are not.
    """

    sql: bytes
    offset: int
    line: int


@dataclass(frozen=True, slots=True)
class SchemaFile:
    """What a schema file creates.

    ``schema`` is the schema named in the CREATE statement (``db`` in ``CREATE TABLE `db`.`t```), ``None``
    when the name is not qualified (the usual case: the file name says which schema). ``name`` is the
    object's name, unquoted. ``create_sql`` is the CREATE statement as UTF-8 bytes (as read, for
    ``character-set = "binary"``); ``statements`` are all the file's statements, in order.
    """

    kind: SchemaKind
    schema: str | None
    name: str
    create_sql: bytes
    statements: list[Statement]
    path: str = ""


# --- splitting ----------------------------------------------------------------------------------------


def split_statements(sql: bytes, *, path: str = "") -> list[Statement]:
    """The statements of a schema file, as the ``mysql`` client would send them.

    Statements end at the delimiter (``;``, or what a ``DELIMITER`` command sets, as mysqldump does around
    triggers and routines) outside quotes and comments; ``DELIMITER`` commands themselves are not
    statements. As in the ``mysql`` client, the delimiter also ends a statement inside an executable
    comment, so such a comment must close before it. The last statement needs no delimiter. ``sql`` must be
    in an encoding where quote, backslash and delimiter bytes never occur inside a multi-byte character
    (UTF-8, ASCII, latin1 — not GB18030 or GBK, which :func:`parse_schema_file` converts first).

    Raises :class:`ParseError` for an unterminated string, identifier or comment.
    """
    lines = _LineIndex(sql)
    statements: list[Statement] = []
    delimiter = b";"
    next_special = _special_bytes(delimiter)
    size = len(sql)
    pos = 0
    start = -1  # first byte of the statement being read; -1 between statements
    open_executable = -1  # where the executable comment we are inside starts
    while pos < size:
        byte = sql[pos]
        if start < 0:
            if byte in _SPACE:
                pos += 1
                continue
            if _is_delimiter_command(sql, pos):
                end = _end_of_line(sql, pos)
                delimiter = _read_delimiter(sql, pos, end, path, lines)
                next_special = _special_bytes(delimiter)
                pos = end
                continue
        if sql.startswith(delimiter, pos):
            if open_executable >= 0:
                raise _unclosed_executable_comment(sql, open_executable, path, lines, before=pos)
            if start >= 0:
                statements.append(Statement(sql[start:pos].rstrip(), start, lines.line_at(start)))
                start = -1
            pos += len(delimiter)
            continue
        if byte in _QUOTES:
            if start < 0:
                start = pos
            pos = _end_of_quoted(sql, pos, path, lines)
            continue
        if _is_line_comment(sql, pos):
            pos = _end_of_line(sql, pos)
            continue
        if sql.startswith(b"/*", pos):
            header = _executable_header(sql, pos)
            if header is None:
                pos = _end_of_block_comment(sql, pos, path, lines)
                continue
            if open_executable >= 0:
                # Not nested in MySQL either: the first */ closes both.
                pos = header[2]
                continue
            if start < 0:
                start = pos
            open_executable = pos
            pos = header[2]
            continue
        if open_executable >= 0 and sql.startswith(b"*/", pos):
            open_executable = -1
            pos += 2
            continue
        if start < 0:
            start = pos
        found = next_special.search(sql, pos + 1)
        pos = found.start() if found else size
    if open_executable >= 0:
        raise _unclosed_executable_comment(sql, open_executable, path, lines, before=size)
    if start >= 0:
        statements.append(Statement(sql[start:].rstrip(), start, lines.line_at(start)))
    return statements


class _LineIndex:
    """Line numbers of byte offsets, by bisecting the newline positions."""

    __slots__ = ("_newlines",)

    def __init__(self, data: bytes) -> None:
        self._newlines = [m.start() for m in re.finditer(rb"\n", data)]

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1


def _special_bytes(delimiter: bytes) -> re.Pattern[bytes]:
    """The bytes where the splitter must look closer: quotes, comment starts and ends, the delimiter."""
    return re.compile(b"[" + re.escape(b"'\"`#-/*" + delimiter[:1]) + b"]")


def _is_delimiter_command(sql: bytes, pos: int) -> bool:
    return sql[pos : pos + 9].lower() == b"delimiter" and sql[pos + 9 : pos + 10] in (b" ", b"\t")


def _read_delimiter(sql: bytes, pos: int, end: int, path: str, lines: _LineIndex) -> bytes:
    words = sql[pos + 9 : end].split()
    if not words:
        raise ParseError(
            path,
            pos,
            "DELIMITER command without a delimiter; write the new delimiter after it (DELIMITER ;;)",
            line=lines.line_at(pos),
            excerpt=sql[pos:end],
        )
    return words[0]


def _is_line_comment(sql: bytes, pos: int) -> bool:
    byte = sql[pos]
    if byte == ord("#"):
        return True
    # MySQL: "--" starts a comment only when a space or control character follows.
    if byte != ord("-") or sql[pos + 1 : pos + 2] != b"-":
        return False
    return pos + 2 >= len(sql) or sql[pos + 2] <= 0x20


def _end_of_line(sql: bytes, pos: int) -> int:
    end = sql.find(b"\n", pos)
    return len(sql) if end < 0 else end + 1


def _end_of_quoted(sql: bytes, pos: int, path: str, lines: _LineIndex) -> int:
    """The offset just after the string or quoted identifier that starts at ``pos``."""
    quote = sql[pos]
    stops = _QUOTE_STOPS[quote]
    cursor = pos + 1
    while True:
        found = stops.search(sql, cursor)
        if found is None:
            what = "quoted identifier" if quote == _BACKQUOTE else "string"
            raise ParseError(
                path,
                pos,
                f"unterminated {what}: the {chr(quote)} here is never closed; the file looks truncated or "
                "holds a quote that should have been escaped",
                line=lines.line_at(pos),
                excerpt=sql[pos : pos + 40],
            )
        stop = found.start()
        if sql[stop] == _BACKSLASH or sql[stop + 1 : stop + 2] == sql[stop : stop + 1]:
            cursor = stop + 2  # an escaped character, or a doubled quote
            continue
        return stop + 1


def _end_of_block_comment(sql: bytes, pos: int, path: str, lines: _LineIndex) -> int:
    end = sql.find(b"*/", pos + 2)
    if end < 0:
        raise ParseError(
            path,
            pos,
            "unterminated comment: the /* here is never closed by */; the file looks truncated",
            line=lines.line_at(pos),
            excerpt=sql[pos : pos + 40],
        )
    return end + 2


def _executable_header(sql: bytes, pos: int) -> tuple[str, int | None, int] | None:
    """For ``/*!NNNNN``, ``/*M!NNNNNN`` or ``/*T![feature]`` at ``pos``: (marker, version, end of header)."""
    found = _EXECUTABLE_HEADER.match(sql, pos)
    if found is None or sql.startswith(_MARIADB_SANDBOX, pos):
        return None
    marker = found.group(1).decode()
    digits = found.group(2)
    end = found.end()
    if marker == "T!":
        features = _TIDB_FEATURES.match(sql, end)
        if features:
            end = features.end()
    return marker, int(digits) if digits else None, end


def _unclosed_executable_comment(
    sql: bytes, start: int, path: str, lines: _LineIndex, *, before: int
) -> ParseError:
    where = "the end of the file" if before >= len(sql) else f"the statement's end at byte {before}"
    return ParseError(
        path,
        start,
        f"unterminated executable comment: the /*! here is not closed by */ before {where}",
        line=lines.line_at(start),
        excerpt=sql[start : start + 40],
    )


# --- tokens -------------------------------------------------------------------------------------------


class _TokenKind(enum.Enum):
    WORD = "word"  # keyword, unquoted identifier or number
    NAME = "name"  # backquoted identifier
    STRING = "string"  # '...' or "..."
    SYMBOL = "symbol"  # any other single byte


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    start: int
    end: int
    raw: bytes
    depth: int  # parentheses open around the token; a parenthesis itself counts as outside

    def is_word(self, *words: str) -> bool:
        return self.kind is _TokenKind.WORD and self.raw.upper().decode("ascii", "replace") in words

    def is_symbol(self, symbol: str) -> bool:
        return self.kind is _TokenKind.SYMBOL and self.raw == symbol.encode()


@dataclass(frozen=True, slots=True)
class _ExecutableComment:
    start: int
    header_end: int
    close_start: int
    end: int
    marker: str  # "!" (MySQL), "M!" (MariaDB) or "T!" (TiDB)
    version: int | None


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a statement sits in its file, to report errors inside it by file offset."""

    path: str
    offset: int = 0
    line: int = 1

    def error(self, sql: bytes, at: int, message: str) -> ParseError:
        return ParseError(
            self.path,
            self.offset + at,
            message,
            line=self.line + sql.count(b"\n", 0, at),
            excerpt=sql[at : at + 40],
        )


@dataclass(frozen=True, slots=True)
class _Tokens:
    tokens: list[_Token]
    executable_comments: list[_ExecutableComment]


def _tokenize(sql: bytes, origin: _Origin) -> _Tokens:
    """Tokens of one statement. Comments are skipped; executable comments are transparent (their content is
    tokenized, and remembered in ``executable_comments``)."""
    lines = _LineIndex(sql)
    tokens: list[_Token] = []
    executables: list[_ExecutableComment] = []
    open_executable: tuple[int, int, str, int | None] | None = None
    depth = 0
    size = len(sql)
    pos = 0
    try:
        while pos < size:
            byte = sql[pos]
            if byte in _SPACE:
                pos += 1
            elif byte in _QUOTES:
                end = _end_of_quoted(sql, pos, origin.path, lines)
                kind = _TokenKind.NAME if byte == _BACKQUOTE else _TokenKind.STRING
                tokens.append(_Token(kind, pos, end, sql[pos:end], depth))
                pos = end
            elif _is_line_comment(sql, pos):
                pos = _end_of_line(sql, pos)
            elif sql.startswith(b"/*", pos):
                header = _executable_header(sql, pos)
                if header is None:
                    pos = _end_of_block_comment(sql, pos, origin.path, lines)
                elif open_executable is not None:
                    pos = header[2]
                else:
                    open_executable = (pos, header[2], header[0], header[1])
                    pos = header[2]
            elif open_executable is not None and sql.startswith(b"*/", pos):
                start, header_end, marker, version = open_executable
                executables.append(_ExecutableComment(start, header_end, pos, pos + 2, marker, version))
                open_executable = None
                pos += 2
            elif word := _WORD.match(sql, pos):
                tokens.append(_Token(_TokenKind.WORD, pos, word.end(), word.group(), depth))
                pos = word.end()
            else:
                if byte == ord(")"):
                    depth -= 1
                tokens.append(_Token(_TokenKind.SYMBOL, pos, pos + 1, sql[pos : pos + 1], depth))
                if byte == ord("("):
                    depth += 1
                pos += 1
    except ParseError as exc:
        raise origin.error(sql, exc.offset or 0, exc.reason) from None
    if open_executable is not None:
        raise origin.error(
            sql, open_executable[0], "unterminated executable comment: the /*! here is never closed by */"
        )
    return _Tokens(tokens, executables)


def _identifier(token: _Token) -> str | None:
    if token.kind is _TokenKind.NAME:
        return token.raw[1:-1].replace(b"``", b"`").decode("utf-8", "surrogateescape")
    if token.kind is _TokenKind.WORD:
        return token.raw.decode("utf-8", "surrogateescape")
    return None


# --- the CREATE statement -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CreateHead:
    """``CREATE ... name`` of a statement: what it creates, its name, and the clauses a rewrite keeps."""

    kind: str  # "database", "table", "view", or the lower-cased object word (trigger, procedure, ...)
    schema: str | None
    name: str
    name_end: int  # byte offset just after the name
    body: int  # index of the first token after the name
    algorithm: tuple[int, int] | None  # byte span of ALGORITHM = ...
    sql_security: tuple[int, int] | None  # byte span of SQL SECURITY ...
    temporary: bool
    definer: tuple[int, int] | None = None  # byte span of DEFINER = user


_OBJECT_KINDS = {"DATABASE": "database", "SCHEMA": "database", "TABLE": "table", "VIEW": "view"}
_CREATE_WORDS = {"database": "CREATE DATABASE", "table": "CREATE TABLE", "view": "CREATE VIEW"}


def _read_create_head(tokens: Sequence[_Token], sql: bytes, origin: _Origin) -> _CreateHead | None:
    """The head of a CREATE statement, or None if the statement is not a CREATE."""
    if not tokens or not tokens[0].is_word("CREATE"):
        return None
    at = 1
    algorithm = sql_security = definer = None
    temporary = False
    if _words_at(tokens, at, "OR", "REPLACE"):
        at += 2
    while at < len(tokens):
        token = tokens[at]
        if token.is_word("ALGORITHM"):
            end = _skip_equals(tokens, at + 1) + 1
            algorithm = (token.start, tokens[min(end, len(tokens)) - 1].end)
            at = end
        elif token.is_word("DEFINER"):
            at = _skip_user(tokens, _skip_equals(tokens, at + 1))
            definer = (token.start, tokens[min(at, len(tokens)) - 1].end)
        elif _words_at(tokens, at, "SQL", "SECURITY"):
            end = min(at + 3, len(tokens))
            sql_security = (token.start, tokens[end - 1].end)
            at = end
        elif token.is_word("TEMPORARY"):
            temporary = True
            at += 1
        else:
            break
    if at >= len(tokens):
        return None
    object_word = tokens[at].raw.upper().decode("ascii", "replace")
    kind = _OBJECT_KINDS.get(object_word, object_word.lower())
    at += 1
    if kind not in _KINDS:
        return _CreateHead(
            kind, None, "", tokens[at - 1].end, at, algorithm, sql_security, temporary, definer
        )
    if _words_at(tokens, at, "IF", "NOT", "EXISTS"):
        at += 3
    name = _identifier(tokens[at]) if at < len(tokens) else None
    if name is None:
        if at >= len(tokens):
            found, where = "the end of the statement", len(sql)
        else:
            found, where = repr(tokens[at].raw.decode("utf-8", "replace")), tokens[at].start
        raise origin.error(
            sql,
            where,
            f"expected the {kind}'s name after {_CREATE_WORDS[kind]}, found {found}",
        )
    schema = None
    name_token = tokens[at]
    if at + 2 < len(tokens) and tokens[at + 1].is_symbol(".") and (qualified := _identifier(tokens[at + 2])):
        schema, name, name_token = name, qualified, tokens[at + 2]
        at += 2
    return _CreateHead(
        kind, schema, name, name_token.end, at + 1, algorithm, sql_security, temporary, definer
    )


def _words_at(tokens: Sequence[_Token], at: int, *words: str) -> bool:
    return at + len(words) <= len(tokens) and all(tokens[at + i].is_word(w) for i, w in enumerate(words))


def _skip_equals(tokens: Sequence[_Token], at: int) -> int:
    return at + 1 if at < len(tokens) and tokens[at].is_symbol("=") else at


def _skip_user(tokens: Sequence[_Token], at: int) -> int:
    """The index after a user: ``CURRENT_USER[()]``, ``name``, ``name@host`` in any quoting."""
    if at >= len(tokens):
        return at
    if tokens[at].is_word("CURRENT_USER"):
        if at + 2 < len(tokens) and tokens[at + 1].is_symbol("(") and tokens[at + 2].is_symbol(")"):
            return at + 3
        return at + 1
    at += 1
    if at + 1 < len(tokens) and tokens[at].is_symbol("@"):
        at += 2
    return at


def _check_create_body(head: _CreateHead, tokens: Sequence[_Token], sql: bytes, origin: _Origin) -> None:
    """Errors we can see without a full parser: unbalanced parentheses, a CREATE with nothing to create."""
    opened: list[int] = []
    for token in tokens:
        if token.is_symbol("("):
            opened.append(token.start)
        elif token.is_symbol(")"):
            if not opened:
                raise origin.error(sql, token.start, "unbalanced parentheses: this ')' closes nothing")
            opened.pop()
    if opened:
        raise origin.error(sql, opened[-1], "unbalanced parentheses: this '(' is never closed")
    body = tokens[head.body :]
    if head.temporary:
        raise origin.error(sql, 0, "CREATE TEMPORARY TABLE in a schema file: a dump's tables are permanent")
    if head.kind == "table" and not body:
        raise origin.error(sql, len(sql), "CREATE TABLE without columns: expected '(' after the table's name")
    if head.kind == "table":
        # Both would read the target server (CREATE TABLE ... SELECT even copies its data into the table);
        # a dump's CREATE TABLE spells out its columns, and its rows come from the data files.
        query = next((t for t in body if t.is_word("SELECT")), None)
        if query is not None:
            raise origin.error(
                sql,
                query.start,
                "CREATE TABLE ... SELECT in a schema file: the table would be filled by a query on the "
                "target; a schema file must only define the table (its rows come from the data files)",
            )
        like = body[1] if body[0].is_symbol("(") and len(body) > 1 else body[0]
        if like.is_word("LIKE"):
            raise origin.error(
                sql,
                like.start,
                "CREATE TABLE ... LIKE in a schema file: the table would copy another table of the target; "
                "a schema file must define the table's columns itself",
            )
    if head.kind == "view" and not any(t.depth == 0 and t.is_word("AS") for t in body):
        raise origin.error(sql, len(sql), "CREATE VIEW without AS: expected 'AS SELECT ...' after its name")


# --- reading a schema file ----------------------------------------------------------------------------


def parse_schema_file(
    data: bytes,
    *,
    path: str,
    kind: SchemaKind,
    charset: str = "auto",
) -> SchemaFile:
    """Reads a schema file and finds the one CREATE statement of ``kind`` in it.

    ``charset`` is Lightning's ``mydumper.character-set``: ``auto`` (UTF-8 if the file is valid UTF-8, else
    GB18030), ``utf8mb4``, ``gb18030``, ``gbk``, ``latin1`` (MySQL's: Windows-1252 whose five undefined
    bytes are the C1 controls) or ``binary`` (no conversion). A UTF-8 byte-order mark is skipped.
    Statement offsets are byte offsets in ``data``.

    Raises :class:`ParseError` (naming ``path``, the offset and line) if the file cannot be decoded, holds
    an unterminated quote or comment, has no CREATE of ``kind`` or more than one, or the CREATE has
    unbalanced parentheses; :class:`ConfigError` for an unknown ``charset``.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    text, offsets = _decode_schema(data, charset=charset, path=path)
    try:
        utf8_statements = split_statements(text, path=path)
    except ParseError as exc:
        raise offsets.relocate(exc) from None
    source_offsets = offsets.to_source([s.offset for s in utf8_statements])
    statements = [Statement(s.sql, o, s.line) for s, o in zip(utf8_statements, source_offsets)]

    found: list[tuple[Statement, _CreateHead, list[_Token], _Origin]] = []
    for utf8_statement, statement in zip(utf8_statements, statements):
        origin = _Origin(path, utf8_statement.offset, statement.line)
        try:
            tokens = _tokenize(statement.sql, origin).tokens
            head = _read_create_head(tokens, statement.sql, origin)
            if head is not None and head.kind == kind:
                _check_create_body(head, tokens, statement.sql, origin)
        except ParseError as exc:
            raise offsets.relocate(exc) from None
        if head is not None and head.kind == kind:
            found.append((statement, head, tokens, origin))

    create_words = _CREATE_WORDS[kind]
    if not found:
        seen = ", ".join(_statement_summary(s.sql) for s in statements[:6]) or "nothing"
        raise ParseError(
            path,
            len(data),
            f"expected a {create_words} statement in this {kind} schema file, found {seen}; check the file "
            f"is complete, or route it to the right file type with [[mydumper.files]]",
            line=data.count(b"\n") + 1,
        )
    if len(found) > 1:
        second = found[1][0]
        raise ParseError(
            path,
            second.offset,
            f"a second {create_words} statement (the first is at line {found[0][0].line}); a {kind} schema "
            f"file must create exactly one {kind}",
            line=second.line,
            excerpt=second.sql,
        )
    statement, head, _, _ = found[0]
    return SchemaFile(kind, head.schema, head.name, statement.sql, statements, path)


def _statement_summary(sql: bytes) -> str:
    words = _WORD.findall(re.sub(rb"/\*[!MT]*!?[0-9]*", b" ", sql[:80]))[:2]
    return " ".join(w.decode("utf-8", "replace").upper() for w in words) or "?"


class _SourceOffsets:
    """Maps offsets in the UTF-8 text back to the file's bytes (before its BOM and charset conversion)."""

    __slots__ = ("_bom", "_encoding", "_text")

    def __init__(self, text: bytes, bom: int, encoding: MysqlCharset | None) -> None:
        self._text = text
        self._bom = bom
        self._encoding = encoding

    def to_source(self, offsets: Iterable[int]) -> list[int]:
        """Offsets (ascending, at character boundaries) in the file's own bytes."""
        if self._encoding is None:
            return [self._bom + o for o in offsets]
        mapped: list[int] = []
        done_utf8, done_source = 0, self._bom
        for offset in offsets:
            piece = self._text[done_utf8:offset].decode("utf-8")
            done_source += len(self._encoding.encode(piece))
            done_utf8 = offset
            mapped.append(done_source)
        return mapped

    def relocate(self, error: ParseError) -> ParseError:
        offset = self.to_source([error.offset or 0])[0]
        return ParseError(error.path, offset, error.reason, line=error.line, excerpt=error.excerpt)


def _decode_schema(data: bytes, *, charset: str, path: str) -> tuple[bytes, _SourceOffsets]:
    """The file as UTF-8 (as Lightning's ``DecodeSchema``), and the way back to the file's offsets."""
    if charset not in CHARACTER_SETS:
        allowed = ", ".join(repr(c) for c in CHARACTER_SETS)
        raise ConfigError("mydumper.character-set", f"{charset!r} is not one of {allowed}")
    bom = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    body = data[bom:]
    if charset == "binary":
        return body, _SourceOffsets(body, bom, None)
    utf8_error: UnicodeDecodeError | None = None
    if charset in ("auto", "utf8mb4"):
        try:
            body.decode("utf-8")
            return body, _SourceOffsets(body, bom, None)
        except UnicodeDecodeError as exc:
            utf8_error = exc
        if charset == "utf8mb4":
            raise _decoding_error(
                data,
                bom + utf8_error.start,
                path,
                "is not valid UTF-8 although mydumper.character-set is 'utf8mb4'; convert the file to UTF-8, "
                "or set mydumper.character-set to its encoding ('gb18030', 'latin1') or to 'auto'",
            )
    # latin1 is MySQL's (Windows-1252 with its five holes as C1 controls): it reads any bytes.
    encoding = lookup_charset("gb18030" if charset in ("auto", "utf8mb4") else charset)
    assert encoding is not None
    try:
        text = encoding.decode(body)
    except UnicodeDecodeError as exc:
        if utf8_error is not None:
            message = (
                f"is neither UTF-8 (invalid at byte {bom + utf8_error.start}) nor GB18030, the encodings "
                "mydumper.character-set = 'auto' tries; convert the file to UTF-8, or set "
                "mydumper.character-set to its encoding ('latin1') or to 'binary'"
            )
        else:
            message = (
                f"is not valid {charset.upper()} although mydumper.character-set is {charset!r}; convert the "
                "file, or set mydumper.character-set to its encoding or to 'auto'"
            )
        raise _decoding_error(data, bom + exc.start, path, message) from None
    if utf8_error is not None:
        logger.info("%s is not UTF-8; reading it as GB18030 (mydumper.character-set = 'auto')", path)
    utf8 = text.encode("utf-8")
    return utf8, _SourceOffsets(utf8, bom, encoding)


def _decoding_error(data: bytes, offset: int, path: str, message: str) -> ParseError:
    line = data.count(b"\n", 0, offset) + 1
    return ParseError(path, offset, message, line=line, excerpt=data[offset : offset + 16])


# --- the session the CREATE was written for ------------------------------------------------------------

_SET_CONNECTION = re.compile(
    rb"\bSET[\t-\r ]+NAMES[\t-\r ]+['\"`]?([0-9A-Za-z_]+)"
    rb"|\bcharacter_set_connection[\t-\r ]*:?=[\t-\r ]*['\"`]?([0-9A-Za-z_]+)"
    rb"|\bcollation_connection[\t-\r ]*:?=[\t-\r ]*['\"`]?([0-9A-Za-z]+)_",
    re.I,
)


def connection_charset(schema_file: SchemaFile) -> str | None:
    """The connection character set the file sets before its CREATE (``SET NAMES gbk``), when it is one
    that can change the CREATE's string literals: not binary, not UTF-8; else None.

    The server converts a string literal of a statement into the connection charset, whatever the client
    charset: ``mariadb-dump --default-character-set=gbk`` writes ``SET NAMES gbk``, then the CREATE in
    UTF-8 under ``SET character_set_client = utf8mb4``, and ``mariadb < file`` stores ``SET('ö')`` as
    ``SET('?')`` (gbk has no ö) — as the data file, written in gbk, then spells it. Running the CREATE
    with the same connection charset makes the table the one the data was dumped for. (``binary`` is
    left out on purpose: mydumper's ``SET NAMES binary`` would turn UTF-8 text into latin1 mojibake.)
    """
    found: str | None = None
    for statement in schema_file.statements:
        if statement.sql == schema_file.create_sql:
            break
        for match in _SET_CONNECTION.finditer(statement.sql):
            name = next(g for g in match.groups() if g is not None).decode("ascii").lower()
            if name != "default":
                found = name
    charset = lookup_charset(found)
    return None if charset is None or charset.codec == "utf-8" else charset.name


# --- preparing the DDL for the target -----------------------------------------------------------------


def rewrite_create(
    schema_file: SchemaFile,
    *,
    target_schema: str,
    target_name: str = "",
    server: ServerVersion,
    source_schema: str | None = None,
    keep_definer: bool = False,
) -> list[str]:
    """The statements that create ``schema_file``'s object on the target, idempotently, under its target name.

    - database: ``CREATE DATABASE IF NOT EXISTS `target_schema` <options as written>`` (``target_name`` is
      not used);
    - table: ``CREATE TABLE IF NOT EXISTS `target_schema`.`target_name` <the rest as written>``;
    - view: ``USE `target_schema```, then ``CREATE OR REPLACE [ALGORITHM=..] SQL SECURITY INVOKER VIEW
      `s`.`v` AS ...``. The ``USE`` makes unqualified names in the view's query mean tables of the target
      schema, as they meant the view's own schema in the source; it changes the session's current
      database. Nothing is dropped: the dumps' ``DROP TABLE IF EXISTS`` of their placeholder table is not
      run (the placeholder is never created), and ``OR REPLACE`` fails on an existing table instead of
      replacing it. ``DEFINER`` and ``SQL SECURITY`` are rewritten by :func:`definer_clauses`: by default
      the view reads with the privileges of whoever queries it, not of its creator; ``keep_definer``
      keeps them as the dump wrote them. ``source_schema`` is the schema the view belongs to in the dump
      (from its file name); names qualified with it in the view's query are renamed to ``target_schema``,
      since the dump's tables of that schema are imported there. (MariaDB qualifies them in ``SHOW CREATE
      VIEW`` when, for one, the view's definer does not exist.)

    Statements are adapted to ``server`` as the module's docstring describes. Executable comments in the
    head of the statement (mysqldump's ``/*!50001 CREATE ALGORITHM=UNDEFINED */``) are resolved as ``server``
    would resolve them; elsewhere they are kept for the server to read.
    """
    kind = schema_file.kind
    if kind != "database" and not target_name:
        raise ValueError(f"rewrite_create needs target_name for a {kind}")
    origin = _create_origin(schema_file)
    sql = schema_file.create_sql
    parsed = _tokenize(sql, origin)
    head = _read_create_head(parsed.tokens, sql, origin)
    if head is not None and _executable_comment_in_head(parsed.executable_comments, head):
        sql = _resolve_executable_comments(sql, parsed.executable_comments, server)
        head = _read_create_head(_tokenize(sql, origin).tokens, sql, origin)
    if head is None or head.kind != kind:
        raise origin.error(
            sql,
            0,
            f"this statement does not create a {kind} on {server} (with executable comments resolved for "
            f"it); expected {_CREATE_WORDS[kind]} ...",
        )

    qualified = _sql_bytes(f"{quote_identifier(target_schema)}.{quote_identifier(target_name)}")
    if kind == "database":
        new_head = b"CREATE DATABASE IF NOT EXISTS " + _sql_bytes(quote_identifier(target_schema))
    elif kind == "table":
        new_head = b"CREATE TABLE IF NOT EXISTS " + qualified
    else:
        algorithm = [sql[head.algorithm[0] : head.algorithm[1]]] if head.algorithm is not None else []
        clauses = definer_clauses(sql, head, keep_definer=keep_definer)
        new_head = b" ".join([b"CREATE OR REPLACE", *algorithm, *clauses, b"VIEW", qualified])
    body = sql[head.name_end :]
    source_schema = source_schema if source_schema is not None else head.schema
    if kind == "view" and source_schema is not None and source_schema != target_schema:
        body = _rename_schema_qualifiers(body, source_schema, target_schema, origin)
    rewritten = _adapt_to_server(new_head + body, kind, server, origin)
    create = _sql_text(rewritten)
    if kind != "view":
        return [create]
    return [f"USE {quote_identifier(target_schema)}", create]


SQL_SECURITY_INVOKER = b"SQL SECURITY INVOKER"


def definer_clauses(sql: bytes, head: _CreateHead, *, keep_definer: bool) -> list[bytes]:
    """The ``DEFINER`` and ``SQL SECURITY`` clauses of a rewritten CREATE head.

    A dump's definer is usually a powerful account of the source server; the importing user usually holds
    every privilege of the target. Either way a ``SQL SECURITY DEFINER`` object runs with privileges that
    the people who may query it do not have (a view over ``mysql.user`` in a dump would show the target's
    password hashes to anyone who may read the imported database). So by default the definer is dropped
    (the object belongs to the importing user) and the object runs as ``SQL SECURITY INVOKER``: with the
    privileges of whoever uses it. ``keep_definer`` keeps both as written (the importing user then needs
    the right to create objects for another user, which the precheck verifies).

    :func:`rewrite_definer` applies the same rule to a whole statement of any kind (triggers, routines and
    events, once the import creates them: routines carry ``SQL SECURITY`` among their characteristics,
    triggers and events have none and always run as their definer).
    """
    if keep_definer:
        return [sql[span[0] : span[1]] for span in (head.definer, head.sql_security) if span is not None]
    return [SQL_SECURITY_INVOKER] if head.kind == "view" else []


# Routine characteristics (MariaDB's and MySQL's CREATE PROCEDURE / FUNCTION), which sit between the
# parameter list (and a function's RETURNS type) and the body.
_ROUTINE_KINDS = ("procedure", "function")
_TYPE_MODIFIERS = ("UNSIGNED", "SIGNED", "ZEROFILL", "BINARY", "ASCII", "UNICODE", "BYTE")


def rewrite_definer(sql: bytes, *, keep_definer: bool, path: str = "") -> bytes:
    """``sql``, a CREATE VIEW / PROCEDURE / FUNCTION / TRIGGER / EVENT, with the definer rule applied.

    By default the ``DEFINER`` clause is removed (the object belongs to the importing user) and views and
    routines get ``SQL SECURITY INVOKER`` (replacing the one written, or added before a routine's body);
    triggers and events have no such clause and run as their (now the importing) user. ``keep_definer``
    returns ``sql`` unchanged. Any other statement is returned unchanged. The rest of the statement is kept
    byte for byte.
    """
    if keep_definer:
        return sql
    origin = _Origin(path)
    tokens = _tokenize(sql, origin).tokens
    head = _read_create_head(tokens, sql, origin)
    if head is None:
        return sql
    edits: list[tuple[int, int, bytes]] = []
    if head.definer is not None:
        edits.append((head.definer[0], head.definer[1], b""))
    if head.kind == "view":
        if head.sql_security is not None:
            edits.append((head.sql_security[0], head.sql_security[1], SQL_SECURITY_INVOKER))
        else:
            view_word = next(t for t in tokens if t.is_word("VIEW"))
            edits.append((view_word.start, view_word.start, SQL_SECURITY_INVOKER + b" "))
    elif head.kind in _ROUTINE_KINDS:
        edit = _routine_security_edit(tokens, head, sql)
        if edit is not None:
            edits.append(edit)
    return _apply_edits(sql, edits)


def _routine_security_edit(
    tokens: Sequence[_Token], head: _CreateHead, sql: bytes
) -> tuple[int, int, bytes] | None:
    """The edit that makes a routine ``SQL SECURITY INVOKER``: replace its characteristic, or add one."""
    at = head.body  # just after PROCEDURE / FUNCTION
    if _words_at(tokens, at, "IF", "NOT", "EXISTS"):
        at += 3
    at += 1  # the name
    if at + 1 < len(tokens) and tokens[at].is_symbol("."):
        at += 2
    if at >= len(tokens) or not tokens[at].is_symbol("("):
        return None
    while at < len(tokens) and not (tokens[at].depth == 0 and tokens[at].is_symbol(")")):
        at += 1
    at += 1
    if head.kind == "function" and at < len(tokens) and tokens[at].is_word("RETURNS"):
        at += 2  # RETURNS and the type's name
        if at < len(tokens) and tokens[at].is_symbol("("):
            while at < len(tokens) and not (tokens[at].depth == 0 and tokens[at].is_symbol(")")):
                at += 1
            at += 1
        while at < len(tokens):
            if tokens[at].is_word(*_TYPE_MODIFIERS):
                at += 1
            elif tokens[at].is_word("CHARSET", "COLLATE"):
                at += 2
            elif _words_at(tokens, at, "CHARACTER", "SET"):
                at += 3
            else:
                break
    while at < len(tokens):
        token = tokens[at]
        if _words_at(tokens, at, "SQL", "SECURITY") and at + 2 < len(tokens):
            return token.start, tokens[at + 2].end, SQL_SECURITY_INVOKER
        if token.is_word("COMMENT"):
            at += 2
        elif token.is_word("LANGUAGE") or _words_at(tokens, at, "NOT", "DETERMINISTIC"):
            at += 2
        elif token.is_word("DETERMINISTIC"):
            at += 1
        elif _words_at(tokens, at, "CONTAINS", "SQL") or _words_at(tokens, at, "NO", "SQL"):
            at += 2
        elif any(_words_at(tokens, at, word, "SQL", "DATA") for word in ("READS", "MODIFIES")):
            at += 3
        else:
            break
    where = tokens[at].start if at < len(tokens) else len(sql)
    return where, where, SQL_SECURITY_INVOKER + b" "


def schema_file_definer(schema_file: SchemaFile) -> str | None:
    """The account the CREATE statement names as ``DEFINER`` (``'root'@'localhost'``, or ``CURRENT_USER``),
    with executable comments read as a server that runs them all (the definer clause of mysqldump's
    ``/*!50013 DEFINER=... */``); ``None`` without a ``DEFINER`` clause."""
    origin = _create_origin(schema_file)
    sql = schema_file.create_sql
    tokens = _tokenize(sql, origin).tokens
    head = _read_create_head(tokens, sql, origin)
    if head is None or head.definer is None:
        return None
    inside = [t for t in tokens if head.definer[0] <= t.start and t.end <= head.definer[1]]
    user = [t for t in inside[1:] if not t.is_symbol("=")]
    if user and user[0].is_word("CURRENT_USER"):
        return "CURRENT_USER"
    parts = [_account_part(t) for t in user if not t.is_symbol("@")]
    if not parts:
        return None
    return "@".join("'" + p.replace("'", "''") + "'" for p in parts)


def _account_part(token: _Token) -> str:
    if token.kind is _TokenKind.STRING:
        quote = token.raw[:1]
        return token.raw[1:-1].replace(quote * 2, quote).decode("utf-8", "surrogateescape")
    return _identifier(token) or ""


@dataclass(frozen=True, slots=True)
class SkippedStatement:
    """A statement of a schema file that ``restore_schema`` does not run.

    ``what`` names its kind (``GRANT``, ``DROP DATABASE``, ``CREATE TRIGGER``); ``by_design`` is true for what
    the dumpers always write around a CREATE (``DROP TABLE IF EXISTS`` of the object itself, the
    placeholder ``CREATE TABLE`` of a view): normal output, not worth the user's attention.
    """

    statement: Statement
    what: str
    by_design: bool


# Session statements the dumpers write around every CREATE: they belong to the dumping session.
_SET_NOT_SESSION = ("GLOBAL", "PERSIST", "PERSIST_ONLY", "PASSWORD", "ROLE", "DEFAULT")


def statements_not_run(schema_file: SchemaFile) -> list[SkippedStatement]:
    """The statements of ``schema_file`` other than its CREATE and the session settings dumpers write.

    ``restore_schema`` runs only the CREATE (see :func:`rewrite_create`); everything else listed here is
    skipped, and the precheck tells the user so (a ``GRANT`` not applied, a trigger not created).
    """
    skipped: list[SkippedStatement] = []
    for statement in schema_file.statements:
        if statement.sql == schema_file.create_sql:
            continue
        origin = _Origin(schema_file.path, statement.offset, statement.line)
        try:
            tokens = _tokenize(statement.sql, origin).tokens
        except ParseError:
            skipped.append(SkippedStatement(statement, _statement_summary(statement.sql), False))
            continue
        if not tokens:
            continue
        first = tokens[0].raw.upper().decode("ascii", "replace")
        session_set = first == "SET" and not (len(tokens) > 1 and tokens[1].is_word(*_SET_NOT_SESSION))
        if first == "USE" or session_set:
            continue
        what, by_design = _describe_skipped(tokens, statement.sql, origin, schema_file)
        skipped.append(SkippedStatement(statement, what, by_design))
    return skipped


def _describe_skipped(
    tokens: Sequence[_Token], sql: bytes, origin: _Origin, schema_file: SchemaFile
) -> tuple[str, bool]:
    first = tokens[0].raw.upper().decode("ascii", "replace")
    if first == "CREATE":
        try:
            head = _read_create_head(tokens, sql, origin)
        except ParseError:
            head = None
        if head is None:
            return "CREATE", False
        # A view's file may create a placeholder table of the view's own name first (mydumper does).
        placeholder = schema_file.kind == "view" and head.kind == "table" and head.name == schema_file.name
        return f"CREATE {head.kind.upper()}", placeholder
    if first == "DROP" and len(tokens) > 1:
        object_word = tokens[1].raw.upper().decode("ascii", "replace")
        at = 2
        if object_word == "TEMPORARY" and len(tokens) > 2:
            object_word = tokens[2].raw.upper().decode("ascii", "replace")
            at = 3
        if_exists = _words_at(tokens, at, "IF", "EXISTS")
        names = [_identifier(t) for t in tokens[at + 2 if if_exists else at :] if not t.is_symbol(".")]
        # mydumper and mysqldump drop the object itself (or its placeholder) before creating it.
        own = (
            object_word in ("TABLE", "VIEW")
            and if_exists
            and schema_file.kind in ("table", "view")
            and names[-1:] == [schema_file.name]
            and len(names) <= 2
        )
        return f"DROP {object_word}", own
    if first == "SET" and len(tokens) > 1:
        return f"SET {tokens[1].raw.upper().decode('ascii', 'replace')}", False
    return first, False


# Names read from a "binary" schema file keep bytes that are not UTF-8 as surrogate escapes; these two
# carry them between text and bytes unchanged.
def _sql_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _sql_text(sql: bytes) -> str:
    return sql.decode("utf-8", "surrogateescape")


def _rename_schema_qualifiers(sql: bytes, source: str, target: str, origin: _Origin) -> bytes:
    """``sql`` with ``source`` renamed to ``target`` where it qualifies a name (``source.x``, not
    ``t.source``)."""
    tokens = _tokenize(sql, origin).tokens
    replacement = _sql_bytes(quote_identifier(target))
    edits = [
        (token.start, token.end, replacement)
        for at, token in enumerate(tokens)
        if _identifier(token) == source
        and at + 1 < len(tokens)
        and tokens[at + 1].is_symbol(".")
        and not (at > 0 and tokens[at - 1].is_symbol("."))
    ]
    return _apply_edits(sql, edits)


def _create_origin(schema_file: SchemaFile) -> _Origin:
    for statement in schema_file.statements:
        if statement.sql == schema_file.create_sql:
            return _Origin(schema_file.path, statement.offset, statement.line)
    return _Origin(schema_file.path)


def _executable_comment_in_head(comments: Sequence[_ExecutableComment], head: _CreateHead) -> bool:
    return any(c.start < head.name_end for c in comments)


def _server_runs(comment: _ExecutableComment, server: ServerVersion) -> bool:
    """Whether ``server`` runs the content of an executable comment (checked against the servers)."""
    version = comment.version
    if comment.marker == "T!":
        return server.flavor is ServerFlavor.TIDB
    if comment.marker == "M!":
        return server.flavor is ServerFlavor.MARIADB and (version is None or server.version_number >= version)
    if server.flavor is ServerFlavor.TIDB or version is None:
        return True  # TiDB runs every /*! comment, whatever its version
    if server.flavor is ServerFlavor.MARIADB and 50700 <= version <= 99999:
        return False  # MariaDB skips comments meant for MySQL 5.7 and later
    return server.version_number >= version


def _resolve_executable_comments(
    sql: bytes, comments: Sequence[_ExecutableComment], server: ServerVersion
) -> bytes:
    """``sql`` with each executable comment either opened up (the server runs it) or removed."""
    edits: list[tuple[int, int, bytes]] = []
    for comment in comments:
        if _server_runs(comment, server):
            edits.append((comment.start, comment.header_end, b" "))
            edits.append((comment.close_start, comment.end, b" "))
        else:
            edits.append((comment.start, comment.end, b" "))
    return _apply_edits(sql, edits).strip()


def _apply_edits(sql: bytes, edits: Iterable[tuple[int, int, bytes]]) -> bytes:
    pieces: list[bytes] = []
    done = 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < done:
            continue  # inside an edit already made
        pieces += [sql[done:start], replacement]
        done = end
    pieces.append(sql[done:])
    return b"".join(pieces)


# Options of MySQL 8 that MariaDB rejects ("Unknown option" or a syntax error); value after an optional "=".
_MYSQL_ONLY_TABLE_OPTIONS = (
    "ENCRYPTION",
    "COMPRESSION",
    "AUTOEXTEND_SIZE",
    "SECONDARY_ENGINE",
    "ENGINE_ATTRIBUTE",
    "SECONDARY_ENGINE_ATTRIBUTE",
)
_MYSQL_ONLY_COLUMN_OPTIONS = ("ENGINE_ATTRIBUTE", "SECONDARY_ENGINE_ATTRIBUTE")


def _adapt_to_server(sql: bytes, kind: str, server: ServerVersion, origin: _Origin) -> bytes:
    tokens = _tokenize(sql, origin).tokens
    edits: list[tuple[int, int, bytes]] = []
    for at, token in enumerate(tokens):
        if not token.is_word("COLLATE"):
            continue
        value_at = _skip_equals(tokens, at + 1)
        if value_at >= len(tokens) or tokens[value_at].kind is _TokenKind.SYMBOL:
            continue
        value = tokens[value_at]
        collation = value.raw.strip(b"`'\"").decode("utf-8", "replace")
        mapped = collation_for_server(collation, server)
        if mapped != collation:
            logger.info(
                "%s: collation %s does not exist on %s; using %s", origin.path, collation, server, mapped
            )
            edits.append((value.start, value.end, mapped.encode()))
    if server.flavor is ServerFlavor.MARIADB and kind in ("database", "table"):
        edits += _mysql_only_options(tokens, kind)
    return _apply_edits(sql, edits)


def _mysql_only_options(tokens: Sequence[_Token], kind: str) -> list[tuple[int, int, bytes]]:
    """Edits removing MySQL 8 table, database and column options that MariaDB rejects."""
    edits: list[tuple[int, int, bytes]] = []
    # Table options follow the column list, at depth 0; the head (CREATE ... name) is plain and option-free.
    after_columns = kind == "database"
    for at, token in enumerate(tokens):
        if token.depth == 0 and token.is_symbol(")"):
            after_columns = True
        if token.depth == 0 and after_columns and token.is_word("AS", "SELECT", "LIKE", "PARTITION"):
            break
        in_columns = kind == "table" and token.depth == 1 and not after_columns
        if token.depth == 0 and after_columns and token.is_word(*_MYSQL_ONLY_TABLE_OPTIONS):
            edit = _option_edit(tokens, at, values=(_TokenKind.STRING, _TokenKind.WORD))
        elif in_columns and token.is_word(*_MYSQL_ONLY_COLUMN_OPTIONS):
            edit = _option_edit(tokens, at, values=(_TokenKind.STRING,))
        elif in_columns and token.is_word("SRID") and at + 1 < len(tokens) and tokens[at + 1].raw.isdigit():
            edit = (token.start, tokens[at + 1].end, b"")
        else:
            continue
        if edit is not None:
            edits.append(edit)
    return edits


def _option_edit(
    tokens: Sequence[_Token], at: int, *, values: tuple[_TokenKind, ...]
) -> tuple[int, int, bytes] | None:
    """The edit removing ``[,] [DEFAULT] NAME [=] value`` whose NAME is at ``at``."""
    value_at = _skip_equals(tokens, at + 1)
    if value_at >= len(tokens) or tokens[value_at].kind not in values:
        return None
    begin = at - 1 if at > 0 and tokens[at - 1].is_word("DEFAULT") else at
    if begin > 0 and tokens[begin - 1].is_symbol(","):
        begin -= 1
    return tokens[begin].start, tokens[value_at].end, b""


# --- collations ---------------------------------------------------------------------------------------

# MySQL's language codes in utf8mb4_<code>_0900_* and MariaDB's names in utf8mb4_uca1400_<name>_*.
_MYSQL_TO_MARIADB_LANGUAGE = {
    "cs": "czech",
    "da": "danish",
    "de_pb": "german2",
    "eo": "esperanto",
    "es": "spanish",
    "es_trad": "spanish2",
    "et": "estonian",
    "hr": "croatian",
    "hu": "hungarian",
    "is": "icelandic",
    "la": "roman",
    "lt": "lithuanian",
    "lv": "latvian",
    "nb": "danish",  # MySQL's Norwegian collations sort as Danish
    "nn": "danish",
    "pl": "polish",
    "ro": "romanian",
    "sk": "slovak",
    "sl": "slovenian",
    "sv": "swedish",
    "tr": "turkish",
    "vi": "vietnamese",
}
_MARIADB_TO_MYSQL_LANGUAGE = {
    name: code for code, name in _MYSQL_TO_MARIADB_LANGUAGE.items() if code not in ("nb", "nn")
}
_MYSQL_0900 = re.compile(r"utf8mb4_(?:([a-z_]+?)_)?0900_(ai_ci|as_ci|as_cs|as_cs_ks|bin)")
_MARIADB_UCA1400 = re.compile(
    r"utf8mb4_uca1400_(?:(?!nopad_)([a-z0-9]+)_)?(?:nopad_)?(ai_ci|ai_cs|as_ci|as_cs)"
)


def collation_for_server(collation: str, server: ServerVersion) -> str:
    """The collation to use on ``server`` for one written by another server (the same name if it exists).

    For MariaDB: ``utf8mb4_[<lang>_]0900_<strength>`` -> ``utf8mb4_uca1400_[<language>_]nopad_<strength>``
    (MariaDB >= 10.10; before, ``utf8mb4_unicode_520_nopad_ci`` for ``ai_ci`` and ``utf8mb4_nopad_bin`` for
    the accent-sensitive ones, the closest that never makes two distinct values equal), and
    ``utf8mb4_0900_bin`` -> ``utf8mb4_nopad_bin``. For MySQL >= 8.0: MariaDB's ``uca1400`` collations ->
    the ``0900`` one of the same language (``as_cs`` where MySQL lacks the strength), ``*_nopad_*`` -> the
    PAD SPACE sibling (``utf8mb4_nopad_bin`` -> ``utf8mb4_0900_bin``). TiDB: unchanged.
    """
    lower = collation.lower()
    if server.flavor is ServerFlavor.MARIADB:
        return _mariadb_collation(lower, server.version) or collation
    if server.flavor is ServerFlavor.MYSQL and server.version >= (8, 0):
        return _mysql_collation(lower, server.version) or collation
    return collation


def _mariadb_collation(collation: str, version: tuple[int, ...]) -> str | None:
    found = _MYSQL_0900.fullmatch(collation)
    if found is None:
        return None
    language, strength = found.groups()
    if strength == "bin":
        return "utf8mb4_nopad_bin"
    strength = strength[:5]  # kana sensitivity (_ks) has no MariaDB counterpart
    if version >= (10, 10):
        mariadb_language = _MYSQL_TO_MARIADB_LANGUAGE.get(language or "")
        return f"utf8mb4_uca1400_{mariadb_language + '_' if mariadb_language else ''}nopad_{strength}"
    return "utf8mb4_unicode_520_nopad_ci" if strength == "ai_ci" else "utf8mb4_nopad_bin"


def _mysql_collation(collation: str, version: tuple[int, ...]) -> str | None:
    if collation == "utf8mb4_nopad_bin":
        return "utf8mb4_0900_bin" if version >= (8, 0, 17) else "utf8mb4_bin"
    found = _MARIADB_UCA1400.fullmatch(collation)
    if found is not None:
        language = _MARIADB_TO_MYSQL_LANGUAGE.get(found.group(1) or "")
        strength = found.group(2)
        # MySQL has ai_ci and as_cs for every language, as_ci only for the root collation.
        if strength == "ai_cs" or (strength == "as_ci" and language):
            strength = "as_cs"
        return f"utf8mb4_{language + '_' if language else ''}0900_{strength}"
    if "_nopad_" in collation and "uca1400" not in collation:
        return collation.replace("_nopad_", "_")
    return None
