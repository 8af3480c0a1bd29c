"""Streaming parser of SQL data files: rows of the INSERT statements mydumper, Dumpling and mysqldump write.

A data file is a stream of statements. ``INSERT [IGNORE] INTO`` and ``REPLACE INTO`` statements carry rows;
everything else (``SET``, ``LOCK TABLES``, ``/*!40101 ... */`` directives, comments, ``BEGIN``/``COMMIT``) is
skipped. The parser reads the stream in blocks and yields one row at a time with the byte offset right after
the row's closing parenthesis: the offset a checkpoint records, from which a new parser continues with exactly
the next row.

Two paths share the work:

- the **fast path** matches a whole row tuple with one compiled regular expression. It accepts the tuples
  that dumpers write (quoted strings, numbers, ``NULL``, ``TRUE``/``FALSE``, hex and bit literals, whitespace)
  and runs at C speed;
- the **slow path** is a tokenizer that reads everything else the parser accepts (comments inside rows,
  charset introducers such as ``_binary'...'``, adjacent strings, ``COLLATE``, ``CONVERT(... USING ...)``),
  the statement headers and the statements it skips, works across block boundaries, and produces the
  error messages.

Values are those of :mod:`~airflow_provider_lightning.core.mydump.values`: a quoted string becomes ``bytes``
with its escapes resolved the way MySQL resolves them (``\\%`` and ``\\_`` keep their backslash), a number
a :class:`~.values.Number` as written, a hex or bit literal a :class:`~.values.BinaryLiteral`, ``NULL``
``None``.
A string with a charset introducer (``_utf8mb4 0x41``) is a string in MySQL, so it becomes plain ``bytes``.
"""

from __future__ import annotations

import binascii
import functools
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, ContextManager

from airflow_provider_lightning.core.charsets import MysqlCharset
from airflow_provider_lightning.core.charsets import is_known as is_known_charset
from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.charsets import two_byte_lexer
from airflow_provider_lightning.core.errors import ParseError
from airflow_provider_lightning.core.mydump.parser import ChunkSource, RowEncoding
from airflow_provider_lightning.core.mydump.values import BinaryLiteral, Number, Value
from airflow_provider_lightning.core.storage import open_source_file

__all__ = ["SqlParser", "charset_before", "decode_row"]

log = logging.getLogger(__name__)

STATEMENTS = ("INSERT", "INSERT IGNORE", "REPLACE")

# --- the fast path: one regular expression per row ------------------------------------------------------
#
# The string bodies are written as *positive* byte sets ("any byte but the quote and the backslash"):
# CPython's regex engine scans a positive bitmap set about three times faster than the equivalent negated set.
_WS = rb"[\t-\r ]*"
_SQ_BODY = rb"[\x00-&(-\[\]-\xff]*(?:(?:\\.|'')[\x00-&(-\[\]-\xff]*)*"
_DQ_BODY = rb'[\x00-!#-\[\]-\xff]*(?:(?:\\.|"")[\x00-!#-\[\]-\xff]*)*'
_BQ_BODY = rb"[^`]*(?:``[^`]*)*"
# hex and bit literals come before numbers, so that ``0x41`` is never read as the number 0 followed by junk
_HEX_OR_BIT = rb"0x[0-9a-fA-F]+|[xX]'(?:[0-9a-fA-F][0-9a-fA-F])*'|0b[01]+|[bB]'[01]*'"
_NUMBER = rb"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_KEYWORD = rb"[Nn][Uu][Ll][Ll]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]"


def _value_pattern(sq_body: bytes, dq_body: bytes) -> bytes:
    string = b'"' + dq_body + b'"|\'' + sq_body + b"'"
    # MySQL 8's mysqldump writes every BLOB, BINARY and BIT value as _binary '...'
    binary_string = rb"_[Bb][Ii][Nn][Aa][Rr][Yy]" + _WS + b"(?:" + string + b")"
    return b"(?:" + b"|".join((string, _HEX_OR_BIT, _NUMBER, _KEYWORD, binary_string)) + b")"


def _tuple_pattern(value: bytes) -> bytes:
    return rb"\(" + _WS + b"(?:" + value + _WS + b"(?:," + _WS + value + _WS + rb")*)?\)"


_VALUE = _value_pattern(_SQ_BODY, _DQ_BODY)
_TUPLE = _tuple_pattern(_VALUE)

_FIRST_ROW = re.compile(_WS + b"(" + _TUPLE + b")", re.S)  # after VALUES, or after a ',' the slow path read
_NEXT_ROW = re.compile(_WS + b"," + _WS + b"(" + _TUPLE + b")", re.S)  # after a row
_FAST_TUPLE = re.compile(_TUPLE, re.S)
# In a tuple the fast grammar accepts, this finds exactly its values, each followed by its separator.
_FAST_VALUE = re.compile(b"(" + _VALUE + b")" + _WS + b"[,)]" + _WS, re.S)
# The end of a statement, the header of the next INSERT and its first row, in one match: files of one-row
# statements (mysqldump --skip-extended-insert) stay on the fast path. The header's text is only captured
# here; the tokenizer reads it (once per distinct header).
_HEADER = (
    rb"(?:INSERT|REPLACE|insert|replace)[\t-\r ]"
    rb"(?:[\t-\r 0-9A-Za-z_$.,()]|`[^`]*`)*?"
    rb"(?:VALUES|values|VALUE|value)"
)
_NEXT_STATEMENT = re.compile(_WS + b";" + _WS + b"(" + _HEADER + b")" + _WS + b"(" + _TUPLE + b")", re.S)

# --- the slow path: a tokenizer -------------------------------------------------------------------------
#
# Every alternative that can run long has a form for "unterminated" input that runs to the end of the data,
# so that a token cut by the end of a block always reaches the end of the buffer: the rule "a token that
# ends at the end of the buffer may continue in the next block" is then enough to work for any block size.
_WORD_TEXT = rb"[0-9A-Za-z_$\x80-\xff]+"


