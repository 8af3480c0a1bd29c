"""Row checksums: an order-independent digest of a table's rows, computed the same way on both sides.

The source side hashes each parsed row after normalising every value the way its target column stores
it; the target side computes the same hash with one SQL query. Rows are combined by addition modulo
2**64 (not XOR, so that two equal rows of a table without a key do not cancel out).

A row's hash is the first 8 bytes of the SHA-1 of its canonical encoding, read as a big-endian unsigned
integer. The canonical encoding visits the columns sorted by lower-cased name (so the order a file lists
its columns in does not matter) and writes each value as ``N`` for NULL or ``<byte length>:<bytes>``
otherwise, which no two different rows can share. The canonical bytes of a value are what
``CAST(<expression> AS BINARY)`` gives on the server, where the expression is the column itself except
for FLOAT/DOUBLE (fixed 30 decimals, or the shortest round-trip text beyond 1e30), BIT (its integer),
ENUM (its index) and SET (its bit mask). ``docs/checksum.md`` has the rule for every type.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import queue
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from airflow_provider_lightning.core.charsets import MysqlCharset, server_conversion
from airflow_provider_lightning.core.charsets import lookup as lookup_charset
from airflow_provider_lightning.core.identifiers import quote_identifier
from airflow_provider_lightning.core.errors import TargetError
from airflow_provider_lightning.core.mydump.sql_parser import decode_row
from airflow_provider_lightning.core.mydump.values import BinaryLiteral, Number, Value
from airflow_provider_lightning.core.target import ColumnInfo, ServerFacts, ServerFlavor, TableInfo
from airflow_provider_lightning.core.target import as_text as _text

log = logging.getLogger(__name__)

_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class RowChecksum:
    """Row count and the sum (mod 2**64) of the rows' 64-bit hashes."""

    rows: int = 0
    sum: int = 0

    def __add__(self, other: RowChecksum) -> RowChecksum:
        return RowChecksum(self.rows + other.rows, (self.sum + other.sum) & _MASK)

    def __sub__(self, other: RowChecksum) -> RowChecksum:
        return RowChecksum(self.rows - other.rows, (self.sum - other.sum) & _MASK)

    def to_json(self) -> dict[str, Any]:
        # 64-bit sums lose precision in JSON numbers read by other languages: keep them as text.
        return {"rows": self.rows, "sum": str(self.sum)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RowChecksum:
        if not data:
            return cls()
        return cls(int(data.get("rows", 0)), int(data.get("sum", 0)))


Normaliser = Callable[[bytes], bytes]
"""Turns a non-NULL source value into the canonical bytes the target gives for it."""

# --- numbers -------------------------------------------------------------------------------------------

# Decimal arithmetic wide enough for DECIMAL(65,30) and any rounding step; passed explicitly, never global.
_DECIMAL_CONTEXT = Context(prec=200, rounding=ROUND_HALF_UP, Emax=10**9, Emin=-(10**9))

# How the server reads a number at the start of a string: leading white space, sign, digits, optional
# fraction and exponent; whatever follows is cut off (a warning, or an error in strict mode).
_NUMERIC_PREFIX = re.compile(rb"[ \t\n\r\f\v]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")

# A whole string that is one number (nothing to cut off).
_PLAIN_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# A plain decimal number short enough to be exact in a double (checked further by the caller).
_SHORT_DECIMAL = re.compile(rb"(-?)(\d{1,30})(?:\.(\d{0,30}))?")
_SIGNED_OVERFLOW = Decimal(2**63 - 1)
_UNSIGNED_OVERFLOW = Decimal(2**64 - 1)
_INTEGER_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}

_FLT_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
_DBL_MAX = 1.7976931348623157e308
_FLOAT32 = struct.Struct("<f")
# Below this the server's CAST(x AS DECIMAL(65,30)) holds a double; at and above it CONCAT(x) is used.
_FIXED_FLOAT_LIMIT = 1e30
_FLOAT_ZERO = b"0." + b"0" * 30
_THIRTY_DECIMALS = Decimal("1e-30")
# Zeros padding a fraction to 30 digits, by the fraction's length + 1 (repr writes up to 20 fraction digits).
_FRACTION_PADDING = tuple("0" * (31 - n) for n in range(32))
_DIGITS_SCALE = re.compile(r"\((\d+),(\d+)\)")


def _is_double_literal(value: bytes) -> bool:
    # An unquoted number with an exponent is a DOUBLE literal; without one it is an exact DECIMAL.
    return b"e" in value or b"E" in value


def _exact_number(value: bytes, *, unsigned: bool = False) -> Decimal | float:
    """The number the server reads from a source value: exact for strings and decimal literals, a float
    for double literals (``1.5e3``). ``unsigned`` is the target column's flag: it decides what a hex
    literal too long for 64 bits becomes."""
    kind = type(value)
    if kind is BinaryLiteral:
        # 0x.. and b'..' literals are unsigned integers in a numeric context; beyond 8 bytes they
        # overflow to the largest 64-bit integer (signed or not, as the column).
        if len(value) > 8:
            return _UNSIGNED_OVERFLOW if unsigned else _SIGNED_OVERFLOW
        return Decimal(int.from_bytes(value, "big"))
    if kind is Number and _is_double_literal(value):
        try:
            return float(value)
        except ValueError:
            pass
    found = _NUMERIC_PREFIX.match(value)
    if found is None:
        return Decimal(0)
    return Decimal(found.group(1).decode("ascii"))


def _round_to_integer(number: Decimal | float) -> Decimal:
    """Round the way the server stores a number in an integer column: doubles with ``rint`` (half to
    even), strings and decimals half away from zero."""
    if isinstance(number, float):
        if not math.isfinite(number):
            return Decimal(number)
        return Decimal(round(number))
    return number.to_integral_value(rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)


def _integer_range(column: ColumnInfo) -> tuple[int, int]:
    """The smallest and the largest value of an integer column."""
    bits = _INTEGER_BITS[column.data_type]
    return (0, (1 << bits) - 1) if column.unsigned else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _integer_normaliser(column: ColumnInfo) -> Normaliser:
    unsigned = column.unsigned
    low, high = _integer_range(column)
    # Digit strings shorter than this are always in range: no need to look at their value.
    safe_length = len(str(high))
    negative_safe_length = 0 if unsigned else len(str(-low)) + 1

    def normalise(value: bytes) -> bytes:
        if type(value) is not BinaryLiteral:
            if value.isdigit():
                if len(value) < safe_length and (value[0] != 48 or len(value) == 1):
                    return value
            elif value[:1] == b"-" and len(value) < negative_safe_length:
                digits = value[1:]
                if digits.isdigit() and digits[0] != 48:
                    return value
        if type(value) is BinaryLiteral and len(value) > 8:
            return b"%d" % high  # beyond 64 bits: an overflow, stored as the column's maximum
        number = _round_to_integer(_exact_number(value))
        if unsigned and type(value) is bytes and number < -_MASK:
            return b"%d" % high  # a string beyond 64 bits overflows to the maximum, whatever its sign
        if number < low:
            return b"%d" % low
        if number > high:
            return b"%d" % high
        return b"%d" % int(number)

    return normalise


