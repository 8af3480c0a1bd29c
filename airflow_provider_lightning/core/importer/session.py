"""The session every data connection of an import runs in, decided once by ``prepare``.

- ``sql_mode``: ``[tidb] sql-mode``, plus ``NO_AUTO_VALUE_ON_ZERO`` (a dump's 0 in an AUTO_INCREMENT column
  is a value, not a request for the next id), minus ``ANSI_QUOTES`` and ``NO_BACKSLASH_ESCAPES`` (dumps
  write strings in double quotes with backslash escapes), minus modes the server no longer knows. When the
  configuration leaves ``sql-mode`` out, the mode also gets ``STRICT_TRANS_TABLES``: a value a column cannot
  hold is then an error that sends the row to ``type_error_v1``, instead of a silently changed value. A
  ``sql-mode`` the user wrote is used as written, even when it equals Lightning's default.
- ``time_zone``: the dump's own (mydumper and Dumpling start every file with ``SET TIME_ZONE='+00:00'``),
  so TIMESTAMP values are read in the zone they were written in; otherwise ``[tidb] session-vars``'s, or
  the server's. The checksum query runs in the same zone.
- ``foreign_key_checks = 0``: tables arrive in any order.
- ``SET NAMES binary`` (done by the connection itself): values travel as the bytes in the dump.
- ``[tidb] session-vars``, last, so the user has the final word.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.target import ServerFacts, ServerFlavor

log = logging.getLogger(__name__)

LIGHTNING_DEFAULT_SQL_MODE = "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
_ANSI_PARTS = ("REAL_AS_FLOAT", "PIPES_AS_CONCAT", "IGNORE_SPACE", "ONLY_FULL_GROUP_BY")
_INCOMPATIBLE_WITH_DUMPS = ("ANSI_QUOTES", "NO_BACKSLASH_ESCAPES")
_TIME_ZONE_IN_DUMP = re.compile(rb"SET\s+(?:@@SESSION\.|SESSION\s+)?TIME_ZONE\s*=\s*'([^']{1,64})'", re.IGNORECASE)
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ImportSession:
    sql_mode: str
    time_zone: str
    session_vars: dict[str, Any] = field(default_factory=dict)

    def statements(self) -> list[str]:
        sql = [
            f"SET SESSION sql_mode = {_quote(self.sql_mode)}",
            f"SET SESSION time_zone = {_quote(self.time_zone)}",
            "SET SESSION foreign_key_checks = 0",
        ]
        for name, value in self.session_vars.items():
            sql.append(f"SET SESSION {name} = {_literal(value)}")
        return sql

    def to_json(self) -> dict[str, Any]:
        return {"sql_mode": self.sql_mode, "time_zone": self.time_zone, "session_vars": dict(self.session_vars)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportSession:
        return cls(data["sql_mode"], data["time_zone"], dict(data.get("session_vars", {})))


def decide_session(
    *,
    sql_mode: str,
    session_vars: dict[str, Any],
    facts: ServerFacts,
    dump_header: bytes | None,
    server_time_zone: str,
    sql_mode_written: bool = False,
) -> tuple[ImportSession, list[str]]:
    """The session for this import, and warnings about what was changed from the configuration.

    ``sql_mode_written``: the configuration wrote ``[tidb] sql-mode``, so it is not made strict.
    """
    warnings: list[str] = []
    user_vars = {}
    for name, value in session_vars.items():
        if not _VARIABLE_NAME.match(name):
            raise ConfigError(f"tidb.session-vars.{name}", "not a valid variable name")
        user_vars[name] = value
    modes = [m.strip().upper() for m in sql_mode.split(",") if m.strip()]
    if not sql_mode_written and sql_mode.strip().upper() == LIGHTNING_DEFAULT_SQL_MODE:
        modes.append("STRICT_TRANS_TABLES")
    if "ANSI" in modes:
        modes.remove("ANSI")
        modes.extend(_ANSI_PARTS)
    for mode in _INCOMPATIBLE_WITH_DUMPS:
        if mode in modes:
            modes.remove(mode)
            warnings.append(
                f"tidb.sql-mode: {mode} is left out, because dump files write strings in double quotes with "
                "backslash escapes"
            )
    if facts.flavor is ServerFlavor.MYSQL and facts.version_tuple >= (8, 0, 11) and "NO_AUTO_CREATE_USER" in modes:
        modes.remove("NO_AUTO_CREATE_USER")
    modes.append("NO_AUTO_VALUE_ON_ZERO")
    unique = list(dict.fromkeys(modes))

    time_zone = user_vars.pop("time_zone", None)
    if dump_header is not None:
        found = _TIME_ZONE_IN_DUMP.search(dump_header)
        if found:
            dump_zone = found.group(1).decode("ascii", "replace")
            if time_zone is not None and str(time_zone) != dump_zone:
                warnings.append(
                    f"tidb.session-vars.time_zone = {time_zone!r} is not used: the dump's files say "
                    f"SET TIME_ZONE='{dump_zone}', and TIMESTAMP values must be read in the zone they were "
                    "written in"
                )
            time_zone = dump_zone
    if time_zone is None:
        time_zone = server_time_zone
    return ImportSession(",".join(unique), str(time_zone), user_vars), warnings


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text) or text.upper() in ("ON", "OFF", "DEFAULT"):
        return text
    return _quote(text)
