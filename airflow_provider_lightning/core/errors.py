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
        where = path if offset is None else f"{path} at byte {offset}"
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


def _show_excerpt(data: bytes, limit: int = 60) -> str:
    """A short, printable, unambiguous rendering of raw input bytes."""
    shown = data[:limit].decode("utf-8", errors="backslashreplace")
    shown = shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return repr(shown + ("…" if len(data) > limit else ""))
