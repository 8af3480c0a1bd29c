"""Names in SQL: the only way a database, table or column name enters a statement in this project.

Names come from dump files (untrusted input): they are always quoted, never pasted. This module sits at
the bottom of the package, so that every layer (the dump's schema files, the checkpoints, the backends)
quotes names the same way.
"""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """`` `name` `` with backquotes doubled: the only way identifiers enter SQL in this project."""
    return "`" + name.replace("`", "``") + "`"


def qualified_name(schema: str, table: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"