def _token_pattern(sq_body: bytes, dq_body: bytes, bq_body: bytes, word: bytes) -> re.Pattern[bytes]:
    return re.compile(
        rb"([\t-\r ]+|--(?=[\x00-\x20]|\Z)[^\n]*|\#[^\n]*|/\*.*?\*/)"  # 1: whitespace or a comment
        rb"|(/\*.*)"  # 2: a comment that is not closed in the data at hand
        # 3: a quoted string or identifier. Never closed by the first quote of a doubled pair: when the data
        # at hand ends inside a string, backtracking would otherwise find such a shorter "string" that ends
        # early.
        rb"|('" + sq_body + rb"'(?!')|\"" + dq_body + rb"\"(?!\")|`" + bq_body + rb"`(?!`))"
        rb"|(['\"`].*)"  # 4: a quote that is not closed in the data at hand
        rb"|(0x[0-9a-fA-F]+|0b[01]+|[xXbB]'[^']*')"  # 5: a hex or bit literal (digits checked when decoded)
        rb"|(" + _NUMBER + rb")"  # 6: a number
        rb"|(" + word + rb")"  # 7: a word: keyword, identifier, charset introducer
        rb"|(.)",  # 8: one byte of anything else (punctuation)
        re.S,
    )


_TOKEN = _token_pattern(_SQ_BODY, _DQ_BODY, _BQ_BODY, _WORD_TEXT)
_SPACE, _OPEN_COMMENT, _QUOTED, _OPEN_QUOTE, _HEX_BIT, _NUM, _WORD, _PUNCT = range(1, 9)
_EOF = 0

# Whitespace and comments that are complete whatever follows them: skipped (and forgotten) before a step, so
# that long runs of them never have to stay in the buffer.
_INSIGNIFICANT = re.compile(rb"(?:[\t-\r ]+|--(?=[\x00-\x20])[^\n]*\n|\#[^\n]*\n|/\*.*?\*/)+", re.S)
_DELIMITER_RESET = re.compile(rb"^[\t ]*[Dd][Ee][Ll][Ii][Mm][Ii][Tt][Ee][Rr][\t ]+;", re.M)

# --- session settings that decide how string literals are read ----------------------------------------
#
# `mysql < file` reads a file's strings in the client character set the file sets: SET NAMES x,
# SET CHARACTER SET x, SET character_set_client = x (mysqldump saves and restores it through a user
# variable), at top level or inside /*!NNNNN ... */ comments, which the server executes.
_EXECUTABLE_COMMENT = re.compile(rb"/\*[Mm]?!(?:[0-9]{5,6})?(.*?)\*/", re.S)
_CHARSET_WORDS = re.compile(rb"names|character_set_client|character[\t-\r ]+set", re.I)
_SET_NAMES = re.compile(
    rb"\bSET[\t-\r ]+(?:NAMES|CHARACTER[\t-\r ]+SET|CHARSET)[\t-\r ]+(['\"`]?)([0-9A-Za-z_]+)\1", re.I
)
_SET_CLIENT = re.compile(
    rb"(?:@@(?:SESSION\.|LOCAL\.)?|\b(?:SESSION|LOCAL)[\t-\r ]+|\b)character_set_client[\t-\r ]*:?=[\t-\r ]*"
    rb"(@[0-9A-Za-z_$.]+|(['\"`]?)[0-9A-Za-z_]+\2)",
    re.I,
)
_SAVE_CLIENT = re.compile(
    rb"@([0-9A-Za-z_$.]+)[\t-\r ]*:?=[\t-\r ]*@@(?:SESSION\.)?character_set_client\b", re.I
)

_BOM = b"\xef\xbb\xbf"
# Bytes that never stand outside a quoted string in SQL text (whitespace \t..\r aside).
_CONTROL_BYTES = frozenset([*range(0x09), *range(0x0E, 0x20), 0x7F])
_COMPRESSED_MAGIC = (
    (b"\x1f\x8b", "gzip", ".gz"),
    (b"\x28\xb5\x2f\xfd", "zstd", ".zst"),
    (b"\xff\x06\x00\x00", "snappy", ".snappy"),
)
_SEMICOLON, _COMMA, _OPEN, _CLOSE, _DOT = b";,()."
_SQ_CHAR, _DQ_CHAR, _BQ_CHAR, _BACKSLASH, _UNDERSCORE = b"'\"`\\_"
_NUMBER_FIRST = b"0123456789-+."
_TRUE = Number(b"1")
_FALSE = Number(b"0")
_EXCERPT = 64
_LOOKAHEAD = 64  # bytes after a token that always decide how it is read (a handful would do)


def _escape_table() -> tuple[bytes, ...]:
    """What a backslash escape stands for, by the byte after the backslash, as MySQL reads it.

    ``\\%`` and ``\\_`` keep their backslash (they matter to LIKE); any other unknown ``\\x`` is ``x``.
    """
    known = {b"0": b"\x00", b"b": b"\x08", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"Z": b"\x1a"}
    known |= {b"%": b"\\%", b"_": b"\\_"}
    return tuple(known.get(bytes((c,)), bytes((c,))) for c in range(256))


_ESCAPED = _escape_table()


def _resolve_escapes(body: bytes, quote: int) -> bytes:
    """A string body with its backslash escapes and doubled quotes resolved.

    Splitting on the backslash does the work in C but for one step per escape: every part after the first
    starts with an escaped byte, except right after an escaped backslash (an empty part).
    """
    parts = iter(body.split(b"\\"))
    quote_text = bytes((quote,))
    first = next(parts)
    resolved = [first.replace(quote_text * 2, quote_text) if quote in first else first]
    append = resolved.append
    for part in parts:
        if part:
            append(_ESCAPED[part[0]])
            rest = part[1:]
        else:  # an escaped backslash: the part after it is plain text
            append(b"\\")
            rest = next(parts, b"")
        append(rest.replace(quote_text * 2, quote_text) if quote in rest else rest)
    return b"".join(resolved)


def _unquoter(resolve_escapes: Callable[[bytes, int], bytes]) -> Callable[[bytes], bytes]:
    def unquote(token: bytes) -> bytes:
        """The value of a quoted string token (``'...'`` or ``"..."``), escapes and doubled quotes
        resolved."""
        body = token[1:-1]
        quote = token[0]
        if _BACKSLASH in body:
            return resolve_escapes(body, quote)
        if quote in body:  # a quote in the body is half of a doubled quote
            return body.replace(token[:1] * 2, token[:1])
        return body

    return unquote


_unquote = _unquoter(_resolve_escapes)


