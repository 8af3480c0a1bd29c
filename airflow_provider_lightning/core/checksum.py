"""Row checksums: an order-independent digest of a table's rows, computed the same way on both sides.

The source side hashes each parsed row after normalising every value the way its target column stores
it; the target side computes the same hash with one SQL query. Rows are combined by addition modulo
2**64 (not XOR, so that two equal rows of a table without a key do not cancel out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