def _year_normaliser(column: ColumnInfo) -> Normaliser:
    def normalise(value: bytes) -> bytes:
        if len(value) == 4 and value.isdigit() and b"1901" <= value <= b"2155":
            return value
        if type(value) is bytes and _NUMERIC_PREFIX.match(value) is None:
            return b"0000"  # no number at all: the server stores 0000
        number = _exact_number(value)
        if isinstance(number, float):
            # A double literal is cut to its integer part (not rounded) after a range check.
            number = Decimal(-1) if not 0.0 <= number <= 2155.0 else Decimal(int(number))
        else:
            number = _round_to_integer(number)
        if number < 0 or 100 <= number <= 1900 or number > 2155:
            return b"0000"
        year = int(number)
        # A number 0 and the string '0000' are the year 0000; every other value below 100 is a
        # two-digit year (the string '0' and '00' included).
        if year == 0 and (type(value) is not bytes or len(value) == 4):
            return b"0000"
        if year < 70:
            year += 2000
        elif year < 100:
            year += 1900
        return b"%04d" % year

    return normalise


def _decimal_text(number: Decimal, scale: int) -> bytes:
    text = format(number, "f")
    if number.is_zero():
        return b"0" if scale == 0 else b"0." + b"0" * scale
    return text.encode("ascii")


def _decimal_normaliser(column: ColumnInfo) -> Normaliser:
    precision = column.numeric_precision or 10
    scale = column.numeric_scale or 0
    unsigned = column.unsigned
    step = Decimal(1).scaleb(-scale)
    high = _DECIMAL_CONTEXT.subtract(Decimal(1).scaleb(precision - scale), step)
    low = Decimal(0) if unsigned else high.copy_negate()  # exact: `-high` would round to 28 digits
    whole = precision - scale
    integer_part = rb"0" if whole == 0 else rb"(?:0|[1-9]\d{0,%d})" % (whole - 1)
    canonical = re.compile(rb"-?" + integer_part + (rb"\.\d{%d}" % scale if scale else b""))

    def normalise(value: bytes) -> bytes:
        if type(value) is not BinaryLiteral and canonical.fullmatch(value):
            if value[0] != 45:
                return value
            if not unsigned and value.strip(b"-0."):
                return value  # negative, and not a negative zero
        number = _exact_number(value, unsigned=unsigned)
        if isinstance(number, float):
            # A double literal becomes a decimal through its shortest round-trip digits.
            number = Decimal(repr(number)) if math.isfinite(number) else Decimal(number)
        if number.is_infinite() or number > high:
            number = high if number > 0 else low
        elif number < low:
            number = low
        rounded = number.quantize(step, rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)
        # Rounding can step over the bound (999.995 in DECIMAL(5,2)): the server then stores the bound.
        rounded = min(max(rounded, low), high)
        return _decimal_text(rounded, scale)

    return normalise


def _power_of_ten(exponent: int) -> float:
    return float(f"1e{exponent}")  # the correctly rounded constant, like the server's table of them


def _truncate_double(
    number: float, digits: int | None, scale: int | None, unsigned: bool, limit: float
) -> float:
    """What the server does to a double before storing it in FLOAT/DOUBLE (MariaDB's ``truncate_double``):
    negatives to 0 when UNSIGNED; for FLOAT(M,D)/DOUBLE(M,D), the fractional part rounded to D digits
    (``rint``: half to even, on the double ``(x - floor(x)) * 10**D``); then clamped to the largest value
    the column holds."""
    if math.isnan(number):
        return 0.0
    if unsigned and number < 0:
        return 0.0
    if scale is not None and digits is not None:
        limit = min(limit, _power_of_ten(digits - scale) - 1.0 / _power_of_ten(scale))
        if not math.isinf(number):
            factor = _power_of_ten(scale)
            whole = math.floor(number)
            number = whole + round((number - whole) * factor) / factor
    if number < -limit:
        return -limit
    if number > limit:
        return limit
    return number


def double_text(number: float) -> bytes:
    """The canonical text of a double: what ``IF(ABS(x) < 1e30, CAST(x AS DECIMAL(65,30)), CONCAT(x))``
    gives on MariaDB/MySQL — the shortest round-trip digits, as a fixed 30-decimal number (rounded half
    up) below 1e30, in exponent form (``1.5e300``) above."""
    if number == 0:
        return _FLOAT_ZERO
    text = repr(number)
    if abs(number) >= _FIXED_FLOAT_LIMIT:
        return text.replace("e+", "e").encode("ascii")
    if "e" not in text:
        # 'digits.digits': pad the fraction to 30 digits.
        return (text + _FRACTION_PADDING[len(text) - text.index(".")]).encode("ascii")
    rounded = Decimal(text).quantize(_THIRTY_DECIMALS, rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)
    return _decimal_text(rounded, 30)


def _float_normaliser(column: ColumnInfo) -> Normaliser:
    single = column.data_type == "float"
    limit = _FLT_MAX if single else _DBL_MAX
    declared = _DIGITS_SCALE.search(column.column_type)
    digits, scale = (int(declared.group(1)), int(declared.group(2))) if declared else (None, None)
    unsigned = column.unsigned

    plain = scale is None and not unsigned
    exact_text = plain and not single

    def normalise(value: bytes) -> bytes:
        kind = type(value)
        if exact_text and kind is not BinaryLiteral and len(value) <= 17:
            short = _SHORT_DECIMAL.fullmatch(value)
            if short is not None:
                # At most 15 significant digits: the nearest double's shortest round-trip digits are these
                # digits, so the canonical text comes from the text alone.
                sign, whole, fraction = short.groups()
                whole = whole.lstrip(b"0")
                fraction = fraction or b""
                if len((whole + fraction).strip(b"0")) <= 15:
                    if not whole and not fraction.strip(b"0"):
                        return _FLOAT_ZERO
                    return sign + (whole or b"0") + b"." + fraction.ljust(30, b"0")
        if kind is Number or (kind is bytes and _PLAIN_NUMBER.fullmatch(value)):
            # The server parses decimal and double literals alike to the nearest double, as float() does.
            number = float(value)
        else:
            number = float(_exact_number(value, unsigned=unsigned))  # ±inf beyond the double range: clamped
        if not (plain and -limit <= number <= limit):
            number = _truncate_double(number, digits, scale, unsigned, limit)
        if single:
            number = _FLOAT32.unpack(_FLOAT32.pack(number))[0]
        return double_text(number)

    return normalise


def _bit_normaliser(column: ColumnInfo) -> Normaliser:
    width = column.numeric_precision or 1
    high = (1 << width) - 1

    def normalise(value: bytes) -> bytes:
        if type(value) is Number:
            number = _round_to_integer(_exact_number(value))
            bits = 0 if number < 0 else int(min(number, Decimal(_MASK)))
        elif type(value) is BinaryLiteral and len(value) > 8:
            bits = high  # a number beyond 64 bits: an overflow
        else:
            # A string or hex literal is stored as its bytes, big-endian.
            bits = int.from_bytes(value, "big")
        return b"%d" % min(bits, high)

    return normalise


# --- strings -------------------------------------------------------------------------------------------


def _strip_char(value: bytes) -> bytes:
    # CHAR values come back without their trailing spaces (unless sql_mode has PAD_CHAR_TO_FULL_LENGTH,
    # which the checksum query turns off).
    return value.rstrip(b" ") if value[-1:] == b" " else value


def _binary_normaliser(column: ColumnInfo) -> Normaliser:
    width = column.octet_max_length or column.char_max_length or 1

    def normalise(value: bytes) -> bytes:
        return value if len(value) >= width else value.ljust(width, b"\0")

    return normalise


# --- ENUM and SET ---------------------------------------------------------------------------------------

_MEMBER_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "Z": "\x1a", "z": "\x1a", "t": "\t", "b": "\b"}


