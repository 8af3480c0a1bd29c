"""Parsed values to exact SQL literals, for the logical backend.

The import session runs with ``SET NAMES binary`` and without ``NO_BACKSLASH_ESCAPES`` and
``ANSI_QUOTES`` (``prepare`` makes sure of it), so a string literal carries its bytes unchanged and only
the quote and the backslash need escaping. Each kind of value keeps its meaning: a string stays a string
literal (the server converts it for numeric, date or BIT columns exactly as it would a dump's quoted
value), a number stays the number as written (a DECIMAL keeps its digits), a hex or bit literal stays a
hex literal.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_lightning.core.mydump.values import BinaryLiteral, Number, Value


def render_string(value: bytes) -> bytes:
    """A quoted string literal for ``value``; raw bytes (NUL, 0xFF, newlines) travel as they are."""
    if b"\\" in value:
        value = value.replace(b"\\", b"\\\\")
    if b"'" in value:
        value = value.replace(b"'", b"\\'")
    return b"'" + value + b"'"


def render_value(value: Value) -> bytes:
    if value is None:
        return b"NULL"
    kind = type(value)
    if kind is bytes:
        return render_string(value)
    if kind is Number:
        return bytes(value)
    if kind is BinaryLiteral:
        # 0x.. keeps the literal's meaning in every context (a number in a numeric column, as in the
        # dump); X'..' would be a string there. 0x needs at least one digit.
        return b"0x" + value.hex().encode() if value else b"X''"
    raise TypeError(f"not a parsed value: {value!r}")


def render_row(values: Sequence[Value]) -> bytes:
    """``(v1,v2,...)``: one row of a multi-row VALUES list."""
    return b"(" + b",".join([render_value(v) for v in values]) + b")"
