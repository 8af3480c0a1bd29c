"""The exceptions the engine raises.

Every message says what happened, where (key, file, byte offset, table) and what to do next, so the
command line and the Airflow task log can print it as it is, without a traceback.
"""

from __future__ import annotations

import pymysql

#: Server errors that say the connection or the transaction was lost, not that the statement is wrong:
#: a lost or refused connection, a killed query, a deadlock, a lock wait timeout, a server shutting down.
RETRYABLE_SERVER_ERRORS = frozenset({1053, 1205, 1213, 1927, 2003, 2006, 2013, 2055})


class LightningError(Exception):
    """Base class of every error the engine raises on purpose.

    ``retryable`` says whether running the same step again, with nothing changed, can succeed. Errors
    about the input, the configuration or the data (a parse error, a failed precheck, a checksum
    mismatch, too many bad rows) cannot: Airflow fails such a task at once instead of spending its
    retries. Lost connections and server restarts can.
    """

    retryable: bool = False


class ConfigError(LightningError):
    """A configuration key is unknown or has a value it cannot take.

    ``key`` is the key's full path as written in ``tidb-lightning.toml`` (``mydumper.csv.separator``).
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class SourceError(LightningError):
    """A source file cannot be found, listed, read or decompressed.

    ``retryable`` when the storage could not be reached (a network error), not when the file is
    missing or broken.
    """

    def __init__(self, path: str, message: str, *, offset: int | None = None, retryable: bool = False) -> None:
        self.path = path
        self.offset = offset
        self.retryable = retryable
        shown = printable(path)  # a file name from the source is untrusted: never raw in a message
        where = shown if offset is None else f"{shown} at byte {offset}"
        super().__init__(f"{where}: {message}")


class ParseError(SourceError):
    """A data or schema file holds something its parser cannot read.

    ``offset`` is the byte offset (in the decompressed stream) where the bad input starts, ``line`` the
    1-based line number when the parser knows it, ``excerpt`` a short piece of the input there.
    """

    def __init__(
        self,
        path: str,
        offset: int,
        message: str,
        *,
        line: int | None = None,
        excerpt: bytes = b"",
    ) -> None:
        self.line = line
        self.excerpt = excerpt
        self.reason = message
        text = message
        if excerpt:
            text += f" near {_show_excerpt(excerpt)}"
        if line is not None:
            text = f"line {line}: {text}"
        super().__init__(path, text, offset=offset)


class TargetError(LightningError):
    """The target database refused something the import needs.

    Retryable when it was caused (``raise ... from``) by a lost or refused connection: a server that is
    restarting refuses connections for a few seconds.
    """

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return connection_lost(self)


class CheckpointError(LightningError):
    """A checkpoint is missing, in an error state, or belongs to a different import."""


class ChecksumMismatch(LightningError):
    """The target table's checksum differs from the source's."""


class PrecheckFailed(LightningError):
    """One or more prechecks failed; the message is the whole report."""


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection or the transaction was lost (so the same work may be sent
    again), not that the work itself is wrong."""
    if isinstance(exc, TargetError):
        # connect() reports a refused connection as a TargetError; a server that is restarting refuses.
        return exc.__cause__ is not None and connection_lost(exc.__cause__)
    if isinstance(exc, (pymysql.err.InterfaceError, ConnectionError, TimeoutError)):
        return True
    if not isinstance(exc, pymysql.err.MySQLError):
        return False
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code in RETRYABLE_SERVER_ERRORS or (code is None and isinstance(exc, pymysql.err.OperationalError))


def retry_can_help(exc: BaseException) -> bool:
    """Whether the step that raised ``exc`` may succeed when run again unchanged.

    Our own errors say so themselves (``retryable``); a server error only when the connection was lost;
    anything unforeseen is retried, as Airflow would by default.
    """
    if isinstance(exc, LightningError):
        return bool(exc.retryable)
    if isinstance(exc, pymysql.err.MySQLError):
        return connection_lost(exc)
    return True


# C0 controls, DEL, C1 controls, and the Unicode marks that reorder text (bidi embeddings, overrides,
# isolates, directional marks): in a name they can rewrite a terminal or disguise what is shown.
_CONTROLS = {
    *range(0x00, 0x20), 0x7F, *range(0x80, 0xA0),
    0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
}
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _CONTROLS}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
# Lone surrogates: bytes of a file name that are not UTF-8 (Python's surrogate escapes) show as those bytes.
_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)})
_ESCAPES.update({c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)})
_ESCAPES_KEEPING_LINES = {c: e for c, e in _ESCAPES.items() if c not in (ord("\n"), ord("\t"))}


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe to show on a terminal or in a log: control characters as ``\\xNN`` / ``\\uNNNN`` escapes.

    Every name that comes from the input (file, database, table, column names) goes through it before it is
    shown, so that an escape sequence in a file name cannot recolour or clear the terminal and a newline
    cannot forge a log line. ``keep_newlines`` is for whole messages, whose own line breaks are meant. Bytes
    of a file name that are not UTF-8 (surrogate escapes) are shown as ``\\xNN`` too.
    """
    return text.translate(_ESCAPES_KEEPING_LINES if keep_newlines else _ESCAPES)


def _show_excerpt(data: bytes, limit: int = 60) -> str:
    """A short, printable, unambiguous rendering of raw input bytes."""
    shown = data[:limit].decode("utf-8", errors="backslashreplace")
    shown = shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return repr(shown + ("…" if len(data) > limit else ""))