def parse_members(column_type: str) -> list[str]:
    """The members of ``enum('a','it''s')`` / ``set(...)`` as ``information_schema.COLUMNS`` writes them."""
    start = column_type.index("(") + 1
    members: list[str] = []
    current: list[str] | None = None
    text = column_type
    index = start
    while index < len(text):
        char = text[index]
        if current is None:
            if char == "'":
                current = []
            elif char == ")":
                break
        elif char == "'":
            if text[index + 1 : index + 2] == "'":
                current.append("'")
                index += 1
            else:
                members.append("".join(current))
                current = None
        elif char == "\\" and index + 1 < len(text):
            index += 1
            current.append(_MEMBER_ESCAPES.get(text[index], text[index]))
        else:
            current.append(char)
        index += 1
    return members


def _member_lookup(
    column: ColumnInfo, *, ignore_trailing_spaces: bool
) -> tuple[dict[bytes, int], Callable[[bytes], bytes]]:
    """Map each member's bytes (as the column stores them) to its 1-based index, and the key function
    that makes a source value comparable with them (the column's collation decides about case; an ENUM
    value loses its trailing spaces first, a SET element does not)."""
    is_binary = (column.charset or "").lower() == "binary"
    charset = lookup_charset(column.charset) or lookup_charset("utf8mb4")
    assert charset is not None
    collation = (column.collation or "").lower()
    case_sensitive = collation.endswith(("_bin", "_cs")) or is_binary

    def key(value: bytes) -> bytes:
        if ignore_trailing_spaces:
            value = value.rstrip(b" ")
        if case_sensitive:
            return value
        if value.isascii():
            return value.lower()
        try:
            return charset.encode(charset.decode(value).lower())
        except UnicodeError:
            return value

    members: dict[bytes, int] = {}
    for position, member in enumerate(parse_members(column.column_type), start=1):
        try:
            encoded = member.encode("latin-1") if is_binary else charset.encode(member)
        except UnicodeError:
            encoded = member.encode("utf-8")
        members.setdefault(key(encoded), position)
    return members, key


def _enum_normaliser(column: ColumnInfo) -> Normaliser:
    members, key = _member_lookup(column, ignore_trailing_spaces=True)
    count = len(parse_members(column.column_type))
    texts = {member: b"%d" % index for member, index in members.items()}

    def normalise(value: bytes) -> bytes:
        if type(value) is bytes:
            found = texts.get(value)
            if found is not None:
                return found
        if type(value) is bytes or type(value) is BinaryLiteral:
            index = members.get(key(value))
            if index is not None:
                return b"%d" % index
            # A string that names no member but is a small number is the member's index (LOAD DATA).
            if type(value) is bytes and 0 < len(value) < 6 and value.isdigit():
                number = int(value)
                return b"%d" % (number if number <= count else 0)
            return b"0"
        number = _round_to_integer(_exact_number(value))
        return b"%d" % (int(number) if 0 <= number <= count else 0)

    return normalise


def _set_normaliser(column: ColumnInfo) -> Normaliser:
    members, key = _member_lookup(column, ignore_trailing_spaces=False)
    count = len(parse_members(column.column_type))
    everything = (1 << count) - 1

    def normalise(value: bytes) -> bytes:
        if type(value) is Number:
            number = _round_to_integer(_exact_number(value))
            return b"%d" % (int(number) & everything if number >= 0 else 0)
        mask = 0
        for element in value.split(b","):
            index = members.get(key(element))
            if index is not None:
                mask |= 1 << (index - 1)
        if mask == 0 and type(value) is bytes and 0 < len(value) < 22 and value.isdigit():
            number = int(value)
            return b"%d" % (number if number <= everything else 0)
        return b"%d" % mask

    return normalise


# --- dates and times -------------------------------------------------------------------------------------

_SPACE = b" \t\n\r\f\v"
_DELIMITED_DATETIME = re.compile(
    rb"(\d{4}|\d{2})[-/.](\d{1,2})[-/.](\d{1,2})"
    rb"(?:(?:T|[ \t]+)(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?)?)?"
)
_DIGITS_AND_FRACTION = re.compile(rb"([+-]?)(\d+)(?:\.(\d*))?")
# 'D H:M[:S][.f]' and 'D HH': days before the hours.
_TIME_WITH_DAYS = re.compile(rb"(-?)(\d+)[ \t]+(?:(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?|(\d{2}))(?:\.(\d*))?")
_TIME_WITH_COLONS = re.compile(rb"(-?)(\d+):(\d{1,2})(?::(\d{1,2}))?(?:\.(\d*))?")
_TIME_MAX = (838, 59, 59, 999999)
# TIMESTAMP holds seconds since 1970-01-01 00:00:00 UTC and uses 0 for the zero date, so the epoch itself
# (after cutting the fraction to the column's precision) shows as 0000-00-00 00:00:00.
_TIMESTAMP_EPOCH = (1970, 1, 1, 0, 0, 0, 0)
_TIMESTAMP_MAX = (2038, 1, 19, 3, 14, 7, 999999)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class _DateTime:
    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0
    micro: int = 0  # microseconds, already rounded or truncated to the column's precision


def _is_leap(year: int) -> bool:
    # The server's rule: the year 0 is not a leap year.
    return year % 4 == 0 and (year % 100 != 0 or (year % 400 == 0 and year != 0))


def _days_in_month(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month]


def _two_digit_year(year: int) -> int:
    return year + 2000 if year < 70 else year + 1900