def _binary_literal(token: bytes) -> BinaryLiteral:
    """The bytes of a well-formed ``0x..``, ``X'..'``, ``0b..`` or ``b'..'`` literal."""
    if token[0] == 0x30:  # 0x... / 0b...
        digits, is_hex = token[2:], token[1] == 0x78
    else:  # x'...' / b'...'
        digits, is_hex = token[2:-1], token[0] in b"xX"
    if is_hex:
        if len(digits) % 2:  # 0x414 is 0x0414
            digits = b"0" + digits
        return BinaryLiteral(binascii.unhexlify(digits))
    if not digits:
        return BinaryLiteral(b"")
    return BinaryLiteral(int(digits, 2).to_bytes((len(digits) + 7) // 8, "big"))


def _fast_decoder(
    find_values: Callable[[bytes, int], list[bytes]],
    resolve_escapes: Callable[[bytes, int], bytes],
    unquote: Callable[[bytes], bytes],
) -> Callable[[bytes], list[Value]]:
    """The decoder of the tuples a fast grammar accepts, given how it finds values and reads strings."""

    def decode_fast_tuple(raw: bytes) -> list[Value]:
        """The values of a tuple that the fast grammar accepts (the caller has checked that it does)."""
        values: list[Value] = []
        append = values.append
        for token in find_values(raw, 1):
            first = token[0]
            if first == _DQ_CHAR or first == _SQ_CHAR:
                body = token[1:-1]
                # one-byte searches (memchr) are much cheaper than looking for a doubled quote itself
                if _BACKSLASH in body:
                    body = resolve_escapes(body, first)
                elif first in body:  # a quote in the body is half of a doubled quote
                    body = body.replace(token[:1] * 2, token[:1])
                append(body)
            elif first in _NUMBER_FIRST:
                if first == 0x30 and len(token) > 1 and token[1] in b"xb":
                    append(_binary_literal(token))
                else:
                    append(Number(token))
            elif first in b"nN":
                append(None)
            elif first in b"tT":
                append(_TRUE)
            elif first in b"fF":
                append(_FALSE)
            elif first == _UNDERSCORE:  # _binary '...'
                append(unquote(token[len(b"_binary") :].lstrip()))
            else:
                append(_binary_literal(token))
        return values

    return decode_fast_tuple


_decode_fast_tuple = _fast_decoder(_FAST_VALUE.findall, _resolve_escapes, _unquote)


# --- charsets whose characters can end in a backslash ---------------------------------------------------
#
# In gbk, gb18030, big5, sjis and cp932 the second byte of a character can be 0x5C, the backslash (and
# 0x60, the backquote). The server's lexer, and the mariadb client's, read a string in the connection's
# charset a character at a time (``my_ismbchar``): a lead byte followed by a trail byte is one character,
# so such a 0x5C is never an escape. These files get a grammar of their own that reads the same way; every
# other file (binary, utf8mb4, latin1: no character ends in 0x5C) keeps the byte grammar above, unchanged.


@dataclass(frozen=True, slots=True)
class _Grammar:
    """The compiled patterns and string readers of the fast and slow paths, for one kind of charset."""

    first_row: Callable[..., re.Match[bytes] | None]
    next_row: Callable[..., re.Match[bytes] | None]
    next_statement: Callable[..., re.Match[bytes] | None]
    fast_tuple: re.Pattern[bytes]
    token: Callable[..., re.Match[bytes] | None]
    decode_fast: Callable[[bytes], list[Value]]
    unquote: Callable[[bytes], bytes]


def _grammar(sq_body: bytes, dq_body: bytes, bq_body: bytes, word: bytes, resolve_escapes) -> _Grammar:
    tuple_ = _tuple_pattern(_value_pattern(sq_body, dq_body))
    value = _value_pattern(sq_body, dq_body)
    unquote = _unquoter(resolve_escapes)
    fast_value = re.compile(b"(" + value + b")" + _WS + b"[,)]" + _WS, re.S)
    return _Grammar(
        first_row=re.compile(_WS + b"(" + tuple_ + b")", re.S).match,
        next_row=re.compile(_WS + b"," + _WS + b"(" + tuple_ + b")", re.S).match,
        next_statement=re.compile(
            _WS + b";" + _WS + b"(" + _HEADER + b")" + _WS + b"(" + tuple_ + b")", re.S
        ).match,
        fast_tuple=re.compile(tuple_, re.S),
        token=_token_pattern(sq_body, dq_body, bq_body, word).match,
        decode_fast=_fast_decoder(fast_value.findall, resolve_escapes, unquote),
        unquote=unquote,
    )


_BYTE_GRAMMAR = _Grammar(
    first_row=_FIRST_ROW.match,
    next_row=_NEXT_ROW.match,
    next_statement=_NEXT_STATEMENT.match,
    fast_tuple=_FAST_TUPLE,
    token=_TOKEN.match,
    decode_fast=_decode_fast_tuple,
    unquote=_unquote,
)


@functools.cache  # one per kind of two-byte charset (three at most), compiled when a file first needs it
def _two_byte_grammar(lead: bytes, trail: bytes) -> _Grammar:
    character = b"[" + lead + b"][" + trail + b"]|[" + lead + b"]"  # a whole character, or a lone lead byte

    # Possessive (*+): a lead byte is never given back to let its trail byte be read as an escape or a
    # quote, which a backtracking match would otherwise try when the rest of the row does not match.
    def body(quote: bytes, escapes: bool) -> bytes:
        plain = b"[^" + quote + (rb"\\" if escapes else b"") + lead + b"]++"
        escape = rb"|\\." if escapes else b""
        return b"(?:" + plain + b"|" + character + escape + b"|" + quote + quote + b")*+"

    unescape = {
        quote: re.compile(b"[" + lead + b"][" + trail + rb"]|\\(.)|" + bytes((quote,)) * 2, re.S).sub
        for quote in (_SQ_CHAR, _DQ_CHAR)
    }

    def replace(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped is not None:
            return _ESCAPED[escaped[0]]
        found = match.group()
        return found if found[0] >= 0x80 else found[:1]  # a character as it is; a doubled quote as one

    def resolve_escapes(body_text: bytes, quote: int) -> bytes:
        return unescape[quote](replace, body_text)

    word = b"(?:[" + lead + b"][" + trail + rb"]|[0-9A-Za-z_$\x80-\xff])++"
    return _grammar(body(b"'", True), body(b'"', True), body(b"`", False), word, resolve_escapes)


def _grammar_for(charset: str | None) -> _Grammar:
    """The grammar that reads strings as the server does on a connection in ``charset`` (None: binary)."""
    lexer = two_byte_lexer(lookup_charset(charset))
    return _BYTE_GRAMMAR if lexer is None else _two_byte_grammar(*lexer)


class _NeedMore(Exception):
    """The data at hand ends inside the unit being read: read more and read the unit again."""

    def __init__(self, open_quote: int | None = None) -> None:
        super().__init__()
        self.open_quote = open_quote  # buffer position of a quote still open at the end of the data


class _Window:
    """The bytes of the file at hand (the buffer, or one raw row), where they lie in it, and the slow path."""

    __slots__ = ("buf", "base", "eof", "path", "lines_before", "names_charset", "grammar")

    def __init__(
        self,
        buf: bytes,
        base: int,
        eof: bool,
        path: str,
        lines_before: int | None,
        names_charset: MysqlCharset | None = None,
        grammar: _Grammar = _BYTE_GRAMMAR,
    ) -> None:
        self.buf = buf
        self.grammar = grammar  # how strings are read: the file's client charset decides
        # The charset the file writes identifiers in (what it set with SET NAMES); None: UTF-8.
        self.names_charset = names_charset
        self.base = base  # file offset of buf[0]
        self.eof = eof  # True when buf runs to the end of the file
        self.path = path
        self.lines_before = lines_before  # newlines in the file before buf, or None when not counted

    def error(self, pos: int, message: str) -> ParseError:
        line = None
        if self.lines_before is not None:
            line = self.lines_before + self.buf.count(b"\n", 0, pos) + 1
        return ParseError(
            self.path, self.base + pos, message, line=line, excerpt=self.buf[pos : pos + _EXCERPT]
        )

    def token(self, pos: int) -> tuple[int, int, int]:
        """``(kind, start, end)`` of the next token at or after ``pos``, past whitespace and comments."""
        buf = self.buf
        size = len(buf)
        while True:
            if pos >= size:
                if self.eof:
                    return _EOF, pos, pos
                raise _NeedMore
            match = self.grammar.token(buf, pos)
            assert match is not None  # the last alternative matches any byte
            kind = match.lastindex
            end = match.end()
            if end == size and not self.eof:
                raise _NeedMore(pos if kind == _OPEN_QUOTE else None)
            if kind == _SPACE:
                pos = end
                continue
            if kind == _OPEN_COMMENT:
                raise self.error(pos, "the file ends inside this /* comment; the file is truncated")
            if kind == _OPEN_QUOTE:
                what = "identifier" if buf[pos] == _BQ_CHAR else "string"
                raise self.error(
                    pos,
                    f"unterminated {what}: the quote opened here is never closed; "
                    "the file is truncated or has an unescaped quote",
                )
            return kind, pos, end  # type: ignore[return-value]

    def describe(self, kind: int, start: int, end: int) -> str:
        if kind == _EOF:
            return "the end of the file: the file is truncated"
        return repr(self.buf[start:end][:40].decode("utf-8", "backslashreplace"))

    # --- rows ---------------------------------------------------------------------------------------------

    def row_tuple(self, start: int, decode: bool) -> tuple[int, list[Value]]:
        """Read the row tuple whose ``(`` is at ``start``: its end (after ``)``) and, if asked, its values."""
        values: list[Value] = []
        kind, tok_start, pos = self.token(start + 1)
        if kind == _PUNCT and self.buf[tok_start] == _CLOSE:
            return pos, values
        while True:
            value, pos = self.value(kind, tok_start, pos, start)
            if decode:
                values.append(value)
            kind, tok_start, pos = self.token(pos)
            if kind == _PUNCT:
                punct = self.buf[tok_start]
                if punct == _CLOSE:
                    return pos, values
                if punct == _COMMA:
                    kind, tok_start, pos = self.token(pos)
                    continue
            if kind == _EOF:
                raise self._truncated_row(start)
            raise self.error(
                tok_start, f"expected ',' or ')' after a value, found {self.describe(kind, tok_start, pos)}"
            )

    def _truncated_row(self, row_start: int) -> ParseError:
        return self.error(row_start, "the file ends inside this row; the file is truncated")

    def value(self, kind: int, start: int, end: int, row_start: int) -> tuple[Value, int]:
        """The value that starts with the token ``(kind, start, end)``, and where it ends."""
        buf = self.buf
        if kind == _QUOTED and buf[start] != _BQ_CHAR:
            return self.string(start, end, row_start)
        if kind == _NUM:
            return Number(buf[start:end]), end
        if kind == _HEX_BIT:
            return self.binary(start, end), end
        if kind == _WORD:
            word = buf[start:end].upper()
            if word == b"NULL":
                return None, end
            if word == b"TRUE":
                return _TRUE, end
            if word == b"FALSE":
                return _FALSE, end
            if word == b"CONVERT":
                return self.convert(end, row_start)
            if word in (b"X", b"B") and buf[end : end + 1] == b"'":
                self.token(end)  # x'... with no closing quote: says so (or asks for more data)
            if word[:1] == b"_" or word == b"N":  # a charset introducer: the value is a string
                kind, start, end = self.token(end)
                if kind == _HEX_BIT and word != b"N":
                    return bytes(self.binary(start, end)), self.collation(end)
                if kind == _QUOTED and buf[start] != _BQ_CHAR:
                    return self.string(start, end, row_start)
                if kind == _EOF:
                    raise self._truncated_row(row_start)
                raise self.error(
                    start, f"expected a string after the introducer {word.decode('utf-8', 'replace')}"
                )
        if kind == _EOF:
            raise self._truncated_row(row_start)
        raise self.error(
            start,
            "expected a value (a quoted string, a number, NULL, TRUE, FALSE, or a hex or bit literal), "
            f"found {self.describe(kind, start, end)}",
        )

    def string(self, start: int, end: int, row_start: int) -> tuple[bytes, int]:
        """A quoted string, the strings written right after it (``'a' 'b'`` is ``'ab'``), and a COLLATE."""
        buf = self.buf
        unquote = self.grammar.unquote
        parts = [unquote(buf[start:end])]
        while True:
            kind, next_start, next_end = self.token(end)
            if kind == _QUOTED and buf[next_start] != _BQ_CHAR:
                parts.append(unquote(buf[next_start:next_end]))
                end = next_end
                continue
            return b"".join(parts), self.collation(end)

    def collation(self, end: int) -> int:
        """Skip a ``COLLATE name`` after a string, if there is one; where the value ends."""
        kind, start, word_end = self.token(end)
        if kind != _WORD or self.buf[start:word_end].upper() != b"COLLATE":
            return end
        kind, start, name_end = self.token(word_end)
        if kind == _WORD or (kind == _QUOTED and self.buf[start] != _DQ_CHAR):
            return name_end
        found = self.describe(kind, start, name_end)
        raise self.error(start, f"expected a collation name after COLLATE, found {found}")

    def convert(self, end: int, row_start: int) -> tuple[bytes | None, int]:
        """``CONVERT(<string> USING <charset>)``, as old mydumper versions write JSON values."""
        kind, start, end = self.token(end)
        if kind == _PUNCT and self.buf[start] == _OPEN:
            kind, start, end = self.token(end)
            if kind in (_QUOTED, _WORD, _HEX_BIT):
                value, end = self.value(kind, start, end, row_start)
                if type(value) is not Number:  # a string, a binary literal or NULL
                    kind, start, end = self.token(end)
                    if kind == _WORD and self.buf[start:end].upper() == b"USING":
                        kind, start, end = self.token(end)
                        if kind == _WORD:
                            kind, start, end = self.token(end)
                            if kind == _PUNCT and self.buf[start] == _CLOSE:
                                return (None if value is None else bytes(value)), end
        if kind == _EOF:
            raise self._truncated_row(row_start)
        raise self.error(
            start, f"expected CONVERT(<string> USING <charset>), found {self.describe(kind, start, end)}"
        )

    def binary(self, start: int, end: int) -> BinaryLiteral:
        token = self.buf[start:end]
        if token[0] != 0x30:  # x'...' / b'...' may hold anything between the quotes: check the digits
            digits = token[2:-1]
            if token[0] in b"xX":
                if len(digits) % 2 or digits.strip(b"0123456789abcdefABCDEF"):
                    raise self.error(start, "a hex literal X'...' needs an even number of hex digits")
            elif digits.strip(b"01"):
                raise self.error(start, "a bit literal b'...' may hold only the digits 0 and 1")
        return _binary_literal(token)

    # --- statements -----------------------------------------------------------------------------------

    def identifier(self, kind: int, start: int, end: int, what: str) -> str:
        buf = self.buf
        if kind == _QUOTED and buf[start] in (_BQ_CHAR, _DQ_CHAR):
            quote = buf[start : start + 1]
            name = buf[start + 1 : end - 1].replace(quote * 2, quote)
        elif kind == _WORD:
            name = buf[start:end]
        else:
            raise self.error(start, f"expected {what}, found {self.describe(kind, start, end)}")
        charset = self.names_charset
        try:
            return name.decode("utf-8") if charset is None else charset.decode(name)
        except UnicodeDecodeError:
            what_charset = "UTF-8" if charset is None else charset.name
            raise self.error(start, f"the {what} is not valid {what_charset}") from None

    def insert_header(self, start: int, end: int) -> tuple[str, str, list[str] | None, int]:
        """Read ``INSERT|REPLACE [modifiers] [INTO] [db.]tbl [PARTITION (...)] [(cols)] VALUES``.

        Returns the statement kind, the table name, the column list (None without one) and the end.
        """
        buf = self.buf
        verb = buf[start:end].upper()
        modifiers = (b"LOW_PRIORITY", b"DELAYED", b"HIGH_PRIORITY", b"IGNORE", b"INTO")
        ignore = False
        while True:
            kind, start, end = self.token(end)
            word = buf[start:end].upper() if kind == _WORD else b""
            if word not in modifiers:
                break
            ignore = ignore or word == b"IGNORE"
        if kind == _EOF:
            raise self.error(start, "the file ends inside an INSERT statement; the file is truncated")
        table = self.identifier(kind, start, end, "a table name")
        kind, start, end = self.token(end)
        if kind == _PUNCT and buf[start] == _DOT:
            kind, start, end = self.token(end)
            table = self.identifier(kind, start, end, "a table name after the database name")
            kind, start, end = self.token(end)
        if kind == _WORD and buf[start:end].upper() == b"PARTITION":
            kind, start, end = self.token(end)
            if not (kind == _PUNCT and buf[start] == _OPEN):
                raise self.error(start, "expected '(' and partition names after PARTITION")
            end = self.names(end, "a partition name")[1]
            kind, start, end = self.token(end)
        columns: list[str] | None = None
        if kind == _PUNCT and buf[start] == _OPEN:
            columns, end = self.names(end, "a column name")
            kind, start, end = self.token(end)
        word = buf[start:end].upper() if kind == _WORD else b""
        if word in (b"VALUES", b"VALUE"):
            statement = "REPLACE" if verb == b"REPLACE" else "INSERT IGNORE" if ignore else "INSERT"
            return statement, table, columns, end
        if word in (b"SELECT", b"SET", b"TABLE", b"WITH"):
            raise self.error(
                start,
                f"INSERT ... {word.decode()} statements are not supported; only INSERT ... VALUES rows "
                "can be imported: dump the data with mydumper, Dumpling or mysqldump",
            )
        if kind == _EOF:
            raise self.error(start, "the file ends inside an INSERT statement; the file is truncated")
        raise self.error(start, f"expected VALUES or a column list, found {self.describe(kind, start, end)}")

    def names(self, pos: int, what: str) -> tuple[list[str], int]:
        """A comma-separated list of identifiers after ``(``, up to and including the ``)``."""
        names: list[str] = []
        kind, start, end = self.token(pos)
        if kind == _PUNCT and self.buf[start] == _CLOSE:
            return names, end
        while True:
            if kind == _EOF:
                raise self.error(start, "the file ends inside a column list; the file is truncated")
            names.append(self.identifier(kind, start, end, what))
            kind, start, end = self.token(end)
            if kind == _PUNCT and self.buf[start] == _CLOSE:
                return names, end
            if not (kind == _PUNCT and self.buf[start] == _COMMA):
                found = self.describe(kind, start, end)
                raise self.error(start, f"expected ',' or ')' in the list, found {found}")
            kind, start, end = self.token(end)

    def skip_statement(self, pos: int) -> int:
        """Where the statement being skipped ends: after its ``;``, or at the end of the file."""
        buf = self.buf
        while True:
            kind, start, pos = self.token(pos)
            if kind == _EOF or (kind == _PUNCT and buf[start] == _SEMICOLON):
                return pos
            if kind == _PUNCT and buf[start] in _CONTROL_BYTES:
                # Skipping it would silently drop a whole file: a compressed file without its extension,
                # or not a dump at all.
                raise self.error(start, self._binary_message(start))

    def _binary_message(self, pos: int) -> str:
        message = f"binary data (byte 0x{self.buf[pos]:02X}) where an SQL statement should be"
        head = self.buf[:4] if self.base == 0 else b""
        for magic, name, extension in _COMPRESSED_MAGIC:
            if head.startswith(magic):
                return (
                    f"{message}: the file is {name}-compressed; name it with the {extension} extension "
                    "(or set compression in its [[mydumper.files]] rule)"
                )
        return f"{message}: this is not an SQL text file; check that it is a dump's data file, undamaged"

    def skip_delimiter_block(self, start: int, end: int) -> int:
        """``DELIMITER x`` (a mysql client command): skip to after ``DELIMITER ;`` when x is not ``;``.

        mysqldump writes trigger and routine bodies between such lines; they never hold data rows.
        """
        buf = self.buf
        line_end = buf.find(b"\n", end)
        if line_end < 0:
            if not self.eof:
                raise _NeedMore
            line_end = len(buf)
        if buf[end:line_end].strip() == b";":
            return line_end
        reset = _DELIMITER_RESET.search(buf, line_end)
        if reset is None:
            if not self.eof:
                raise _NeedMore
            return len(buf)
        return reset.end()


def decode_row(raw: bytes, *, path: str = "", offset: int = 0, charset: str | None = None) -> list[Value]:
    """The values of a row tuple as :meth:`SqlParser.iter_raw_rows` yields it (``(1,'a',NULL)``).

    ``charset`` is the client character set the row is read in (None: binary, as in mydumper's files):
    in gbk, big5 or sjis a backslash byte can be the second byte of a character. ``path`` and ``offset``
    (the file offset of ``raw[0]``) only serve the error message. Raises :class:`ParseError` when ``raw``
    is not exactly one row tuple.
    """
    grammar = _grammar_for(charset)
    if grammar.fast_tuple.fullmatch(raw) is not None:
        return grammar.decode_fast(raw)
    source = _Window(raw, offset, True, path, None, grammar=grammar)
    kind, start, end = source.token(0)
    if not (kind == _PUNCT and raw[start] == _OPEN):
        raise source.error(start, f"a row starts with '(', found {source.describe(kind, start, end)}")
    end, values = source.row_tuple(start, decode=True)
    kind, start, _ = source.token(end)
    if kind != _EOF:
        raise source.error(start, "unexpected text after the end of the row")
    return values


def charset_before(
    open_stream: Callable[[], ContextManager[BinaryIO]],
    offset: int,
    *,
    path: str,
    block_size: int = 64 * 1024,
) -> str | None:
    """The client character set a file has set before ``offset`` (a row's end), as :attr:`SqlParser.charset`.

    A chunk that resumes mid-file needs it. Dumps set it in their head, before the first row, so the
    head is parsed and the rest before ``offset`` only searched for the words that could change it (a
    byte search); only a file where they occur is parsed up to ``offset``.
    """
    if offset <= 0:
        return None
    with open_stream() as stream:
        parser = SqlParser(stream, path=path, end_offset=offset, block_size=block_size)
        rows = parser.iter_raw_rows()
        if next(rows, None) is None:
            return parser.charset
        at_first_row = parser.charset
        source = parser._source
        position = source.base + parser._pos
        tail = source.buf[parser._pos :]
        overlap = b""
        changed = False
        while position < offset and not changed:
            if not tail:
                tail = stream.read(max(block_size, 1 << 20))
                if not tail:
                    break
            changed = _CHARSET_WORDS.search(overlap + tail[: offset - position]) is not None
            position += len(tail)
            overlap = tail[-32:]  # a word cut by the block's end
            tail = b""
        if not changed:
            return at_first_row
    with open_stream() as stream:
        parser = SqlParser(stream, path=path, block_size=block_size)
        charset = None
        for _, end in parser.iter_raw_rows():  # (the parser reads on past a row: stop at it, not after)
            if end > offset:
                break
            charset = parser.charset
            if end == offset:
                break
        return charset


# Parser states: where in the grammar the next byte lies.
_STATEMENT = 0  # between statements
_ROW = 1  # a row tuple comes next (after VALUES or after a ',')
_AFTER_ROW = 2  # after a row: ',', ';' or the end of the file
_RESUME = 3  # started at a checkpoint: as _AFTER_ROW, or a new statement
_DONE = 4


class SqlParser:
    """Rows of the INSERT statements of one SQL data file, streamed in blocks.

    :param stream: the (decompressed) file, positioned at ``start_offset``.
    :param path: the file's name, for error messages.
    :param start_offset: the file offset the stream is positioned at: 0, or a row's end offset as this
        parser reported it (then pass the ``columns`` and ``statement`` the parser had at that row).
    :param end_offset: stop after the last row that starts before this offset; None reads to the end.
    :param columns: the column list in force at ``start_offset`` (None: the rows carry every column).
    :param statement: the statement kind in force at ``start_offset``: INSERT, INSERT IGNORE or REPLACE.
    :param charset: the client character set in force at ``start_offset`` (see :attr:`charset`).
    :param default_charset: the charset the strings are read in while the file has set none (the
        ``data-character-set`` the rows are sent in); None: binary.
    :param block_size: how many bytes to read at a time.
    :param max_row_size: the largest row (or skipped statement) accepted; bigger ones are an error, since
        they are usually an unterminated quote that would otherwise pull the whole file into memory.
    :param max_row_size_source: where ``max_row_size`` comes from, for the error message (e.g. the
        target's ``max_allowed_packet``).
    """

    columns: list[str] | None
    statement: str
    table: str | None
    #: The client character set the file has set (``SET NAMES``, ``SET character_set_client``) where the
    #: parser stands, lower-case, ``binary`` included; None while the file has set none.
    charset: str | None

    def __init__(
        self,
        stream: BinaryIO,
        *,
        path: str,
        start_offset: int = 0,
        end_offset: int | None = None,
        columns: Sequence[str] | None = None,
        statement: str = "INSERT",
        block_size: int = 64 * 1024,
        max_row_size: int = 128 * 1024 * 1024,
        charset: str | None = None,
        max_row_size_source: str = "",
        default_charset: str | None = None,
    ) -> None:
        if statement not in STATEMENTS:
            raise ValueError(f"statement must be one of {', '.join(STATEMENTS)}, not {statement!r}")
        if start_offset < 0:
            raise ValueError(f"start_offset must not be negative, not {start_offset}")
        self.columns = list(columns) if columns is not None else None
        self.statement = statement
        self.table = None
        self.charset = charset
        self._saved_charsets: dict[bytes, str | None] = {}  # user variables holding a character set
        self._stream = stream
        self._end_offset = end_offset
        self._block_size = max(1, block_size)
        self._max_row_size = max(1, max_row_size)
        source = f" ({max_row_size_source})" if max_row_size_source else ""
        self._limit = f"{self._max_row_size} bytes{source}"
        self._default_charset = default_charset
        self._grammar = _grammar_for(charset if charset is not None else default_charset)
        self._source = _Window(
            b"",
            start_offset,
            False,
            path,
            0 if start_offset == 0 else None,
            lookup_charset(charset),
            self._grammar,
        )
        self._pos = 0  # position in self._source.buf of the next unread byte
        self._state = _STATEMENT if start_offset == 0 else _RESUME
        self._bom_checked = start_offset != 0
        # the last INSERT header the fast path read, and what it says (statement, table, columns)
        self._header_text: bytes | None = None
        self._header: tuple[str, str, list[str] | None] = (statement, "", None)

    # --- public API ---------------------------------------------------------------------------------------

    def iter_raw_rows(self) -> Iterator[tuple[bytes, int]]:
        """Each row as ``(tuple text, end offset)``: the exact bytes from ``(`` to ``)``, the offset after."""
        return self._rows(decode=False)  # type: ignore[return-value]

    def iter_rows(self) -> Iterator[tuple[list[Value], int]]:
        """Each row as ``(values, end offset)``."""
        return self._rows(decode=True)  # type: ignore[return-value]

    # --- the loop -----------------------------------------------------------------------------------------

    def _rows(self, decode: bool) -> Iterator[tuple[bytes | list[Value], int]]:
        source = self._source
        max_row = self._max_row_size
        while True:
            state = self._state
            if state == _ROW or state == _AFTER_ROW:
                # (The charset, and so the grammar, changes only in the slow path, between statements.)
                grammar = self._grammar
                first_row = grammar.first_row
                next_row = grammar.next_row
                next_statement = grammar.next_statement
                decode_fast = grammar.decode_fast
                buf = source.buf
                base = source.base
                pos = self._pos
                # Past `check` a row may be too large or start at or after end_offset: one comparison per row
                # covers both, as no row in a buffer within the size limit can be too large.
                check = len(buf) if len(buf) <= max_row else 0
                if self._end_offset is not None:
                    check = min(check, self._end_offset - base)
                match = first_row if state == _ROW else next_row
                while True:
                    m = match(buf, pos)
                    if m is not None:
                        row_group = 1
                    elif (
                        match is next_row
                        and (m := next_statement(buf, pos)) is not None
                        and self._enter_statement(m.group(1), base + m.start(1))
                    ):
                        row_group = 2
                    else:
                        break
                    end = m.end()
                    if end > check:
                        start = m.start(row_group)
                        if self._end_offset is not None and base + start >= self._end_offset:
                            self._state = _DONE
                            return
                        if end - start > max_row:
                            raise source.error(start, self._too_large_message())
                    self._pos = pos = end
                    self._state = _AFTER_ROW
                    match = next_row
                    if decode:
                        yield decode_fast(m.group(row_group)), base + end
                    else:
                        yield m.group(row_group), base + end
            elif state == _DONE:
                return
            try:
                row = self._step(decode)
            except _NeedMore as need:
                self._read_more(need)
                continue
            except ParseError as error:
                # A token near the end of the buffer may have been cut short by it ("0e-" of "0e-5", "b" of
                # "b'101'"), making what follows look wrong: read on before believing the error.
                if source.eof or error.offset - source.base + _LOOKAHEAD < len(source.buf):
                    raise
                self._read_more(_NeedMore())
                continue
            if row is not None:
                yield row

    def _enter_statement(self, header: bytes, offset: int) -> bool:
        """Take the statement kind, table and columns from an INSERT header the fast path matched.

        Returns False when the header is anything but plain, so that the slow path reads it (and reports
        its errors with line numbers).
        """
        if header != self._header_text:
            source = _Window(
                header, offset, True, self._source.path, None, self._source.names_charset, self._grammar
            )
            try:
                _, start, end = source.token(0)
                parsed = source.insert_header(start, end)
            except ParseError:
                return False
            if parsed[3] != len(header):
                return False
            self._header_text = header
            self._header = parsed[:3]
        self.statement, self.table, columns = self._header
        self.columns = None if columns is None else list(columns)
        return True

    def _step(self, decode: bool) -> tuple[bytes | list[Value], int] | None:
        """Advance over one unit the fast path did not take: a row, a separator, a statement, or a comment."""
        source = self._source
        buf = source.buf
        pos = self._pos
        if not self._bom_checked:
            if len(buf) < len(_BOM) and not source.eof:
                raise _NeedMore
            self._bom_checked = True
            if buf.startswith(_BOM):  # Lightning skips a UTF-8 byte order mark at the start of a file
                self._pos = len(_BOM)
            return None
        skipped = _INSIGNIFICANT.match(buf, pos)
        state = self._state
        if skipped is not None:
            if (state == _STATEMENT or state == _RESUME) and b"!" in skipped.group():
                for comment in _EXECUTABLE_COMMENT.finditer(skipped.group()):
                    self._note_settings(comment.group(1), source.base + pos + comment.start())
            self._pos = skipped.end()  # (after: an error above is raised again when the step is retried)
            return None
        kind, start, end = source.token(pos)

        if state == _ROW:
            if kind == _PUNCT and buf[start] == _OPEN:
                if self._end_offset is not None and source.base + start >= self._end_offset:
                    self._state = _DONE
                    return None
                row_end, values = source.row_tuple(start, decode)
                if row_end - start > self._max_row_size:
                    raise source.error(start, self._too_large_message())
                self._pos = row_end
                self._state = _AFTER_ROW
                return (values if decode else buf[start:row_end]), source.base + row_end
            if kind == _EOF:
                raise source.error(start, "the file ends where a row should start; the file is truncated")
            found = source.describe(kind, start, end)
            raise source.error(start, f"expected '(' to start a row, found {found}")

        if state == _AFTER_ROW or state == _RESUME:
            if kind == _PUNCT and buf[start] == _COMMA:
                self._pos = end
                self._state = _ROW
            elif kind == _PUNCT and buf[start] == _SEMICOLON:
                self._pos = end
                self._state = _STATEMENT
            elif kind == _EOF:
                self._pos = end
                self._state = _DONE
            elif state == _RESUME and kind == _WORD:  # resumed right at the start of a statement
                self._state = _STATEMENT
            else:
                found = source.describe(kind, start, end)
                if kind == _WORD and buf[start:end].upper() == b"ON":
                    raise source.error(
                        start,
                        "INSERT ... ON DUPLICATE KEY UPDATE is not supported: the rows before it may be "
                        "imported, but its updates would be lost. Load this file with the mariadb client, "
                        "or rewrite it as plain INSERT (or REPLACE INTO, and [conflict] strategy = "
                        '"replace", to keep the newest row)',
                    )
                raise source.error(start, f"expected ',' or ';' after a row, found {found}")
            return None

        # _STATEMENT
        if kind == _EOF:
            self._pos = end
            self._state = _DONE
        elif kind == _PUNCT and buf[start] == _SEMICOLON:
            self._pos = end
        elif kind == _WORD and buf[start:end].upper() in (b"INSERT", b"REPLACE"):
            statement, table, columns, end = source.insert_header(start, end)
            self.statement, self.table, self.columns = statement, table, columns
            self._pos = end
            self._state = _ROW
        elif kind == _WORD and buf[start:end].upper() == b"DELIMITER":
            self._pos = source.skip_delimiter_block(start, end)
        else:
            after = source.skip_statement(start)
            if kind == _WORD and buf[start:end].upper() == b"SET":
                self._note_settings(buf[start:after], source.base + start)
            self._pos = after
            log.debug("%s: skipped a statement at byte %d", source.path, source.base + start)
        return None

    def _note_settings(self, text: bytes, offset: int) -> None:
        """Follow the client character set through a skipped statement (or executable comment)."""
        if _CHARSET_WORDS.search(text) is None:
            return
        found = [(m.start(), 0, m) for m in _SET_NAMES.finditer(text)]
        found += [(m.start(), 1, m) for m in _SET_CLIENT.finditer(text)]
        found += [(m.start(), 2, m) for m in _SAVE_CLIENT.finditer(text)]
        for _, what, match in sorted(found, key=lambda f: f[0]):
            if what == 2:
                self._saved_charsets[match.group(1).lower()] = self.charset
                continue
            value = match.group(2) if what == 0 else match.group(1).strip(b"'\"`")
            if value.startswith(b"@"):
                if value.startswith(b"@@"):
                    continue  # another server variable: the server's own default, not the file's choice
                key = value[1:].lower()
                if key in self._saved_charsets and self._saved_charsets[key] != self.charset:
                    self.charset = self._saved_charsets[key]
                    self._charset_changed()
                continue
            name = value.decode("ascii", "replace").lower()
            if name == "default":
                continue
            if not is_known_charset(name):
                raise ParseError(
                    self._source.path,
                    offset + match.start(),
                    f"the file sets the client character set to {name!r}, which this import cannot read; "
                    "convert the file to utf8mb4 (and its SET NAMES with it)",
                    excerpt=match.group(),
                )
            if name != self.charset:
                self.charset = name
                self._charset_changed()

    def _charset_changed(self) -> None:
        """Read what follows in :attr:`charset`: its strings, and its identifiers (so headers again)."""
        self._source.names_charset = lookup_charset(self.charset)
        self._grammar = self._source.grammar = _grammar_for(
            self.charset if self.charset is not None else self._default_charset
        )
        self._header_text = None

    def _read_more(self, need: _NeedMore) -> None:
        """Read the next block(s), keeping the unit being read (from ``self._pos``) in the buffer."""
        source = self._source
        buf = source.buf
        pos = self._pos
        pending = len(buf) - pos
        if source.eof:  # the slow path never asks for more at the end of the file
            raise AssertionError(f"{source.path}: parser asked for data past the end of the file")
        if pending > self._max_row_size:
            message = self._too_large_message()
            if need.open_quote is not None:
                message += f" (the string that starts at byte {source.base + need.open_quote} is not closed)"
            at = pos
            if self._state in (_ROW, _AFTER_ROW, _RESUME):  # point at the row, not at the ',' before it
                at = max(pos, buf.find(b"(", pos, pos + 1024))
            raise source.error(at, message)
        # Reading at least as much as is pending keeps the work linear for rows far larger than a block:
        # each unit is re-read from its start after every read.
        want = max(self._block_size, min(pending, self._max_row_size + 1 - pending))
        data = self._stream.read(want) or b""
        if source.lines_before is not None:
            source.lines_before += buf.count(b"\n", 0, pos)
        source.base += pos
        source.buf = buf[pos:] + data if pos else buf + data
        self._pos = 0
        if not data:
            source.eof = True

    def _too_large_message(self) -> str:
        if self._state in (_ROW, _AFTER_ROW, _RESUME):
            return f"row larger than {self._limit}; an unterminated quote?"
        return f"statement larger than {self._limit}; an unterminated quote or comment?"


class SqlChunkParser:
    """:class:`~.parser.RowParser` of an SQL data file: rows as the file's own value lists.

    The file's ``SET NAMES`` decides the charset its strings are read in; ``data-character-set`` only
    while it has set none (``binary``: the bytes as they are).
    """

    encoding = RowEncoding.SQL_LITERAL
    bytes_per_position = 1.0

    def __init__(self, parser: SqlParser, *, pos: int, data_character_set: str) -> None:
        self._parser = parser
        self._pos = pos
        self._default_charset = data_character_set
        self._columns_list: list[str] | None = None
        self._columns: tuple[str, ...] | None = None

    @property
    def columns(self) -> tuple[str, ...] | None:
        now = self._parser.columns
        if now is not self._columns_list:  # a new INSERT header: convert once, not per row
            self._columns_list = now
            self._columns = tuple(now) if now is not None else None
        return self._columns

    @property
    def statement(self) -> str:
        return self._parser.statement

    @property
    def charset(self) -> str | None:
        declared = self._parser.charset
        charset = declared if declared is not None else self._default_charset
        return None if charset == "binary" else charset

    @property
    def pos(self) -> int:
        return self._pos

    def rows(self) -> Iterator[tuple[bytes, int]]:
        return self._parser.iter_raw_rows()


@contextmanager
def open_sql_chunk(
    source: ChunkSource,
    *,
    block_size: int,
    data_character_set: str,
    max_row_size: int,
    max_row_size_source: str = "",
) -> Iterator[SqlChunkParser]:
    """Open an SQL chunk at its resume position; a resume mid-file first reads the charset the file set."""

    def open_at(offset: int) -> ContextManager[BinaryIO]:
        return open_source_file(source.storage, source.path, source.compression, offset, block_size=block_size)

    charset = (
        charset_before(lambda: open_at(0), source.pos, path=source.path, block_size=block_size)
        if source.pos
        else None
    )
    with open_at(source.pos) as stream:
        parser = SqlParser(
            stream,
            path=source.path,
            start_offset=source.pos,
            end_offset=source.end,
            columns=list(source.columns) if source.columns is not None else None,
            statement=source.statement,
            block_size=block_size,
            charset=charset,
            max_row_size=max_row_size,
            max_row_size_source=max_row_size_source,
            # strings are read in the charset they are sent in: for gbk, big5 and sjis that matters
            default_charset=data_character_set,
        )
        yield SqlChunkParser(parser, pos=source.pos, data_character_set=data_character_set)
