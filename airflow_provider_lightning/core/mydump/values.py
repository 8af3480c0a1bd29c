"""What a parsed row is made of.

A row is a ``list`` of values, one per column of the file, each one of:

- ``None`` — SQL ``NULL`` (``NULL`` in SQL, the configured null token such as ``\\N`` in CSV);
- ``bytes`` — a string value: exactly the bytes the target should store, with escapes resolved and no
  character-set conversion (mydumper dumps with ``SET NAMES binary``);
- :class:`Number` — an unquoted numeric literal from an SQL dump, kept as written (``b'-12.500'``,
  ``b'1.5e-7'``) so that a DECIMAL keeps its digits and nothing goes through a float;
- :class:`BinaryLiteral` — the value of a hexadecimal (``0x4142``, ``X'4142'``) or bit (``b'101'``) literal,
  as bytes. MySQL treats these differently from quoted strings (as numbers in a numeric context), so
  they keep their own type and are written back as hex literals.

``Number`` and ``BinaryLiteral`` are ``bytes`` subclasses: code that only needs the bytes can ignore the
distinction, code that renders SQL checks ``type(value)``.
"""

from __future__ import annotations

Value = bytes | None
Row = list[Value]


class Number(bytes):
    """An unquoted numeric literal, as written in the dump (``TRUE``/``FALSE`` become ``1``/``0``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Number({bytes(self)!r})"


class BinaryLiteral(bytes):
    """The bytes of a hexadecimal or bit-value literal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"BinaryLiteral({bytes(self)!r})"