def _fraction_to_micro(digits: bytes | None, precision: int, rounding: bool) -> int:
    """Fractional seconds as microseconds, cut to ``precision`` digits — rounded half up if the server
    rounds (MySQL, MariaDB with TIME_ROUND_FRACTIONAL), truncated if it truncates (MariaDB's default).
    May return 1_000_000 when rounding carries into the seconds."""
    if not digits:
        return 0
    if not rounding:
        return int(digits[:precision].ljust(6, b"0")) if precision else 0
    # The server keeps microseconds first (rounding at the 7th digit), then rounds to the precision.
    micro = int(digits[:6].ljust(6, b"0"))
    if len(digits) > 6 and digits[6] >= 53:
        micro += 1
    unit = 10 ** (6 - precision)
    return (micro + unit // 2) // unit * unit


def _add_second(value: _DateTime) -> _DateTime | None:
    """``value`` plus one second (for a fraction rounded up), or None where the calendar cannot say."""
    year, month, day, hour, minute, second = (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second + 1,
    )
    if second == 60:
        second, minute = 0, minute + 1
    if minute == 60:
        minute, hour = 0, hour + 1
    if hour == 24:
        if month == 0 or day == 0:
            return None
        hour, day = 0, day + 1
        if day > _days_in_month(year, month):
            day, month = 1, month + 1
            if month == 13:
                month, year = 1, year + 1
                if year > 9999:
                    return None
    return _DateTime(year, month, day, hour, minute, second, 0)


def _number_to_datetime(number: int) -> tuple[int, ...] | None:
    """The server's reading of an integer as YYMMDD, YYYYMMDD, YYMMDDhhmmss or YYYYMMDDhhmmss."""
    if number == 0:
        return (0, 0, 0, 0, 0, 0)
    if number < 101 or number >= 100000000000000:
        return None
    if number <= 691231:
        number = (number + 20000000) * 1000000
    elif number < 700101:
        return None
    elif number <= 991231:
        number = (number + 19000000) * 1000000
    elif number < 10000101:
        return None
    elif number <= 99991231:
        number *= 1000000
    elif number < 101000000:
        return None
    elif number <= 691231235959:
        number += 20000000000000
    elif number < 700101000000:
        return None
    elif number <= 991231235959:
        number += 19000000000000
    return (
        number // 10000000000,
        number // 100000000 % 100,
        number // 1000000 % 100,
        number // 10000 % 100,
        number // 100 % 100,
        number % 100,
    )


def _digits_to_datetime(digits: bytes) -> tuple[int, ...] | None:
    """A string of digits only: YYYYMMDDhhmmss, YYMMDDhhmmss, YYYYMMDD or YYMMDD."""
    size = len(digits)
    if size == 14:
        return (
            int(digits[:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
        )
    if size == 12:
        return (
            _two_digit_year(int(digits[:2])),
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
        )
    if size == 8:
        return (int(digits[:4]), int(digits[4:6]), int(digits[6:8]), 0, 0, 0)
    if size == 6:
        return (_two_digit_year(int(digits[:2])), int(digits[2:4]), int(digits[4:6]), 0, 0, 0)
    return None


_NOT_A_DATE: tuple[int, ...] = ()


def _parse_datetime(value: bytes) -> tuple[tuple[int, ...], bytes | None] | None:
    """(year, month, day, hour, minute, second) and the fraction's digits; ``_NOT_A_DATE`` for a number
    the server cannot read as a date (it stores the zero date); None for a form this module does not
    read (the value is then hashed as it is)."""
    if type(value) is Number:
        text = bytes(value)
        if _is_double_literal(text):
            try:
                text = format(Decimal(repr(float(text))), "f").encode("ascii")
            except ValueError:
                return None
        found = _DIGITS_AND_FRACTION.fullmatch(text)
        if found is None:
            return None
        if found.group(1) == b"-":
            return _NOT_A_DATE, None
        parts = _number_to_datetime(int(found.group(2)))
        return (parts or _NOT_A_DATE), found.group(3)
    text = value.strip(_SPACE)
    found = _DIGITS_AND_FRACTION.fullmatch(text)
    if found is not None:
        if found.group(1):
            return None
        parts = _digits_to_datetime(found.group(2))
        return (parts, found.group(3)) if parts is not None else None
    found = _DELIMITED_DATETIME.fullmatch(text)
    if found is None:
        return None
    year_text, month, day, hour, minute, second, fraction = found.groups()
    year = int(year_text) if len(year_text) == 4 else _two_digit_year(int(year_text))
    return (year, int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)), fraction


def _valid_datetime(parts: tuple[int, ...]) -> bool:
    year, month, day, hour, minute, second = parts
    if month > 12 or day > 31 or hour > 23 or minute > 59 or second > 59:
        return False
    if month == 0 or day == 0:
        return True  # zero in dates is allowed (no NO_ZERO_IN_DATE): '2024-00-10', '0000-00-00'
    return day <= _days_in_month(year, month)


def _temporal_normaliser(column: ColumnInfo, rounding: bool) -> Normaliser:
    kind = column.data_type
    precision = _fractional_digits(column)
    with_time = kind != "date"
    timestamp = kind == "timestamp"
    fraction_pattern = rb"\.\d{%d}" % precision if precision else b""
    # The canonical text that needs no checking: any day up to the 28th (later days need the calendar);
    # for TIMESTAMP only the years 1971-2037 and no zero month or day (the range ends need a closer look).
    if timestamp:
        date_pattern = rb"(?:197[1-9]|19[89]\d|20[0-2]\d|203[0-7])-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
    else:
        date_pattern = rb"\d{4}-(?:0\d|1[0-2])-(?:[01]\d|2[0-8])"
    time_pattern = rb" (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d" + fraction_pattern if with_time else b""
    canonical = re.compile(date_pattern + time_pattern)
    zero = b"0000-00-00" + (
        b" 00:00:00" + (b"." + b"0" * precision if precision else b"") if with_time else b""
    )

    def render(value: _DateTime) -> bytes:
        text = b"%04d-%02d-%02d" % (value.year, value.month, value.day)
        if not with_time:
            return text
        text += b" %02d:%02d:%02d" % (value.hour, value.minute, value.second)
        if precision:
            text += b".%06d" % value.micro
            text = text[: len(text) - 6 + precision]
        return text

    def normalise(value: bytes) -> bytes:
        if type(value) is bytes and canonical.fullmatch(value):
            return value
        parsed = _parse_datetime(value)
        if parsed is None:
            return value
        parts, fraction = parsed
        if not parts or not _valid_datetime(parts):
            return zero
        if parts == (0, 0, 0, 0, 0, 0):
            return zero
        micro = _fraction_to_micro(fraction, precision, rounding) if with_time else 0
        moment = _DateTime(*parts, micro=min(micro, 999999))
        if micro == 1000000:
            moment = _add_second(moment)
            if moment is None:
                return value
        if timestamp:
            if moment.month == 0 or moment.day == 0:
                return zero
            if not _TIMESTAMP_EPOCH < astuple(moment) <= _TIMESTAMP_MAX:
                # Out of range: the server stores 0 seconds but keeps the fraction.
                return render(_DateTime(1970, 1, 1, micro=moment.micro)) if moment.micro else zero
        return render(moment)

    return normalise


def _parse_time(value: bytes) -> tuple[bool, int, int, int, bytes | None] | None:
    """(negative, hours, minutes, seconds, fraction digits) of a TIME value, or None if not understood."""
    if type(value) is Number:
        text = value
        if _is_double_literal(text):
            try:
                text = format(Decimal(repr(float(text))), "f").encode("ascii")
            except ValueError:
                return None
    else:
        text = value.strip(_SPACE)
    found = _TIME_WITH_COLONS.fullmatch(text)
    if found is not None:
        sign, hours, minutes, seconds, fraction = found.groups()
        return sign == b"-", int(hours), int(minutes), int(seconds or 0), fraction
    found = _DIGITS_AND_FRACTION.fullmatch(text)
    if found is not None:
        sign, digits, fraction = found.groups()
        number = int(digits)
        return sign == b"-", number // 10000, number // 100 % 100, number % 100, fraction
    found = _TIME_WITH_DAYS.fullmatch(text)
    if found is not None:
        sign, days, hours, minutes, seconds, bare_hours, fraction = found.groups()
        hours = int(days) * 24 + int(hours or bare_hours)
        return sign == b"-", hours, int(minutes or 0), int(seconds or 0), fraction
    parsed = _parse_datetime(value)
    if parsed is not None and parsed[0] and _valid_datetime(parsed[0]):
        parts, fraction = parsed
        return False, parts[3], parts[4], parts[5], fraction
    return None


def _time_normaliser(column: ColumnInfo, rounding: bool) -> Normaliser:
    precision = _fractional_digits(column)
    canonical = re.compile(
        rb"(?:[0-7]\d\d|8[0-2]\d|83[0-8]|\d\d):[0-5]\d:[0-5]\d"
        + (rb"\.\d{%d}" % precision if precision else b"")
    )
    zero = b"00:00:00" + (b"." + b"0" * precision if precision else b"")

    def normalise(value: bytes) -> bytes:
        if type(value) is bytes and canonical.fullmatch(value) and (value[0] != 48 or value[2] == 58):
            return value  # hours have two digits, or three without a leading zero
        parsed = _parse_time(value)
        if parsed is None:
            return value
        negative, hours, minutes, seconds, fraction = parsed
        if minutes > 59 or seconds > 59:
            return zero
        micro = _fraction_to_micro(fraction, precision, rounding)
        if micro == 1000000:
            micro, seconds = 0, seconds + 1
            if seconds == 60:
                seconds, minutes = 0, minutes + 1
                if minutes == 60:
                    minutes, hours = 0, hours + 1
        if (hours, minutes, seconds, micro) > _TIME_MAX:
            hours, minutes, seconds, micro = _TIME_MAX
        if negative and not (hours or minutes or seconds or micro):
            negative = False  # the server shows no '-00:00:00'
        text = b"%s%02d:%02d:%02d" % (b"-" if negative else b"", hours, minutes, seconds)
        if precision:
            text += (b".%06d" % micro)[: precision + 1]
        return text

    return normalise


def _fractional_digits(column: ColumnInfo) -> int:
    if column.datetime_precision is not None:
        return column.datetime_precision
    declared = re.search(r"\((\d)\)", column.column_type)
    return int(declared.group(1)) if declared else 0


# --- per column: the Python normaliser and the SQL expression -------------------------------------------

_TEMPORAL_TYPES = frozenset({"date", "datetime", "timestamp"})
_FLOAT_TYPES = frozenset({"float", "double", "real", "double precision"})

# Columns whose values this module cannot always normalise exactly: shown as likely causes of a mismatch.
_INEXACT_TYPES = {
    "json": "the server rewrites JSON text into its own normal form (MySQL)",
    "geometry": "spatial values are compared as the bytes the source gives",
    "point": "spatial values are compared as the bytes the source gives",
    "linestring": "spatial values are compared as the bytes the source gives",
    "polygon": "spatial values are compared as the bytes the source gives",
    "multipoint": "spatial values are compared as the bytes the source gives",
    "multilinestring": "spatial values are compared as the bytes the source gives",
    "multipolygon": "spatial values are compared as the bytes the source gives",
    "geometrycollection": "spatial values are compared as the bytes the source gives",
    "float": "a FLOAT keeps about 7 significant digits; a dump of a FLOAT carries only 6",
    "timestamp": "TIMESTAMP values are read in the import session's time zone",
}


# MariaDB's INET4, INET6 and UUID: hashed as the text the server prints for them (CAST(... AS CHAR)), as
# their stored bytes are not what a dump writes. A value that is not their text is taken for the raw bytes
# the server reads a binary string of the type's length as.
_UUID_TEXT = re.compile(rb"[0-9a-fA-F]{32}")


def _inet4_bytes(value: bytes) -> bytes | None:
    parts = value.split(b".")
    if len(parts) == 4 and all(0 < len(p) <= 3 and p.isdigit() and int(p) <= 255 for p in parts):
        return bytes(int(p) for p in parts)
    return value if len(value) == 4 else None


def _inet4_normaliser(value: bytes) -> bytes:
    packed = _inet4_bytes(value)
    return value if packed is None else b"%d.%d.%d.%d" % tuple(packed)


def _inet6_normaliser(value: bytes) -> bytes:
    try:
        packed = ipaddress.IPv6Address(value.decode("ascii")).packed
    except (UnicodeDecodeError, ValueError):
        if len(value) != 16:
            return value
        packed = value
    if packed[:10] == bytes(10) and packed[10:12] == b"\xff\xff":  # IPv4-mapped
        return b"::ffff:%d.%d.%d.%d" % tuple(packed[12:])
    if packed[:12] == bytes(12) and packed[12:14] != bytes(2):  # IPv4-compatible, as MariaDB tells it
        return b"::%d.%d.%d.%d" % tuple(packed[12:])
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    # MariaDB shortens the longest run of zero words (the first of equal ones), even a run of one
    best_start, best_length, start = -1, 0, None
    for i, word in enumerate([*words, 1]):
        if word == 0 and start is None:
            start = i
        elif word != 0 and start is not None:
            if i - start > best_length:
                best_start, best_length = start, i - start
            start = None
    text = [b"%x" % word for word in words]
    if best_length:
        left = b":".join(text[:best_start])
        right = b":".join(text[best_start + best_length :])
        return left + b"::" + right
    return b":".join(text)


def _uuid_normaliser(value: bytes) -> bytes:
    digits = value.replace(b"-", b"")
    if _UUID_TEXT.fullmatch(digits) is None:
        if len(value) != 16:
            return value
        digits = value.hex().encode()
    digits = digits.lower()
    return b"-".join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))


