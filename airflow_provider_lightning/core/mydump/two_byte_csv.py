"""CSV files in a charset whose characters can end in a byte the CSV dialect uses (gbk, gb18030, big5, sjis).

The second byte of 乗 in GBK is 0x5C, the default escape character; ``LOAD DATA ... CHARACTER SET gbk`` reads
a field a character at a time, so that byte is part of the character, and Lightning converts every block to
UTF-8 before it parses it. The CSV parser reads bytes and reports byte offsets of the file (checkpoints and
chunk ranges are file offsets), so instead of converting, :class:`TrailMaskingStream` hands it the file with
each such second byte replaced by a byte that is never a second byte (0xFF, then 0x7F): the same length, the
same offsets, nothing the dialect acts on. :meth:`TrailMaskingStream.restore` puts the original bytes back in
the values the parser yields.

A character is a lead byte followed by a trail byte, as the server's ``my_ismbchar`` reads it; any byte
below 0x40 is never part of a two-byte character, so the reader finds where characters start by looking
back to the nearest such byte, and only around the bytes it masks.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from airflow_provider_lightning.core.charsets import MysqlCharset, two_byte_lexer
from airflow_provider_lightning.core.errors import ParseError

__all__ = ["TrailMaskingStream", "masking_stream"]

_MASKS = (0xFF, 0x7F)  # never the second byte of a character in any of these charsets


def _members(ranges: bytes) -> frozenset[int]:
    """The bytes of a regular-expression class body such as ``\\x81-\\xfe``."""
    pattern = re.compile(b"[" + ranges + b"]")
    return frozenset(b for b in range(256) if pattern.fullmatch(bytes((b,))))


class TrailMaskingStream:
    """``stream`` (positioned at file offset ``offset``, at a character's start) with every second byte of a
    character that is one of ``specials`` replaced by a mask byte; reads end at a character's end."""

    def __init__(
        self, stream: BinaryIO, charset: MysqlCharset, specials: bytes, *, path: str, offset: int
    ) -> None:
        lexer = two_byte_lexer(charset)
        assert lexer is not None
        self._stream = stream
        self._charset = charset
        self._path = path
        self._offset = offset  # file offset of the next byte handed out
        self._lead = _members(lexer[0])
        self._trail = _members(lexer[1])
        masked = sorted(set(specials) & self._trail)
        if len(masked) > len(_MASKS):
            raise ValueError(f"more than {len(_MASKS)} CSV dialect bytes can be {charset.name} second bytes")
        self._mask = {special: mask for special, mask in zip(masked, _MASKS)}
        self._unmask = {mask: special for special, mask in self._mask.items()}
        self._carry = b""
        self._eof = False
        lead_class = lexer[0]
        # (Aligned as the characters are: a masked pair, or any other whole character, at a time.)
        self._masked_pair = re.compile(
            b"([" + lead_class + b"])([" + re.escape(bytes(self._unmask)) + b"])"
            b"|[" + lead_class + b"][" + lexer[1] + b"]"
        )

    def read(self, size: int = -1) -> bytes:
        while True:
            data = self._stream.read(size) if not self._eof else b""
            if not data:
                self._eof = True
            data = self._carry + data
            self._carry = b""
            if not data:
                return b""
            if not self._eof and self._ends_with_lead(data):
                # its second byte is in the next read: keep it, so that every read ends at a character's end
                data, self._carry = data[:-1], data[-1:]
                if not data:
                    continue
            out = self._masked(data)
            self._offset += len(out)
            return out

    def restore(self, value: bytes) -> bytes:
        """A value the parser read, with the masked second bytes put back."""
        if not any(mask in value for mask in self._unmask):
            return value
        unmask = self._unmask

        def put_back(match: re.Match[bytes]) -> bytes:
            lead = match.group(1)
            return match.group() if lead is None else lead + bytes((unmask[match.group(2)[0]],))

        return self._masked_pair.sub(put_back, value)

    # --- where characters start -----------------------------------------------------------------------

    def _starts_character(self, data: bytes, position: int) -> bool:
        """Whether a character starts at ``position``, ``data`` starting at a character's start."""
        start = position
        while start > 0 and data[start - 1] >= 0x40:
            start -= 1
        lead, trail = self._lead, self._trail
        end = len(data)
        while start < position:
            start += 2 if data[start] in lead and start + 1 < end and data[start + 1] in trail else 1
        return start == position

    def _ends_with_lead(self, data: bytes) -> bool:
        last = len(data) - 1
        return data[last] in self._lead and self._starts_character(data, last)

    def _masked(self, data: bytes) -> bytes:
        found: list[int] = []
        for special in (*self._mask, *self._unmask):
            at = data.find(special, 1)
            while at >= 0:
                if data[at - 1] in self._lead and self._starts_character(data, at - 1):
                    found.append(at)
                at = data.find(special, at + 1)
        if not found:
            return data
        out = bytearray(data)
        for at in found:
            byte = data[at]
            if byte in self._unmask:
                raise ParseError(
                    self._path,
                    self._offset + at - 1,
                    f"bytes 0x{data[at - 1]:02X} 0x{byte:02X} are not a {self._charset.name} character; fix "
                    f"the file, or set [mydumper] data-character-set to the charset it is written in",
                    excerpt=data[at - 1 : at + 16],
                )
            out[at] = self._mask[byte]
        return bytes(out)


def masking_stream(
    stream: BinaryIO, charset: MysqlCharset | None, specials: bytes, *, path: str, offset: int
) -> TrailMaskingStream | None:
    """A :class:`TrailMaskingStream` when ``charset``'s second bytes can be one of ``specials`` (the
    dialect's separator, delimiter, terminator and escape bytes); None when the file needs none."""
    lexer = two_byte_lexer(charset)
    if charset is None or lexer is None or not set(specials) & _members(lexer[1]):
        return None
    return TrailMaskingStream(stream, charset, specials, path=path, offset=offset)
