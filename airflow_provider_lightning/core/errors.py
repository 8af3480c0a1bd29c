"""The exceptions the engine raises.

Every message says what happened, where (key, file, byte offset, table) and what to do next, so the
command line and the Airflow task log can print it as it is, without a traceback.
"""

from __future__ import annotations


class LightningError(Exception):
    """Base class of every error the engine raises on purpose."""


class ConfigError(LightningError):
    """A configuration key is unknown or has a value it cannot take.

    ``key`` is the key's full path as written in ``tidb-lightning.toml`` (``mydumper.csv.separator``).
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class SourceError(LightningError):
    """A source file cannot be found, listed, read or decompressed."""

    def __init__(self, path: str, message: str, *, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
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
    """The target database refused something the import needs."""


class CheckpointError(LightningError):
    """A checkpoint is missing, in an error state, or belongs to a different import."""


class ChecksumMismatch(LightningError):
    """The target table's checksum differs from the source's."""


class PrecheckFailed(LightningError):
    """One or more prechecks failed; the message is the whole report."""


def _show_excerpt(data: bytes, limit: int = 60) -> str:
    """A short, printable, unambiguous rendering of raw input bytes."""
    shown = data[:limit].decode("utf-8", errors="backslashreplace")
    shown = shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return repr(shown + ("…" if len(data) > limit else ""))