_TEXT_TYPES = {"inet4": _inet4_normaliser, "inet6": _inet6_normaliser, "uuid": _uuid_normaliser}


def value_normaliser(column: ColumnInfo, *, round_fractional_seconds: bool = False) -> Normaliser | None:
    """The function giving a source value's canonical bytes for ``column``, or None if the bytes are
    already canonical (strings kept as they are)."""
    kind = column.data_type
    if kind in _INTEGER_BITS:
        return _integer_normaliser(column)
    if kind == "year":
        return _year_normaliser(column)
    if kind in ("decimal", "numeric"):
        return _decimal_normaliser(column)
    if kind in _FLOAT_TYPES:
        return _float_normaliser(column)
    if kind == "bit":
        return _bit_normaliser(column)
    if kind == "char":
        return _strip_char
    if kind == "binary":
        return _binary_normaliser(column)
    if kind == "enum":
        return _enum_normaliser(column)
    if kind == "set":
        return _set_normaliser(column)
    if kind in _TEMPORAL_TYPES:
        return _temporal_normaliser(column, round_fractional_seconds)
    if kind == "time":
        return _time_normaliser(column, round_fractional_seconds)
    return _TEXT_TYPES.get(kind)


def canonical_value_sql(column: ColumnInfo) -> str:
    """The SQL expression giving the canonical bytes of ``column``'s value (NULL for NULL)."""
    name = quote_identifier(column.name)
    kind = column.data_type
    if kind in _FLOAT_TYPES:
        # Through DECIMAL(65,30) while it fits; `+ 0e0` makes a FLOAT print as the double it is.
        expression = f"IF(ABS({name}) < 1e30, CAST({name} AS DECIMAL(65,30)), CONCAT({name} + 0e0))"
    elif kind == "bit":
        expression = f"CAST({name} AS UNSIGNED)"
    elif kind in ("enum", "set"):
        expression = f"{name} + 0"
    elif kind in _TEXT_TYPES:
        expression = f"CAST({name} AS CHAR CHARACTER SET ascii)"  # the text, also on a binary session
    else:
        expression = name
    return f"CAST({expression} AS BINARY)"


def _canonical_order(columns: Sequence[ColumnInfo]) -> list[int]:
    return sorted(range(len(columns)), key=lambda i: (columns[i].name.lower(), i))


def row_hash_sql(columns: Sequence[ColumnInfo]) -> str:
    """The SQL expression giving one target row's 64-bit hash (BIGINT UNSIGNED), over ``columns``."""
    pieces = []
    for index in _canonical_order(columns):
        value = canonical_value_sql(columns[index])
        piece = f"CONCAT(LENGTH({value}), ':', {value})"
        # (A NOT NULL column has no NULL to spell: the IFNULL would cost every row for nothing.)
        pieces.append(f"IFNULL({piece}, 'N')" if columns[index].nullable else piece)
    row = f"CONCAT({', '.join(pieces)})" if pieces else "''"
    # SHA-1 rather than MD5: cheaper on both sides (OpenSSL's and the server's), in every MySQL flavour.
    return f"CAST(CONV(LEFT(SHA1({row}), 16), 16, 10) AS UNSIGNED)"


def target_checksum_sql(
    table: TableInfo,
    columns: Sequence[ColumnInfo] | None = None,
    *,
    key_range: tuple[str, int, int] | None = None,
) -> str:
    """One SELECT giving ``(COUNT(*), sum of the row hashes mod 2**64)`` for the target table.

    ``columns`` are the columns the source files carry (default: every column that is not generated);
    columns outside it are not hashed — they got their defaults on the server, and the source knows
    nothing about them. ``key_range`` (column, first, last) limits it to the rows whose integer key is in
    that range.
    """
    if columns is None:
        columns = table.insertable_columns
    qualified = f"{quote_identifier(table.schema)}.{quote_identifier(table.name)}"
    where = ""
    if key_range is not None:
        key, first, last = key_range
        where = f" WHERE {quote_identifier(key)} BETWEEN {int(first)} AND {int(last)}"
    return (
        f"SELECT COUNT(*), CAST(COALESCE(MOD(SUM({row_hash_sql(columns)}), 18446744073709551616), 0) "
        f"AS UNSIGNED) FROM {qualified}{where}"
    )


