"""Streaming CSV parser with the semantics of Lightning's ``[mydumper.csv]`` (MySQL's ``LOAD DATA``).

The dialect maps onto ``LOAD DATA INFILE`` as follows:

- ``separator`` is ``FIELDS TERMINATED BY`` (one or more bytes);
- ``delimiter`` is ``FIELDS ENCLOSED BY`` (any length; empty: fields are never quoted). Inside a quoted
  field the delimiter is written doubled or escaped; separators and line terminators are data there;
- ``terminator`` is ``LINES TERMINATED BY``; empty means a line ends at ``\\r``, ``\\n`` or ``\\r\\n``;
- ``escaped_by`` is ``FIELDS ESCAPED BY`` (empty or one byte): ``\\0 \\b \\n \\r \\t \\Z`` stand for NUL,
  backspace, LF, CR, tab and 0x1A, the escape character before any other byte stands for that byte (so an
  escaped separator, delimiter or newline is data).

Where ``LOAD DATA`` and Lightning differ, this module follows Lightning (``pkg/lightning/mydump/
csv_parser.go``), so that a directory Lightning imports imports the same here:

- a field equal to a ``null`` token is NULL whether or not it is quoted ("quoting does not affect whether
  a field is null", as Lightning's documentation says). ``\\N`` (the escape character and ``N``, when that
  is a null token) is NULL, quoted or not; ``\\\\N`` is the text ``\\N``. With ``not_null`` nothing is
  NULL and ``\\N`` is just an escaped ``N``. The null check applies to the value after escapes;
- empty lines, and lines that hold nothing but whitespace (no separator, no quotes), are skipped.
  (Lightning keeps a whitespace-only last line that has no terminator; this parser skips it too);
- a delimiter only opens a quoted field at the start of a field: ``ab"c`` and ``"ab"c`` are syntax errors,
  where ``LOAD DATA`` would take them as data;
- ``trim_last_separator`` drops the last field of a row when it is empty (``a,b,`` gives ``a``, ``b``);
- a UTF-8 byte order mark at the start of the file is skipped.

Each row comes with its *end offset*: the byte offset just after its terminator, where the next row
starts. Checkpoints store it, and a parser started there yields exactly the rows that follow.

How it is fast: most lines are split with ``bytes.split``; only lines with escapes, doubled or embedded
delimiters, or quoted line breaks go through compiled regular expressions, which follow Lightning's
tokenizer one decision at a time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from airflow_provider_lightning.core.charsets import MysqlCharset
from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.errors import ConfigError, ParseError
from airflow_provider_lightning.core.mydump.two_byte_csv import TrailMaskingStream, masking_stream
from airflow_provider_lightning.core.mydump.parser import ChunkRange, ChunkSource, RowEncoding
from airflow_provider_lightning.core.mydump.values import Value
from airflow_provider_lightning.core.storage import Compression, Storage, open_source_file

log = logging.getLogger(__name__)

DEFAULT_BLOCK_SIZE = 64 * 1024
DEFAULT_MAX_ROW_SIZE = 128 * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_EXCERPT_SIZE = 40
_SPLIT_WINDOW = 64 * 1024
_NO_LIMIT = 1 << 62
# Rows with more fields than this are read with the generic row pattern (a pattern per field count
# grows with the count).
_MAX_FIELDS_PATTERN = 512

# Whitespace as Go's unicode.IsSpace sees it (Lightning trims lines with bytes.TrimSpace).
_WHITESPACE_LINE = re.compile(
    rb"(?:[\t\n\v\f\r ]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80)+"
)
_WHITESPACE_LEAD_BYTES = frozenset(b"\t\n\v\f\r \xc2\xe1\xe2\xe3")

# The escape character followed by one of these stands for a control character.
_ESCAPE_MEANINGS = {
    ord("0"): b"\x00",
    ord("b"): b"\b",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("Z"): b"\x1a",
}


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """The ``[mydumper.csv]`` settings that decide how a CSV file is cut into rows and values.

    Fields are bytes; ``str`` is accepted and encoded as UTF-8, and a list of null tokens becomes a tuple.
    Combinations that cannot be read unambiguously raise :class:`ConfigError` naming the key.
    """

    separator: bytes = b","
    delimiter: bytes = b'"'
    terminator: bytes = b""
    escaped_by: bytes = b"\\"
    null: tuple[bytes, ...] = (b"\\N",)
    not_null: bool = False
    header: bool = True
    trim_last_separator: bool = False
    #: ``[mydumper] data-character-set``: the charset the header line's names are read in.
    header_charset: str = "utf8mb4"

    def __post_init__(self) -> None:
        for name in ("separator", "delimiter", "terminator", "escaped_by"):
            object.__setattr__(self, name, _as_bytes(name, getattr(self, name)))
        null = self.null
        if isinstance(null, (bytes, str)):
            null = (null,)
        object.__setattr__(self, "null", tuple(_as_bytes("null", token) for token in null))
        sep, delim, term, esc = self.separator, self.delimiter, self.terminator, self.escaped_by
        if not sep:
            raise ConfigError("mydumper.csv.separator", "must not be empty")
        if len(esc) > 1:
            raise ConfigError("mydumper.csv.escaped-by", f"must be empty or a single byte, got {_show(esc)}")
        if delim and (sep.startswith(delim) or delim.startswith(sep)):
            raise ConfigError(
                "mydumper.csv.delimiter",
                f"separator {_show(sep)} and delimiter {_show(delim)} must not be prefixes of each other",
            )
        line_starts = (term,) if term else (b"\r", b"\n")
        if any(sep.startswith(start) for start in line_starts):
            raise ConfigError(
                "mydumper.csv.separator",
                f"separator {_show(sep)} starts with the line terminator, so it would never separate fields",
            )
        # Lightning accepts these, but then '"a""' followed by a line end can be read two ways.
        if delim and any(delim.startswith(start) or start.startswith(delim) for start in line_starts):
            raise ConfigError(
                "mydumper.csv.delimiter",
                f"delimiter {_show(delim)} and terminator {_show(term)} must not be prefixes of each other",
            )
        if esc and esc in (sep, delim, term):
            raise ConfigError(
                "mydumper.csv.escaped-by",
                f"cannot use {_show(esc)} both as the escape character and as separator, delimiter or "
                "terminator",
            )


def _as_bytes(name: str, value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ConfigError(f"mydumper.csv.{name.replace('_', '-')}", f"must be a string, got {value!r}")


def _show(token: bytes) -> str:
    return repr(token.decode("utf-8", errors="backslashreplace"))


def _byte_class(values: set[int], *, negate: bool) -> bytes:
    inner = b"".join(b"\\x%02x" % v for v in sorted(values))
    return b"[" + (b"^" if negate else b"") + inner + b"]"


def _may_hide_terminator(token: bytes, term: bytes) -> bool:
    """Whether a line terminator found by a plain search could start inside ``token`` (which the tokenizer
    reads first), as ``|+|\n`` starts inside the separator ``||`` in ``a||+|\n``."""
    for k in range(1, len(token)):
        rest = token[k:]
        if term:
            if rest.startswith(term) or term.startswith(rest):
                return True
        elif b"\r" in rest or b"\n" in rest:
            return True
    return False


def _none_of(patterns: list[bytes]) -> bytes:
    """A lookahead that fails where any of ``patterns`` matches."""
    return b"(?!" + b"|".join(patterns) + b")"


class _CsvGrammar:
    """The regular expressions and switches derived from one dialect.

    The expressions follow Lightning's tokenizer: outside quotes, at every byte it tries the terminator,
    then the separator, then the delimiter, then the escape character; inside quotes the delimiter (doubled,
    or closing), then the escape character. Each alternative is decided by the next few bytes and no
    shorter match can succeed where a longer one failed, so the patterns never backtrack into a different
    reading of the input, and the reading of a row does not depend on where buffers were cut.
    """

    def __init__(self, dialect: CsvDialect) -> None:
        sep, delim, term, esc = dialect.separator, dialect.delimiter, dialect.terminator, dialect.escaped_by
        self.sep, self.delim, self.term, self.esc = sep, delim, term, esc
        any_byte = rb"(?s:.)"

        if term:
            term_any = term_stream = term_final = re.escape(term)
            term_firsts = {term[0]}
        else:
            term_any = rb"[\r\n]"
            term_firsts = {0x0D, 0x0A}
            # In a stream, a CR at the end of the buffer may still turn out to be the start of CRLF.
            term_stream = rb"\r\n|\r(?=[^\n])|\n"
            term_final = rb"\r\n|\r|\n"

        # -- an unquoted field: bytes at which no token starts, and escape pairs
        token_firsts = term_firsts | {sep[0]} | ({delim[0]} if delim else set())
        specials = token_firsts | ({esc[0]} if esc else set())
        units = []
        if esc:
            guard = b""
            if esc[0] in token_firsts:
                guard = _none_of([term_any, re.escape(sep)] + ([re.escape(delim)] if delim else []))
            units.append(guard + re.escape(esc) + any_byte)
        for first in sorted(token_firsts - ({esc[0]} if esc else set())):
            if not term and first in (0x0D, 0x0A):
                continue  # CR and LF always end a line
            starting_here = [t for t in (term, sep, delim) if t and t[0] == first]
            if any(len(t) == 1 for t in starting_here):
                continue  # a one-byte token always matches its byte
            units.append(_none_of([re.escape(t) for t in starting_here]) + re.escape(bytes([first])))
        plain = _byte_class(specials, negate=True) + b"*"
        unquoted = plain + (b"(?:(?:" + b"|".join(units) + b")" + plain + b")*" if units else b"")

        # -- a quoted field: the content between the delimiters
        quoted = quote_open = b""
        if delim:
            q_specials = {delim[0]} | ({esc[0]} if esc else set())
            q_units = [re.escape(delim + delim)]
            if esc:
                guard = _none_of([re.escape(delim)]) if esc[0] == delim[0] else b""
                q_units.append(guard + re.escape(esc) + any_byte)
            if len(delim) > 1 and not (esc and esc[0] == delim[0]):
                q_units.append(_none_of([re.escape(delim)]) + re.escape(delim[:1]))
            q_plain = _byte_class(q_specials, negate=True) + b"*"
            quoted = q_plain + b"(?:(?:" + b"|".join(q_units) + b")" + q_plain + b")*"
            open_guard = [term_any] if delim[0] in term_firsts else []
            if delim[0] == sep[0]:
                open_guard.append(re.escape(sep))
            quote_open = (_none_of(open_guard) if open_guard else b"") + re.escape(delim)
            field = b"(?:" + quote_open + quoted + re.escape(delim) + b"|" + unquoted + b")"
            # Group 1: the content of a quoted field, group 2: an unquoted field (one of them is None).
            field_capture = b"(?:" + quote_open + b"(" + quoted + b")" + re.escape(delim) + b"|(" + unquoted + b"))"
        else:
            field = unquoted
            field_capture = b"(" + unquoted + b")"

        # The terminator wins over a separator that starts like it.
        separator = (_none_of([term_any]) if sep[0] in term_firsts else b"") + re.escape(sep)
        row = field + b"(?:" + separator + field + b")*"

        self.row_stream = re.compile(b"(" + row + b")(" + term_stream + b")")
        self.row_final = re.compile(b"(" + row + b")(" + term_final + rb"|\Z)")
        # Applied to separator + row content, so that every field follows a separator.
        self.fields = re.compile(re.escape(sep) + field_capture)
        self._field_capture = field_capture
        self._separator = separator
        self._term_stream = term_stream
        self._term_final = term_final
        self._rows_of: dict[tuple[int, bool], re.Pattern[bytes]] = {}
        self.unquoted = re.compile(unquoted)
        self.quoted = re.compile(quoted) if delim else None
        self.quote_open = re.compile(quote_open) if delim else None
        self.separator = re.compile(separator)
        self.terminator_stream = re.compile(term_stream)
        # How many bytes a decision can look ahead: the longest token, CR+LF, an escape pair.
        self.horizon = max(len(sep), len(delim), len(term), 2)

        # -- values
        self.nulls: frozenset[bytes] = frozenset() if dialect.not_null else frozenset(dialect.null)
        self.escaped_null = esc + b"N" if esc else b""
        # Lightning's escapeFlavorMySQLWithNull: \N is NULL before unescaping, and \\N never is.
        self.with_escaped_null = bool(esc) and not dialect.not_null and self.escaped_null in dialect.null
        # Null tokens that can appear in a field without escape characters.
        self.plain_nulls = frozenset(t for t in self.nulls if not (esc and esc in t))
        self.fast_nulls = self.plain_nulls | ({self.escaped_null} if self.with_escaped_null else set())
        # A line whose only escapes are bare \N fields can be split at separators, unless a separator
        # could start inside "\N".
        self.fast_escaped_null = self.with_escaped_null and sep[0] not in (esc[0], ord("N"))
        self.quick_quotes = len(sep) == 1 and len(delim) == 1
        # The fast paths take the first terminator after a row start as the row's end; that is wrong
        # only when a terminator can start inside a multi-byte token, which the tokenizer reads first.
        hiding = [sep, delim] + ([self.escaped_null] if self.fast_escaped_null else [])
        self.lines_are_rows = not any(_may_hide_terminator(token, term) for token in hiding)
        self.sep_delim = sep + delim
        self.doubled = delim + delim
        self.escaped_escape = esc + esc
        if esc:
            self.control_escape = re.compile(re.escape(esc) + b"[" + bytes(sorted(_ESCAPE_MEANINGS)) + b"]")
        self.trim_last = dialect.trim_last_separator
        self.collapse_doubled: Callable[[bytes], bytes] = self._collapse_single
        if len(delim) > 1:
            # Doubled delimiters are found token by token, left to right, as the tokenizer finds them.
            pairs = [re.escape(self.doubled)] + ([re.escape(esc) + any_byte] if esc else [])
            tokens = re.compile(b"|".join(pairs))
            doubled = self.doubled

            def collapse(content: bytes) -> bytes:
                if doubled not in content:
                    return content
                return tokens.sub(lambda m: delim if m[0] == doubled else m[0], content)

            self.collapse_doubled = collapse

    def _collapse_single(self, content: bytes) -> bytes:
        # For a one-byte delimiter every run of delimiters collapses the same, whichever pairs are taken.
        doubled = self.doubled
        return content.replace(doubled, self.delim) if doubled in content else content

    def row_of(self, n_fields: int, final: bool) -> re.Pattern[bytes]:
        """A pattern for a row of exactly ``n_fields`` fields, capturing each one (one pass per row)."""
        key = (n_fields, final)
        pattern = self._rows_of.get(key)
        if pattern is None:
            term = self._term_final + rb"|\Z" if final else self._term_stream
            fields = (self._separator + self._field_capture) * (n_fields - 1)
            pattern = re.compile(self._field_capture + fields + b"(" + term + b")")
            self._rows_of[key] = pattern
        return pattern

    def unescape(self, raw: bytes) -> bytes:
        """Resolve escape pairs, left to right (Lightning's regexp ``(?s)\\\\.``)."""
        esc = self.esc
        if not self.control_escape.search(raw) and not raw.endswith(esc):
            # Every pair stands for its second byte. Runs of escape characters pair up from their start,
            # as split() finds them.
            escaped_escape = self.escaped_escape
            if escaped_escape not in raw:
                return raw.replace(esc, b"")
            return esc.join([chunk.replace(esc, b"") for chunk in raw.split(escaped_escape)])
        parts = raw.split(esc)
        out = [parts[0]]
        i, n = 1, len(parts)
        while i < n:
            part = parts[i]
            if part:
                meaning = _ESCAPE_MEANINGS.get(part[0])
                out.append(part if meaning is None else meaning + part[1:])
                i += 1
            elif i + 1 < n:  # the escape character escaped
                out.append(_ESCAPE_MEANINGS.get(esc[0], esc))
                out.append(parts[i + 1])
                i += 2
            else:  # a lone escape character at the end stays
                out.append(esc)
                i += 1
        return b"".join(out)

    def value(self, raw: bytes) -> Value:
        """The value of a field, from its content with doubled delimiters already collapsed."""
        esc = self.esc
        if esc and esc in raw:
            if self.with_escaped_null and raw == self.escaped_null:
                return None
            text = self.unescape(raw)
            if text in self.nulls and not (self.with_escaped_null and text == self.escaped_null):
                return None
            return text
        if raw in self.nulls:
            return None
        return raw

    def values(self, raws: list[bytes]) -> list[Value]:
        if self.trim_last and raws and raws[-1] == b"":
            raws.pop()
        esc, plain_nulls, value = self.esc, self.plain_nulls, self.value
        if esc:
            return [value(r) if esc in r or r in plain_nulls else r for r in raws]
        if plain_nulls:
            return [None if r in plain_nulls else r for r in raws]
        return raws

    def raws_from_groups(self, groups: tuple[bytes | None, ...]) -> list[bytes]:
        """Field contents from the groups of a :meth:`row_of` match (the last group is the terminator)."""
        if not self.delim:
            return list(groups[:-1])  # type: ignore[arg-type]
        pairs = zip(groups[0:-1:2], groups[1:-1:2])
        if len(self.delim) == 1:
            delim, doubled = self.delim, self.doubled
            return [u if q is None else q.replace(doubled, delim) if doubled in q else q for q, u in pairs]
        collapse = self.collapse_doubled
        return [u if q is None else collapse(q) for q, u in pairs]

    def raw_fields(self, row: bytes) -> list[bytes] | None:
        """The contents of the fields of a row, or None for a whitespace-only line (which is skipped)."""
        found = self.fields.findall(self.sep + row)
        if not self.delim:
            raws = found
        else:
            collapse = self.collapse_doubled
            raws = [collapse(q) if q else u for q, u in found]
        if (
            len(raws) == 1
            and row[0] in _WHITESPACE_LEAD_BYTES
            and not (self.delim and row.startswith(self.delim))
            and _WHITESPACE_LINE.fullmatch(row)
        ):
            return None
        return raws


class CsvParser:
    """Reads rows from a CSV stream, from ``start_offset`` (where ``stream`` is positioned) on.

    ``start_offset`` must be where a row starts: 0, :attr:`data_start`, a reported end offset, or a range
    start from :func:`split_csv_ranges`. Offsets are absolute positions in the (decompressed) file.

    :param stream: the file's bytes, positioned at ``start_offset``; the caller closes it.
    :param dialect: the ``[mydumper.csv]`` settings.
    :param path: the file's name, for error messages.
    :param end_offset: yield only the rows that start before this offset (a chunk ``[start, end)``).
    :param read_header: read the first row as column names; None means ``dialect.header and
        start_offset == 0``. The header is read when the parser is created, so that :attr:`columns` and
        :attr:`data_start` are known at once.
    :param block_size: how many bytes to read at a time.
    :param max_row_size: a row longer than this (from its first byte to the end of its terminator) is an
        error, so that an unterminated quote cannot make the parser buffer a whole file.
    :param header_charset: the charset the header's names are written in (``data-character-set``); None
        reads them as UTF-8.
    """

    def __init__(
        self,
        stream: BinaryIO,
        dialect: CsvDialect,
        *,
        path: str,
        start_offset: int = 0,
        end_offset: int | None = None,
        read_header: bool | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_row_size: int = DEFAULT_MAX_ROW_SIZE,
        header_charset: MysqlCharset | None = None,
        max_row_size_source: str = "",
    ) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be at least 1, got {block_size}")
        if max_row_size < 1:
            raise ValueError(f"max_row_size must be at least 1, got {max_row_size}")
        self.path = path
        self.dialect = dialect
        self._grammar = _CsvGrammar(dialect)
        if not self._grammar.lines_are_rows:
            log.debug(
                "%s: a line terminator can start inside a separator or delimiter of this dialect, so every row "
                "is read token by token (slower)",
                path,
            )
        self._stream = stream
        if header_charset is None:
            header_charset = lookup_charset(dialect.header_charset)
        self._header_charset = header_charset
        self._block_size = block_size
        self._max_row_size = max_row_size
        source = f" ({max_row_size_source})" if max_row_size_source else ""
        self._limit = f"{max_row_size} bytes{source}"
        self._end_offset = _NO_LIMIT if end_offset is None else end_offset
        self._buf = b""
        self._pos = 0  # index in _buf where the next row starts
        self._base = start_offset  # file offset of _buf[0]
        self._eof = False
        # Newlines before _buf, for line numbers in errors; only known when reading from the start.
        self._lines_before: int | None = 0 if start_offset == 0 else None
        # Field count of the last row read through the regular expressions (see _CsvGrammar.row_of).
        self._fields_seen = 0
        #: The header's column names (stripped of whitespace, case kept), or None.
        self.columns: list[str] | None = None
        if start_offset == 0:
            self._skip_byte_order_mark()
        if read_header is None:
            read_header = dialect.header and start_offset == 0
        if read_header:
            self.columns = self._read_header()
        #: Where the data rows start: after the header line (and a byte order mark), else ``start_offset``.
        self.data_start = self._base + self._pos

    def read_header(self) -> list[str] | None:
        """The column names of the header line, or None without one (or when the file is empty).

        The header is read when the parser is created; this returns what was read.
        """
        return self.columns

    def iter_rows(self) -> Iterator[tuple[list[Value], int]]:
        """Yield ``(values, end_offset)`` for each row, in file order.

        Each value is ``bytes`` (escapes resolved) or None for NULL. Malformed input raises
        :class:`ParseError` naming the file, the byte offset and, when reading from the start, the line.
        """
        g = self._grammar
        sep, delim, esc, term = g.sep, g.delim, g.esc, g.term
        term_len = len(term)
        quick_quotes, sep_delim = g.quick_quotes, g.sep_delim
        plain_nulls, fast_nulls = g.plain_nulls, g.fast_nulls
        escaped_null, fast_escaped_null = g.escaped_null, g.fast_escaped_null
        trim_last = g.trim_last
        lines_are_rows = g.lines_are_rows
        max_row = self._max_row_size
        ws_lead, ws_line = _WHITESPACE_LEAD_BYTES, _WHITESPACE_LINE.fullmatch
        bad = _NOT_SIMPLE
        find = bytes.find

        buf, pos, base = self._buf, self._pos, self._base
        end_rel = self._end_offset - base
        # With an empty terminator: the next CR and LF at or after pos, found once and reused until passed.
        next_lf = next_cr = -1

        while pos < end_rel:
            values: list[Value] | None = None
            if lines_are_rows:
                # -- where does the line that starts at pos end?
                if term:
                    q = find(buf, term, pos)
                    nxt = q + term_len
                else:
                    if next_lf < pos:
                        next_lf = find(buf, b"\n", pos)
                        if next_lf < 0:
                            next_lf = _NO_LIMIT
                    if next_cr < pos:
                        next_cr = find(buf, b"\r", pos)
                        if next_cr < 0:
                            next_cr = _NO_LIMIT
                    if next_cr < next_lf:
                        q = next_cr
                        if q + 1 < len(buf):
                            nxt = q + 2 if buf[q + 1] == 0x0A else q + 1
                        elif self._eof:
                            nxt = q + 1
                        else:
                            q = -1  # a CR ends the buffer: wait for the next byte
                    elif next_lf != _NO_LIMIT:
                        q = next_lf
                        nxt = q + 1
                    else:
                        q = -1
                if q < 0:
                    if not self._eof:
                        self._pos = pos
                        self._fill()
                        buf, pos, base = self._buf, self._pos, self._base
                        end_rel = self._end_offset - base
                        next_lf = next_cr = -1
                        continue
                    if pos >= len(buf):
                        break
                    q = nxt = len(buf)  # the last line, without a terminator

                if nxt - pos > max_row:
                    raise self._too_large(pos)
                line = buf[pos:q]
                if not line:
                    pos = nxt
                    continue

                # -- fast paths: the line is a whole row, split at separators
                if not delim or delim not in line:
                    if not esc or esc not in line:
                        values = line.split(sep)
                        if len(values) == 1 and line[0] in ws_lead and ws_line(line):
                            pos = nxt
                            continue
                        if trim_last and values[-1] == b"":
                            values.pop()
                        if plain_nulls:
                            values = [None if v in plain_nulls else v for v in values]
                    elif fast_escaped_null and line.count(esc) == line.count(escaped_null):
                        values = line.split(sep)
                        if line.count(esc) != values.count(escaped_null):
                            values = None  # "\N" inside a longer field
                        else:
                            if trim_last and values[-1] == b"":
                                values.pop()
                            values = [None if v in fast_nulls else v for v in values]
                elif quick_quotes:
                    # Quoted fields without separators, delimiters or escapes inside: '1,"abc",,"d"'.
                    has_esc = bool(esc) and esc in line
                    if not has_esc or (fast_escaped_null and line.count(esc) == line.count(escaped_null)):
                        values = [
                            p if p[:1] != delim else (p[1:-1] if len(p) > 1 and p[-1:] == delim else bad)
                            for p in line.split(sep)
                        ]
                        n_quoted = line.count(sep_delim) + (line[:1] == delim)
                        if bad in values or line.count(delim) != 2 * n_quoted:
                            values = None
                        elif has_esc and line.count(esc) != values.count(escaped_null):
                            values = None  # "\N" inside a longer field
                        else:
                            if trim_last and values[-1] == b"":
                                values.pop()
                            if plain_nulls or has_esc:
                                values = [None if v in fast_nulls else v for v in values]

            if values is None:
                # -- the general path: escapes, doubled or embedded delimiters, quoted line breaks
                final = self._eof
                match = None
                if 1 < self._fields_seen <= _MAX_FIELDS_PATTERN:
                    match = g.row_of(self._fields_seen, final).match(buf, pos)
                if match is not None:
                    nxt = match.end()
                    if nxt - pos > max_row:
                        raise self._too_large(pos)
                    raws = g.raws_from_groups(match.groups())
                else:
                    match = (g.row_final if final else g.row_stream).match(buf, pos)
                    if match is None:
                        self._pos = pos
                        self._diagnose(pos)  # raises, or returns if more input may complete the row
                        self._fill()
                        buf, pos, base = self._buf, self._pos, self._base
                        end_rel = self._end_offset - base
                        next_lf = next_cr = -1
                        continue
                    nxt = match.end()
                    if nxt - pos > max_row:
                        raise self._too_large(pos)
                    row = match.group(1)
                    if not row:  # an empty line, or the end of the input
                        if nxt == pos:
                            break
                        pos = nxt
                        continue
                    raws = g.raw_fields(row)
                    if raws is None:  # whitespace only
                        pos = nxt
                        continue
                    self._fields_seen = len(raws)
                values = g.values(raws)

            pos = nxt
            self._pos = pos
            yield values, base + nxt

        self._pos = pos

    # -- reading ------------------------------------------------------------------------------------------

    def _fill(self) -> None:
        """Read more input after what is buffered, dropping what was parsed.

        Called when the row at ``_pos`` is not complete in the buffer, so that row is longer than what is
        pending: more than ``max_row_size`` pending is an error, and the same error as when the whole row
        is in the buffer, whatever the block size.
        """
        if len(self._buf) - self._pos > self._max_row_size:
            raise self._too_large(self._pos)
        self._read_more()

    def _read_more(self) -> None:
        buf, pos = self._buf, self._pos
        pending = len(buf) - pos
        # Reads grow with a long pending row, so that rescanning it from its start stays linear.
        want = max(self._block_size, pending)
        try:
            data = self._stream.read(want)
        except OSError as exc:
            raise ParseError(
                self.path, self._base + len(buf), f"cannot read the file ({exc}); check the source storage"
            ) from exc
        if self._lines_before is not None:
            self._lines_before += buf.count(b"\n", 0, pos)
        self._buf = buf[pos:] + data if data else buf[pos:]
        self._base += pos
        self._pos = 0
        if not data:
            self._eof = True

    def _skip_byte_order_mark(self) -> None:
        while len(self._buf) < len(_UTF8_BOM) and not self._eof:
            self._read_more()
        if self._buf.startswith(_UTF8_BOM):
            self._pos = len(_UTF8_BOM)

    def _read_header(self) -> list[str] | None:
        g = self._grammar
        while True:
            buf, pos = self._buf, self._pos
            if pos >= len(buf):
                if self._eof:
                    return None
                self._fill()
                continue
            match = (g.row_final if self._eof else g.row_stream).match(buf, pos)
            if match is None:
                self._diagnose(pos)
                self._fill()
                continue
            end = match.end()
            if end - pos > self._max_row_size:
                raise self._too_large(pos)
            row = match.group(1)
            self._pos = end
            if not row:
                if end == pos:
                    return None
                continue
            raws = g.raw_fields(row)
            if raws is not None:
                if g.trim_last and raws[-1] == b"":
                    raws.pop()
                return self._column_names(raws, pos)

    def _column_names(self, raws: list[bytes], row_start: int) -> list[str]:
        g = self._grammar
        names: list[str] = []
        seen: dict[str, int] = {}
        for number, raw in enumerate(raws, start=1):
            if g.esc and g.esc in raw:
                raw = g.unescape(raw)
            charset = self._header_charset
            try:
                name = (raw.decode("utf-8") if charset is None else charset.decode(raw)).strip()
            except UnicodeDecodeError as exc:
                what = "UTF-8" if charset is None or charset.codec == "utf-8" else charset.name
                raise self._error(
                    row_start,
                    f"column {number} of the header line is not valid {what} ({exc.reason} at byte "
                    f"{exc.start} of the name); set [mydumper] data-character-set to the file's encoding, "
                    "convert the file, or set [mydumper.csv] header = false",
                ) from None
            if not name:
                hint = ""
                if number == len(raws) and number > 1:
                    hint = "; the line ends with a separator: set [mydumper.csv] trim-last-separator = true"
                raise self._error(row_start, f"column {number} of the header line has no name{hint}")
            key = name.lower()
            if key in seen:
                raise self._error(
                    row_start, f"the header line names column {name!r} twice (columns {seen[key]} and {number})"
                )
            seen[key] = number
            names.append(name)
        return names

    # -- errors -------------------------------------------------------------------------------------------

    def _line_at(self, index: int) -> int | None:
        if self._lines_before is None:
            return None
        return self._lines_before + self._buf.count(b"\n", 0, index) + 1

    def _error(self, index: int, message: str) -> ParseError:
        """A ParseError at index ``index`` of the buffer."""
        return ParseError(
            self.path,
            self._base + index,
            message,
            line=self._line_at(index),
            excerpt=self._buf[index : index + _EXCERPT_SIZE],
        )

    def _too_large(self, start: int) -> ParseError:
        try:
            open_quote = self._diagnose(start, final=False)
        except ParseError as exc:
            return exc  # a syntax error inside the row explains it better
        message = (
            f"row larger than {self._limit}; an unterminated quote, or a wrong "
            "separator/terminator in [mydumper.csv]?"
        )
        if open_quote is not None:
            line = self._line_at(open_quote)
            where = f"byte {self._base + open_quote}" + (f" (line {line})" if line is not None else "")
            message += f" A quoted field opened at {where} is still open."
        return self._error(start, message)

    def _diagnose(self, start: int, *, final: bool | None = None) -> int | None:
        """Explain why no row matches at index ``start`` of the buffer.

        Raises :class:`ParseError` when the input is malformed. Returns when more input might complete the
        row (never at the end of the file): the index of the delimiter that opened a still-open quoted
        field, or None.
        """
        g = self._grammar
        buf = self._buf
        n = len(buf)
        eof = self._eof if final is None else final
        delim, esc = g.delim, g.esc
        p = start
        while True:
            opened = g.quote_open.match(buf, p) if g.quote_open is not None else None
            if opened is not None:
                open_at = p
                content_end = g.quoted.match(buf, opened.end()).end()  # type: ignore[union-attr]
                if not buf.startswith(delim, content_end):
                    if not eof:
                        return open_at
                    raise self._error(
                        open_at,
                        f"unterminated quoted field: the delimiter {_show(delim)} here opens a field that is "
                        "never closed before the end of the file; delimiters inside a field must be doubled "
                        "or escaped, or [mydumper.csv] delimiter is wrong",
                    )
                p = content_end + len(delim)
                after_quote = True
            else:
                p = g.unquoted.match(buf, p).end()  # type: ignore[union-attr]
                after_quote = False
            if not eof and p + g.horizon > n:
                return None
            separator = g.separator.match(buf, p)
            if separator is None:
                break
            p = separator.end()
        if g.terminator_stream.match(buf, p):
            # The row is complete (asked by _too_large); at the end of the input the row patterns would
            # have matched it, so getting here means the grammar and this walk disagree.
            if not eof:
                return None
            raise self._error(start, "cannot read this row with the [mydumper.csv] settings (internal error)")
        if after_quote:
            raise self._error(
                p,
                f"unexpected data after the closing delimiter {_show(delim)} of a quoted field: a quoted "
                "field must be followed by the separator or the line terminator, and delimiters inside it "
                "must be doubled or escaped",
            )
        if delim and buf.startswith(delim, p):
            raise self._error(
                p,
                f"unexpected delimiter {_show(delim)} inside an unquoted field: only a whole field can be "
                "quoted; check [mydumper.csv] delimiter, or escape the character",
            )
        if esc and p == n - 1 and buf[p] == esc[0]:
            raise self._error(p, f"the file ends with the escape character {_show(esc)} and nothing after it")
        raise self._error(p, "cannot read this row with the [mydumper.csv] settings; check them against the file")


class _NotSimple:
    """Marks a field the quick path cannot read: a quote that does not close where the field ends."""

    __slots__ = ()


_NOT_SIMPLE = _NotSimple()


def split_csv_ranges(
    read_range: Callable[[int, int], bytes],
    *,
    size: int,
    data_start: int,
    max_region_size: int,
    dialect: CsvDialect,
) -> list[tuple[int, int]]:
    """Cut ``[data_start, size)`` of a strict-format CSV file into byte ranges that each start at a row.

    This is Lightning's ``SplitLargeCSV``: a cut is made every ``max_region_size`` bytes and moved forward
    to just after the next line terminator (with an empty terminator: after the next ``\\n``, or a ``\\r``
    not followed by ``\\n``). That is only right when no field contains a line terminator
    (``mydumper.strict-format``); the caller decides that, and whether the file is worth splitting
    (Lightning splits uncompressed files larger than 1.1 × ``max-region-size``).

    ``read_range(start, end)`` returns the file's bytes ``[start, end)``; only small windows after each cut
    are read. The ranges cover ``[data_start, size)`` exactly, without gaps or overlaps (no ranges when
    ``data_start >= size``).
    """
    if max_region_size < 1:
        raise ValueError(f"max_region_size must be at least 1, got {max_region_size}")
    ranges: list[tuple[int, int]] = []
    start = data_start
    while start < size:
        cut = start + max_region_size
        end = size if cut >= size else _after_next_terminator(read_range, cut, size, dialect.terminator)
        ranges.append((start, end))
        start = end
    return ranges


def _after_next_terminator(read_range: Callable[[int, int], bytes], pos: int, size: int, term: bytes) -> int:
    """The offset just after the first line terminator that starts at or after ``pos``; ``size`` if none."""
    # Windows overlap by one byte less than the terminator, or by one byte to tell CR from CRLF.
    overlap = len(term) - 1 if term else 1
    while pos < size:
        window = read_range(pos, min(size, pos + _SPLIT_WINDOW + overlap))
        if not window:
            break
        at_end = pos + len(window) >= size
        if term:
            found = window.find(term)
            if found >= 0:
                return pos + found + len(term)
        else:
            lf = window.find(b"\n")
            cr = window.find(b"\r", 0, lf if lf >= 0 else len(window))
            if cr >= 0:
                if cr + 1 < len(window):
                    return pos + cr + (2 if window[cr + 1] == 0x0A else 1)
                if at_end:
                    return pos + cr + 1
            elif lf >= 0:
                return pos + lf + 1
        if at_end:
            break
        pos += max(1, len(window) - overlap)
    return size


class CsvChunkParser:
    """:class:`~.parser.RowParser` of a CSV chunk: rows as values, in ``data-character-set``."""

    encoding = RowEncoding.VALUES
    statement = "INSERT"
    bytes_per_position = 1.0

    def __init__(
        self,
        parser: CsvParser,
        *,
        pos: int,
        columns: tuple[str, ...] | None,
        data_character_set: str,
        masking: TrailMaskingStream | None = None,
    ) -> None:
        self._parser = parser
        self._masking = masking
        self.pos = pos
        self.columns = columns
        self.charset = None if data_character_set == "binary" else data_character_set

    def rows(self) -> Iterator[tuple[list[Value], int]]:
        rows = self._parser.iter_rows()
        if self._masking is None:
            return rows
        restore = self._masking.restore
        return (([restore(v) if type(v) is bytes else v for v in values], end) for values, end in rows)


@contextmanager
def open_csv_chunk(
    source: ChunkSource,
    dialect: CsvDialect,
    *,
    header_schema_match: bool,
    block_size: int,
    data_character_set: str,
    max_row_size: int,
    max_row_size_source: str = "",
) -> Iterator[CsvChunkParser]:
    """Open a CSV chunk at its resume position, reading the header when the chunk starts the file.

    The rows carry the header's columns under ``header-schema-match`` (else every column, in table
    order); a range cut from a large file got them when the file was cut."""
    read_header = dialect.header and source.pos == 0 and source.columns is None
    with open_source_file(
        source.storage, source.path, source.compression, source.pos, block_size=block_size
    ) as stream:
        # In gbk, gb18030, big5 and sjis a character's second byte can be the escape character (0x5C): the
        # parser gets it masked, so that it reads characters as LOAD DATA ... CHARACTER SET does.
        masking = masking_stream(
            stream,
            lookup_charset(data_character_set),
            dialect.separator + dialect.delimiter + dialect.terminator + dialect.escaped_by,
            path=source.path,
            offset=source.pos,
        )
        parser = CsvParser(
            masking if masking is not None else stream,
            dialect,
            path=source.path,
            start_offset=source.pos,
            end_offset=source.end,
            read_header=read_header,
            block_size=block_size,
            max_row_size=max_row_size,
            max_row_size_source=max_row_size_source,
        )
        names = source.columns
        if read_header:
            header = parser.read_header()
            names = tuple(header) if header is not None else None
        yield CsvChunkParser(
            parser,
            pos=parser.data_start if read_header else source.pos,
            columns=names if header_schema_match else None,
            data_character_set=data_character_set,
            masking=masking,
        )


def split_csv_file(
    storage: Storage,
    path: str,
    compression: Compression,
    size: int,
    dialect: CsvDialect,
    max_region_size: int,
) -> list[ChunkRange]:
    """Cut a plain CSV file into ranges of about ``max_region_size``, each starting at a row; the header is
    read once here and its names travel with every range."""
    data_start, columns = 0, None
    if dialect.header:
        with open_source_file(storage, path, compression, 0) as stream:
            # Only the header is read here: a line longer than any header (4096 columns of 64-character names
            # are ~270 KB) is an error, not 128 MiB buffered.
            parser = CsvParser(stream, dialect, path=path, read_header=True, max_row_size=1024 * 1024)
            header = parser.read_header()
            columns = tuple(header) if header is not None else None
            data_start = parser.data_start
    ranges = split_csv_ranges(
        lambda start, end: storage.read_range(path, start, end),
        size=size,
        data_start=data_start,
        max_region_size=max_region_size,
        dialect=dialect,
    )
    return [ChunkRange(start, end, columns) for start, end in ranges]
