"""The precheck report: one :class:`CheckItem` per finding, gathered into a :class:`PrecheckReport`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_lightning.core.errors import printable

CRITICAL = "critical"
WARNING = "warning"

SHOWN = 10
"""How many names or lines a message lists before it counts the rest."""


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One check's outcome: ``message`` says what was found, ``advice`` what to do about it."""

    name: str
    severity: str  # "critical" | "warning"
    passed: bool
    message: str
    advice: str = ""

    @property
    def result(self) -> str:
        if self.passed:
            return "pass"
        return "FAIL" if self.severity == CRITICAL else "warn"


@dataclass(frozen=True, slots=True)
class PrecheckReport:
    items: tuple[CheckItem, ...]

    @property
    def failed(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if not i.passed and i.severity == CRITICAL)

    @property
    def warnings(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if not i.passed and i.severity != CRITICAL)

    def item(self, name: str) -> CheckItem | None:
        """The first item of check ``name``, if it ran."""
        return next((i for i in self.items if i.name == name), None)

    def render(self) -> str:
        """A table: check, result, details; the advice on the lines below a failed or warned check."""
        width = max((len(i.name) for i in self.items), default=10)
        indent = " " * (width + 10)
        lines = [f"{'check':<{width}}  result  details"]
        for item in self.items:
            text = item.message.splitlines() or [""]
            lines.append(f"{item.name:<{width}}  {item.result:<6}  {text[0]}")
            lines.extend(indent + line for line in text[1:])
            if item.advice and not item.passed:
                advice = item.advice.splitlines()
                lines.append(indent + "what to do: " + advice[0])
                lines.extend(indent + "  " + line for line in advice[1:])
        failed, warned = len(self.failed), len(self.warnings)
        lines.append(f"{len(self.items)} checks: {failed} failed, {warned} warnings")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "name": i.name,
                "severity": i.severity,
                "passed": i.passed,
                "message": i.message,
                "advice": i.advice,
            }
            for i in self.items
        ]


def passed_item(name: str, message: str, severity: str = CRITICAL) -> CheckItem:
    """A check that passed: nothing to do, so no advice."""
    return CheckItem(name, severity, True, message)


def unreadable_files_item(
    name: str, kind: str, broken: Sequence[str], total: int, *, passed: str, advice: str
) -> CheckItem:
    """Critical when any of ``total`` files of ``kind`` (``"data"``, ``"schema"``) cannot be read: ``broken``
    holds one message per such file; ``passed`` says what every file did when none is broken."""
    if not broken:
        return passed_item(name, f"every {kind} file ({total}) {passed}")
    return CheckItem(
        name,
        CRITICAL,
        False,
        f"{len(broken)} of {total} {kind} files cannot be read:\n" + "\n".join(shortened(broken)),
        advice,
    )


def listing(names: Sequence[str], limit: int = SHOWN) -> str:
    """``a, b, c`` or ``a, b, c and 7 more``, each name with its control characters escaped."""
    shown = ", ".join(printable(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def shortened(lines: Sequence[str]) -> list[str]:
    """The first :data:`SHOWN` lines, then ``... and N more`` if there are more."""
    return list(lines[:SHOWN]) + ([f"... and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else [])