def fetch_target_checksum(
    conn,
    table: TableInfo,
    *,
    columns: Sequence[ColumnInfo] | None = None,
    time_zone: str = "+00:00",
) -> RowChecksum:
    """Run :func:`target_checksum_sql` on ``conn`` (in the session :func:`_checksum_session` sets up)."""
    with _checksum_session(conn, time_zone) as cur:
        checksum = _run_checksum(cur, table, target_checksum_sql(table, columns))
    log.debug("target checksum of `%s`.`%s`: %s", table.schema, table.name, checksum)
    return checksum


def fetch_target_checksum_concurrently(
    connect: Callable[[], Any],
    table: TableInfo,
    *,
    columns: Sequence[ColumnInfo] | None = None,
    time_zone: str = "+00:00",
    concurrency: int = 1,
) -> RowChecksum:
    """:func:`fetch_target_checksum`, split over ``concurrency`` connections from ``connect``.

    One query reads a table on one server thread; a table with a single-column integer primary key is
    cut into ranges of its key, summed by ``concurrency`` connections at once (the sums add up: the
    checksum is a sum). Other tables take one query.
    """
    key = _integer_primary_key(table)
    conn = connect()
    try:
        if key is None or concurrency < 2:
            return fetch_target_checksum(conn, table, columns=columns, time_zone=time_zone)
        with conn.cursor() as cur:
            cur.execute(f"SELECT MIN({quote_identifier(key)}), MAX({quote_identifier(key)}) FROM "
                        f"{quote_identifier(table.schema)}.{quote_identifier(table.name)}")
            low, high = cur.fetchone()
        if low is None:
            return fetch_target_checksum(conn, table, columns=columns, time_zone=time_zone)
    finally:
        conn.close()
    low, high = int(low), int(high)
    pieces = concurrency * 4  # more pieces than connections: one slow piece does not hold the others up
    step = max(1, -(-(high - low + 1) // pieces))
    ranges: queue.SimpleQueue[tuple[str, int, int]] = queue.SimpleQueue()
    for first in range(low, high + 1, step):
        ranges.put((key, first, min(first + step - 1, high)))

    def sum_ranges() -> RowChecksum:
        total = RowChecksum()
        worker = connect()
        try:
            with _checksum_session(worker, time_zone) as cur:
                while True:
                    try:
                        key_range = ranges.get_nowait()
                    except queue.Empty:
                        return total
                    sql = target_checksum_sql(table, columns, key_range=key_range)
                    total = total + _run_checksum(cur, table, sql)
        finally:
            worker.close()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="checksum") as pool:
        parts = [pool.submit(sum_ranges) for _ in range(concurrency)]
        checksum = sum((part.result() for part in parts), RowChecksum())
    log.debug(
        "target checksum of `%s`.`%s` over %d connections: %s", table.schema, table.name, concurrency, checksum
    )
    return checksum


def _integer_primary_key(table: TableInfo) -> str | None:
    if len(table.primary_key) != 1:
        return None
    column = table.column(table.primary_key[0])
    return column.name if column.data_type in _INTEGER_BITS else None


@contextmanager
def _checksum_session(conn, time_zone: str) -> Iterator[Any]:
    """A cursor whose session shows TIMESTAMPs in ``time_zone`` (the one the import session used) and
    has ``PAD_CHAR_TO_FULL_LENGTH`` taken out of ``sql_mode``; both are restored afterwards."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@SESSION.time_zone, @@SESSION.sql_mode")
        old_zone, old_mode = (_text(v) for v in cur.fetchone())
        modes = [m for m in old_mode.split(",") if m and m.upper() != "PAD_CHAR_TO_FULL_LENGTH"]
        try:
            cur.execute("SET SESSION time_zone = %s", (time_zone,))
            if len(modes) != len([m for m in old_mode.split(",") if m]):
                cur.execute("SET SESSION sql_mode = %s", (",".join(modes),))
            yield cur
        finally:
            cur.execute("SET SESSION time_zone = %s", (old_zone,))
            cur.execute("SET SESSION sql_mode = %s", (old_mode,))


def _run_checksum(cur, table: TableInfo, sql: str) -> RowChecksum:
    cur.execute(sql)
    rows, total = cur.fetchone()
    _check_warnings(cur, table)
    return RowChecksum(int(rows), int(total))


def _check_warnings(cur, table: TableInfo) -> None:
    cur.execute("SHOW WARNINGS")
    for _level, code, message in cur.fetchall():
        if int(code) == 1301:
            raise TargetError(
                f"cannot checksum `{table.schema}`.`{table.name}`: a row is longer than max_allowed_packet "
                f"({_text(message)}); raise max_allowed_packet on the target or set post-restore.checksum = "
                "'off' for this table"
            )



# --- what the target's strings say about a mismatch ---------------------------------------------------------

CHARSET_SETTINGS = (
    "check the data files' SET NAMES, [mydumper] data-character-set (CSV files, and SQL files that set "
    "none) and [mydumper] character-set (schema files)"
)
CHARSET_CAUSE = (
    "strings in a character set other than the one declared: UTF-8 text declared as latin1 is stored "
    f"double-encoded, latin1 text declared as UTF-8 has bytes that are not valid UTF-8; {CHARSET_SETTINGS}"
)
# UTF-8 text read as latin1 and stored as UTF-8: a 2-byte sequence's lead byte (0xC2-0xDF, now U+00C2-U+00DF,
# "Ã" and friends: C3 82-C3 9F) followed by its continuation byte (0x80-0xBF: U+0080-U+00BF, C2 xx, or one
# of Windows-1252's letters and signs there, C5 / C6 / CB / E2 ...).
_DOUBLE_ENCODED = (
    rb"\xC3[\x82-\x9F]"
    rb"(\xC2[\x80-\xBF]|\xC5[\x92\x93\xA0\xA1\xB8\xBD\xBE]|\xC6\x92|\xCB[\x86\x9C]|\xE2[\x80-\x84])"
)
_REPLACEMENT_CHARACTER = b"\xef\xbf\xbd"  # U+FFFD in UTF-8


def string_findings(conn, table: TableInfo, columns: Sequence[ColumnInfo]) -> list[str]:
    """Signs of a character-set mistake in the target's text columns, for the mismatch message: values
    that look double-encoded, values holding U+FFFD (what the CSV conversion writes for bytes that do not
    convert) and values holding ``?`` (what the server writes for them). One query, run only after a
    mismatch."""
    text = [c for c in columns if c.charset and c.charset.lower() != "binary"]
    if not text:
        return []
    pieces: list[str] = []
    params: list[bytes] = []
    for column in text:
        value = f"CAST({quote_identifier(column.name)} AS BINARY)"
        utf8 = column.charset.lower().startswith("utf8")
        pieces.append(f"SUM({value} REGEXP %s)" if utf8 else "0")
        if utf8:
            params.append(_DOUBLE_ENCODED)
        pieces.append(f"SUM(LOCATE(%s, {value}) > 0)")
        params.append(_REPLACEMENT_CHARACTER if utf8 else b"\0\0\0never")
        pieces.append(f"SUM(LOCATE('?', {value}) > 0)")
    sql = f"SELECT {', '.join(pieces)} FROM {quote_identifier(table.schema)}.{quote_identifier(table.name)}"
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            counts = [int(n or 0) for n in cur.fetchone()]
    except Exception as exc:  # noqa: BLE001 - a diagnosis must never hide the mismatch it explains
        log.warning(
            "table %s.%s: could not look for character-set mistakes: %s", table.schema, table.name, exc
        )
        return []
    findings = []
    for index, column in enumerate(text):
        double, replaced, question = counts[3 * index : 3 * index + 3]
        if double:
            findings.append(
                f"{double} values of column {column.name} look double-encoded (UTF-8 text read as latin1)"
            )
        if replaced:
            findings.append(
                f"{replaced} values of column {column.name} hold U+FFFD: bytes that are not valid in the "
                "declared charset (mydumper.data-invalid-char-replace)"
            )
        if question:
            findings.append(
                f"{question} values of column {column.name} hold '?', which the server writes for bytes "
                f"that are not valid in the declared charset or characters {column.charset} cannot hold"
            )
    return findings


# --- the source side ---------------------------------------------------------------------------------------

_NULL = b"N"
# "<length>:" for the common lengths, computed once (an immutable table).
_LENGTH_PREFIXES = tuple(b"%d:" % n for n in range(4096))
_HASH_PREFIX = struct.Struct(">Q").unpack_from


def _in_column_charset(
    column: ColumnInfo, source: MysqlCharset | None, normalise: Normaliser | None
) -> Normaliser | None:
    """``normalise`` preceded by the server's conversion of a string sent in ``source`` into the column's
    character set (:func:`~.charsets.server_conversion`), where that changes the bytes: only for text
    columns whose charset differs from the file's. ``source`` None means the bytes are stored as sent."""
    if source is None or not column.charset:
        return normalise
    target = lookup_charset(column.charset)
    if target is None:  # binary, or a charset (ucs2, utf16, ...) a client cannot send in: bytes as they are
        return normalise
    convert = server_conversion(source, target)
    if convert is None:
        return normalise
    if normalise is None:
        def converted(value: bytes) -> bytes:
            return convert(value) if type(value) is bytes else value
    else:
        def converted(value: bytes) -> bytes:
            return normalise(convert(value) if type(value) is bytes else value)
    return converted


class RowHasher:
    """Hashes source rows the way :func:`row_hash_sql` hashes target rows.

    ``columns`` are the target columns in the order of the source row's values — the columns the file
    carries, not necessarily all of the table's. ``round_fractional_seconds`` says whether the target
    rounds fractional seconds to the column's precision (MySQL, TiDB, MariaDB with
    ``TIME_ROUND_FRACTIONAL``) or truncates them (MariaDB's default): see :func:`rounds_fractional_seconds`.
    ``source_charset`` is the client character set the strings are sent in (None or ``binary``: stored as
    they are): a text column in another charset holds them converted, and that is what is hashed.
    """

    __slots__ = ("_plain_sql", "_plan", "_source_charset", "columns")

    def __init__(
        self,
        columns: Sequence[ColumnInfo],
        *,
        round_fractional_seconds: bool = False,
        source_charset: str | None = None,
    ) -> None:
        self.columns = tuple(columns)
        self._source_charset = source_charset  # also how a raw SQL row's strings are read (gbk: 0x5C)
        source = lookup_charset(source_charset)
        self._plan = tuple(
            (
                index,
                _in_column_charset(
                    self.columns[index],
                    source,
                    value_normaliser(self.columns[index], round_fractional_seconds=round_fractional_seconds),
                ),
            )
            for index in _canonical_order(self.columns)
        )
        self._plain_sql: _PlainSqlRows | None = None

    def canonical_row(self, values: Sequence[Value]) -> list[bytes | None]:
        """Each value's canonical bytes, in the order of ``columns`` (for finding what differs)."""
        self._check_width(values)
        canonical: list[bytes | None] = [None] * len(values)
        for index, normalise in self._plan:
            value = values[index]
            if value is not None:
                canonical[index] = bytes(normalise(value) if normalise is not None else value)
        return canonical

    def hash_row(self, values: Sequence[Value]) -> int:
        """The row's 64-bit hash."""
        self._check_width(values)
        return self._hash(values)

    def hash_rows(self, rows: Iterable[Sequence[Value]]) -> list[int]:
        """Each row's hash (for batches that must know which row contributed what)."""
        return [self._hash(row) for row in rows]

    def add_rows(self, rows: Iterable[Sequence[Value]]) -> RowChecksum:
        """The checksum of a batch of rows."""
        plan = self._plan
        prefixes = _LENGTH_PREFIXES
        limit = len(prefixes)
        sha1 = hashlib.sha1
        first_eight = _HASH_PREFIX
        join = b"".join
        total = 0
        count = 0
        for row in rows:
            parts = []
            append = parts.append
            for index, normalise in plan:
                value = row[index]
                if value is None:
                    append(_NULL)
                    continue
                if normalise is not None:
                    value = normalise(value)
                size = len(value)
                append(prefixes[size] if size < limit else b"%d:" % size)
                append(value)
            total += first_eight(sha1(join(parts)).digest())[0]
            count += 1
        return RowChecksum(count, total & _MASK)

    def _hash(self, row: Sequence[Value]) -> int:
        parts = []
        for index, normalise in self._plan:
            value = row[index]
            if value is None:
                parts.append(_NULL)
                continue
            if normalise is not None:
                value = normalise(value)
            parts.append(b"%d:" % len(value))
            parts.append(value)
        return _HASH_PREFIX(hashlib.sha1(b"".join(parts)).digest())[0]

    def hash_sql_rows(self, raws: Sequence[bytes]) -> list[int]:
        """Each raw SQL row tuple's hash (``(1,"a",NULL)`` as the dump wrote it), as
        ``hash_row(decode_row(raw))`` gives it.

        Most dump rows are plain — numbers, NULL, quoted strings without escapes — and those are read by
        one regular expression compiled for the table's columns (:class:`_PlainSqlRows`), several times
        cheaper than the parser's grammar; this runs for every row of an import. Anything else takes the
        parser. Rows whose width does not match the columns hash to 0 (the target rejects them anyway).
        """
        return self._plain_sql_rows().hash_rows(raws, self._hash_parsed)

    def _plain_sql_rows(self) -> _PlainSqlRows:
        if self._plain_sql is None:
            self._plain_sql = _PlainSqlRows(self.columns, self._plan)
        return self._plain_sql

    def _hash_parsed(self, raw: bytes) -> int:
        values = decode_row(raw, charset=self._source_charset)
        return self._hash(values) if len(values) == len(self.columns) else 0

    def _check_width(self, values: Sequence[Value]) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"a row of {len(values)} values for {len(self.columns)} columns")


