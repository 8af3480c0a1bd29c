"""MySQL character sets as Python codecs, and the conversions the server makes between them.

One place knows which Python codec reads which MySQL character set, so that every part of the import
(CSV conversion, schema files, the checksum's idea of what a column holds) reads a charset the same way.

MySQL's ``latin1`` is not ISO 8859-1 and not quite Python's ``cp1252``: it is Windows-1252 with the five
bytes Windows leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) mapped to the C1 controls U+0081, U+008D,
U+008F, U+0090, U+009D, so every byte is a character and none turns into U+FFFD. That codec is built
here once, from ``cp1252``'s table, as a charmap (no global codec registry involved).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = [
    "MysqlCharset", "decode_latin1", "encode_latin1", "is_known", "looks_like_utf8", "lookup",
    "server_conversion", "two_byte_lexer",
]

# Windows-1252 with the five undefined bytes as the C1 controls of the same number (MySQL's latin1).
_LATIN1_DECODING = "".join(
    bytes([b]).decode("cp1252") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else chr(b) for b in range(256)
)
_LATIN1_ENCODING = codecs.charmap_build(_LATIN1_DECODING)


def decode_latin1(data: bytes, errors: str = "strict") -> str:
    """MySQL latin1 bytes as text: every byte is a character, so this never fails."""
    return codecs.charmap_decode(data, errors, _LATIN1_DECODING)[0]


def encode_latin1(text: str, errors: str = "strict") -> bytes:
    return codecs.charmap_encode(text, errors, _LATIN1_ENCODING)[0]


@dataclass(frozen=True, slots=True)
class MysqlCharset:
    """A MySQL character set and how Python reads and writes it.

    ``max_code_point`` is the largest character the charset holds when the Python codec would accept more
    (MySQL's 3-byte ``utf8mb3`` cannot store characters beyond the Basic Multilingual Plane).
    """

    name: str
    codec: str
    max_code_point: int = 0x10FFFF
    single_byte: bool = False

    def decode(self, data: bytes, errors: str = "strict") -> str:
        if self.codec == "mysql-latin1":
            return decode_latin1(data, errors)
        return data.decode(self.codec, errors)

    def encode(self, text: str, errors: str = "strict") -> bytes:
        if self.codec == "mysql-latin1":
            return encode_latin1(text, errors)
        if self.max_code_point < 0x10FFFF and errors != "strict":
            # The server stores a character the charset cannot hold as '?'.
            text = "".join(c if ord(c) <= self.max_code_point else "?" for c in text)
        return text.encode(self.codec, errors)

    def same_bytes_as(self, other: MysqlCharset) -> bool:
        """Whether text in ``other`` is stored unchanged in this charset (a conversion is a no-op)."""
        return self.codec == other.codec and self.max_code_point >= other.max_code_point


_UTF8 = MysqlCharset("utf8mb4", "utf-8")
_UTF8MB3 = MysqlCharset("utf8mb3", "utf-8", max_code_point=0xFFFF)
_CHARSETS = {
    "utf8mb4": _UTF8,
    "utf8mb3": _UTF8MB3,
    "utf8": _UTF8MB3,  # MySQL's and MariaDB's "utf8" is utf8mb3 (unless old_mode says otherwise)
    "latin1": MysqlCharset("latin1", "mysql-latin1", single_byte=True),
    "ascii": MysqlCharset("ascii", "ascii"),
    "gbk": MysqlCharset("gbk", "gbk"),
    "gb18030": MysqlCharset("gb18030", "gb18030"),
    "gb2312": MysqlCharset("gb2312", "gb2312"),
    "big5": MysqlCharset("big5", "big5"),
    "sjis": MysqlCharset("sjis", "shift_jis"),
    "cp932": MysqlCharset("cp932", "cp932"),
    "ujis": MysqlCharset("ujis", "euc_jp"),
    "eucjpms": MysqlCharset("eucjpms", "euc_jp"),
    "euckr": MysqlCharset("euckr", "euc_kr"),
    "latin2": MysqlCharset("latin2", "iso8859_2", single_byte=True),
    "latin5": MysqlCharset("latin5", "iso8859_9", single_byte=True),
    "latin7": MysqlCharset("latin7", "iso8859_13", single_byte=True),
    "greek": MysqlCharset("greek", "iso8859_7", single_byte=True),
    "hebrew": MysqlCharset("hebrew", "iso8859_8", single_byte=True),
    "cp1250": MysqlCharset("cp1250", "cp1250", single_byte=True),
    "cp1251": MysqlCharset("cp1251", "cp1251", single_byte=True),
    "cp1256": MysqlCharset("cp1256", "cp1256", single_byte=True),
    "cp1257": MysqlCharset("cp1257", "cp1257", single_byte=True),
    "cp850": MysqlCharset("cp850", "cp850", single_byte=True),
    "cp852": MysqlCharset("cp852", "cp852", single_byte=True),
    "cp866": MysqlCharset("cp866", "cp866", single_byte=True),
    "koi8r": MysqlCharset("koi8r", "koi8_r", single_byte=True),
    "koi8u": MysqlCharset("koi8u", "koi8_u", single_byte=True),
    "macroman": MysqlCharset("macroman", "mac_roman", single_byte=True),
    "tis620": MysqlCharset("tis620", "tis_620", single_byte=True),
}


# How the server's lexer (and the client's) reads a two-byte character of these charsets, as
# ``my_ismbchar`` does: a lead byte followed by a trail byte is one character, whatever the trail byte is;
# a lead byte followed by anything else is a character of its own. The trail byte can be 0x5C (a
# backslash) or 0x60 (a backquote), which are then part of the character, never an escape or a quote.
# (gb18030's four-byte characters hold no byte that matters to the lexer: read as GBK, they align the same.)
_GBK_LEXER = (rb"\x81-\xfe", rb"\x40-\x7e\x80-\xfe")
_SJIS_LEXER = (rb"\x81-\x9f\xe0-\xfc", rb"\x40-\x7e\x80-\xfc")
_TWO_BYTE_LEXER = {
    "gbk": _GBK_LEXER,
    "gb18030": _GBK_LEXER,
    "big5": (rb"\xa1-\xf9", rb"\x40-\x7e\xa1-\xfe"),
    "sjis": _SJIS_LEXER,
    "cp932": _SJIS_LEXER,
}


def two_byte_lexer(charset: MysqlCharset | None) -> tuple[bytes, bytes] | None:
    """For a charset whose two-byte characters can end in a byte that matters to SQL (the backslash),
    the lead and trail bytes of those characters, as regular-expression class ranges; else None."""
    return None if charset is None else _TWO_BYTE_LEXER.get(charset.name)


def lookup(name: str | None) -> MysqlCharset | None:
    """The charset called ``name`` (any letter case); None for ``binary``, for no name, and for charsets
    Python cannot read (then the caller decides whether that is an error)."""
    if not name:
        return None
    return _CHARSETS.get(name.strip().strip("'\"`").lower())


def is_known(name: str) -> bool:
    """Whether ``name`` is ``binary`` or a charset :func:`lookup` reads."""
    key = name.strip().strip("'\"`").lower()
    return key == "binary" or key in _CHARSETS


# Where the characters of real UTF-8 text lie: Latin (Latin-1 and Extended-A, and of Extended-B only the
# letters of Vietnamese, Pinyin and Romanian), Greek, Cyrillic, general punctuation and symbols, CJK,
# Hangul, full-width forms, emoji. Bytes that decode as UTF-8 only to characters elsewhere (NKo, Samaritan,
# the rest of Latin Extended-B, ...) are far more likely latin1 text that happens to be valid UTF-8 ("ß€" is
# U+07C0, "Æ«" is U+01AB).
_LIKELY_UTF8 = re.compile(
    "[\u00a0-\u017f\u01a0\u01a1\u01af\u01b0\u01cd-\u01dc\u0218-\u021b\u0370-\u04ff\u2000-\u218f"
    "\u2190-\u23ff\u2500-\u27bf\u3000-\u9fff\uac00-\ud7af\uff00-\uffef\U0001f300-\U0001faff]+"
)
_NON_ASCII = re.compile("[^\x00-\x7f]+")


def looks_like_utf8(value: bytes) -> bool:
    """Whether bytes declared in a single-byte charset are more likely UTF-8 text: they decode as UTF-8,
    with characters beyond ASCII, all of them in the ranges real text uses. Real latin1 text rarely does:
    it takes an accented capital followed by a symbol from 0x80-0xBF (``Ã©``), or a small letter followed
    by two of them."""
    if value.isascii():
        return False
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(_LIKELY_UTF8.fullmatch(run) for run in _NON_ASCII.findall(text))


def server_conversion(source: MysqlCharset, column: MysqlCharset):
    """What the server stores in a ``column`` charset for a string sent in ``source``: a function of the
    sent bytes, or None when the bytes are stored unchanged.

    Characters the column cannot hold become ``?`` (as the server does without strict mode; with it the
    row is refused and never counted). Two kinds of value come back unchanged instead, so that they can
    never match what the server stores and the checksum reports them:

    * bytes that are not valid ``source`` text (the server stores ``?`` or a cut string for them);
    * in a single-byte ``source`` charset (latin1, ...) going to a UTF-8 column, bytes that
      :func:`looks_like_utf8`: UTF-8 text declared as latin1, which the server would store
      double-encoded (``é`` as ``Ã©``).
    """
    if column.same_bytes_as(source):
        return None
    suspect_utf8 = source.single_byte and column.codec == "utf-8"

    def convert(value: bytes) -> bytes:
        if value.isascii():  # every charset here reads ASCII as ASCII
            return value
        if suspect_utf8 and looks_like_utf8(value):
            return value
        try:
            text = source.decode(value)
        except UnicodeDecodeError:
            return value
        return column.encode(text, "replace")

    return convert