# Plain SQL values, as regular expressions with one capturing group giving the canonical bytes.
_QUOTED = {b'"': rb'"([^"\\]*)"', b"'": rb"'([^'\\]*)'"}
# A CHAR value without trailing spaces (the server strips them: with them, the value is not canonical).
_QUOTED_UNPADDED = {b'"': rb'"((?:[^"\\]*[^"\\ ])?)"', b"'": rb"'((?:[^'\\]*[^'\\ ])?)'"}
_PLAIN_NUMBER_TEXT = rb"(-?[0-9]+(?:\.[0-9]+)?)"


class _PlainSqlRows:
    """Hashes plain raw SQL rows without parsing them, exactly as :meth:`RowHasher._hash` hashes their values.

    For each quote character a dump may use, one regular expression matches a whole row of plain values
    — an integer in range and without leading zeros, a quoted string without escapes (for CHAR, without
    trailing spaces), a decimal number, NULL where the column allows it — capturing each value. A
    function generated for the table's columns (as ``collections.namedtuple`` does) then hashes the
    captures with one ``%`` formatting per row, calling a normaliser only for the columns that have one
    beyond "strip" or "as is" (dates, decimals, ...). A row either regular expression rejects goes to the
    parser. The generated code holds column positions only, never a name or a value from the input.
    """

    __slots__ = ("_hash_rows",)

    def __init__(self, columns: Sequence[ColumnInfo], plan: Sequence[tuple[int, Normaliser | None]]) -> None:
        if not columns:
            self._hash_rows = lambda raws, parse: [parse(raw) for raw in raws]
            return
        normalisers = dict(plan)
        fragments: dict[bytes, list[bytes]] = {quote: [] for quote in _QUOTED}
        prepare: list[str] = []  # statements computing each value from its groups
        parts: list[tuple[str, str]] = []  # (format, arguments) per column, in the columns' order
        names: dict[str, Any] = {"Number": Number}
        group = 0
        for index, column in enumerate(columns):
            normalise = normalisers[index]
            null = b"|NULL" if column.nullable else b""
            value = f"g{group}"
            if column.data_type in _INTEGER_BITS:
                digits = len(str(_integer_range(column)[1])) - 1  # fewer digits than the maximum has
                sign = b"" if column.unsigned else b"-?"
                for quote in fragments:
                    fragments[quote].append(b"(?:(0|%s[1-9][0-9]{0,%d})%s)" % (sign, digits - 1, null))
                group += 1
            elif normalise is None or normalise is _strip_char:
                strings = _QUOTED if normalise is None else _QUOTED_UNPADDED
                for quote in fragments:
                    fragments[quote].append(b"(?:%s%s)" % (strings[quote], null))
                group += 1
            else:
                names[f"n{index}"] = normalise
                quoted, number = f"g{group}", f"g{group + 1}"
                for quote in fragments:
                    fragments[quote].append(b"(?:%s|%s%s)" % (_QUOTED[quote], _PLAIN_NUMBER_TEXT, null))
                value = f"v{index}"
                if column.nullable:
                    prepare.append(
                        f"{value} = n{index}({quoted}) if {quoted} is not None else "
                        f"(n{index}(Number({number})) if {number} is not None else None)"
                    )
                else:
                    prepare.append(
                        f"{value} = n{index}({quoted} if {quoted} is not None else Number({number}))"
                    )
                group += 2
            if column.nullable:
                parts.append(("%s", f'(b"%d:%s" % (len({value}), {value}) if {value} is not None else b"N")'))
            else:
                parts.append(("%d:%s", f"len({value}), {value}"))
        ordered = [parts[index] for index, _ in plan]
        row_format = "".join(f for f, _ in ordered)
        arguments = ", ".join(a for _, a in ordered)
        captures = "".join(f"g{i}, " for i in range(group))
        names["patterns"] = {
            quote: re.compile(b"\\(" + b",".join(pieces) + b"\\)").fullmatch
            for quote, pieces in fragments.items()
        }
        names.update(sha1=hashlib.sha1, first_eight=_HASH_PREFIX)
        body = "\n".join(f"        {line}" for line in prepare)
        source = f"""
def hash_rows(raws, parse):
    first, second = patterns[b'"'], patterns[b"'"]
    if raws:
        single, double = raws[0].find(b"'"), raws[0].find(b'"')
        if single >= 0 and (double < 0 or single < double):  # a dump in single quotes: try them first
            first, second = second, first
    hashes = []
    append = hashes.append
    for raw in raws:
        found = first(raw) or second(raw)
        if found is None:
            append(parse(raw))
            continue
        ({captures}) = found.groups()
{body if prepare else ""}
        append(first_eight(sha1(b"{row_format}" % ({arguments},)).digest())[0])
    return hashes
"""
        # (Our own text, see the docstring.)
        exec(compile(source, "<plain SQL rows>", "exec"), names)  # noqa: S102
        self._hash_rows = names["hash_rows"]

    def hash_rows(self, raws: Sequence[bytes], parse: Callable[[bytes], int]) -> list[int]:
        """Each row's hash; ``parse`` hashes a row that is not plain."""
        return self._hash_rows(raws, parse)


def rounds_fractional_seconds(facts: ServerFacts, sql_mode: str) -> bool:
    """Whether the target rounds fractional seconds beyond a column's precision (else it truncates)."""
    modes = {m.strip().upper() for m in sql_mode.split(",")}
    if facts.flavor is ServerFlavor.MARIADB:
        return "TIME_ROUND_FRACTIONAL" in modes
    return "TIME_TRUNCATE_FRACTIONAL" not in modes


# --- comparing ---------------------------------------------------------------------------------------------


def inexact_columns(columns: Sequence[ColumnInfo]) -> list[str]:
    """``name: why`` for each column whose values the checksum may not normalise exactly."""
    found = []
    for column in columns:
        reason = _INEXACT_TYPES.get(column.data_type)
        if (
            reason is None
            and column.data_type in ("enum", "set")
            and (column.collation or "").endswith("_bin")
        ):
            reason = "members that differ only in letter case cannot be told apart"
        if reason is not None:
            found.append(f"{column.name} ({column.data_type}): {reason}")
    return found


def compare_checksums(
    table_name: str,
    expected: RowChecksum,
    actual: RowChecksum,
    *,
    columns: Sequence[ColumnInfo] = (),
    findings: Sequence[str] = (),
) -> str | None:
    """None when the target (``actual``) matches the source (``expected``); else the message for the user:
    both values and the likely causes, most likely first. ``columns`` (the hashed columns) lets the
    message name those whose values may not be normalised exactly; ``findings`` are what
    :func:`string_findings` saw in the target's strings."""
    if expected == actual:
        return None
    head = (
        f"checksum mismatch for table {table_name}: the source has {expected.rows} rows "
        f"(checksum {expected.sum}), the target has {actual.rows} rows (checksum {actual.sum})"
    )
    causes: list[str] = []
    if actual.rows > expected.rows:
        causes += [
            "the table was not empty: rows left over from an earlier or interrupted import, or written by "
            "someone else (import into an empty table, or remove the checkpoint and start over)",
            "a data file was imported twice (overlapping [[mydumper.files]] rules or [[routes]] sending two "
            "sources to the same table)",
        ]
    elif actual.rows < expected.rows:
        causes += [
            "rows the target did not keep were not subtracted from the source's checksum: duplicate keys "
            "resolved by [conflict] strategy = 'replace' or 'ignore', or rows recorded in the error tables",
            "rows deleted from the table while or after it was imported",
        ]
    causes += [
        "a wrong [mydumper.csv] header setting: a header line imported as a row, or column names matched "
        "to the wrong columns",
        "values the server stored differently from the source: FLOAT precision, strings truncated or "
        "numbers clamped under a non-strict sql_mode, invalid dates turned into 0000-00-00",
        "TIMESTAMP values read in a different time zone than the import session's, or fractional seconds "
        "rounded where the checksum expected them truncated (TIME_ROUND_FRACTIONAL)",
        CHARSET_CAUSE,
    ]
    # Double-encoded values and U+FFFD name the cause outright: first. A '?' may be the data's own (a URL's
    # query): it goes with the generic charset cause, as a hint.
    telling = [f for f in findings if "hold '?'" not in f]
    hints = [f for f in findings if "hold '?'" in f]
    if hints:
        causes[-1] = f"{CHARSET_CAUSE} (" + "; ".join(hints) + ")"
    if telling:
        found = "; ".join(telling)
        causes.insert(0, f"strings in the wrong character set: {found} ({CHARSET_SETTINGS})")
    inexact = inexact_columns(columns)
    if inexact:
        causes.append("columns the checksum cannot always normalise exactly: " + "; ".join(inexact))
    return head + ". Likely causes: " + "; ".join(f"({n}) {c}" for n, c in enumerate(causes, start=1))
