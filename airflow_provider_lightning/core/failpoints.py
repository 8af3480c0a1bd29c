"""Test-only switches that make an import fail, or its process die, at an exact place.

They let tests reproduce what happens in life — a worker killed between committing a batch and saving the
checkpoint, a table failing halfway — against the real code path, without patching any function.

Off unless ``LIGHTNING_FAILPOINTS`` names a JSON file, e.g.::

    {"fail-after-batches": {"table": "`db`.`t`", "batches": 3},
     "kill-after-commit": {"table": "`db`.`t`", "batches": 5},
     "lose-commit-reply": {"table": "`db`.`t`", "batches": 2},
     "kill-connection": {"table": "`db`.`t`", "batches": 2}}

``batches`` counts committed batches of that table in the current process (for ``lose-commit-reply`` and
``kill-connection``: of one writer, i.e. one chunk). A failpoint fires once: it is removed from the file when it fires, so
the retry that follows runs normally.

- ``fail-after-batches``: the table fails (``InjectedFault``) after that batch's COMMIT;
- ``kill-after-commit``: the process SIGKILLs itself after that batch's COMMIT, before its checkpoint
  is saved;
- ``lose-commit-reply``: the batch's COMMIT goes through, then the writer's connection is closed and the
  error a lost reply gives (2013) is raised — what a client sees when the server or the network fails
  between committing and answering. The writer cannot know whether the batch is in; it retries.
- ``kill-connection``: after the batch's COMMIT, the writer's connection is killed on the server
  (``KILL CONNECTION``, as a DBA, a proxy or a timeout would); the writer finds out on its next batch.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from airflow_provider_lightning.core.errors import LightningError

ENV_VAR = "LIGHTNING_FAILPOINTS"


class InjectedFault(LightningError):
    """Raised by the ``fail-after-batches`` failpoint: it stands for a crash, so a retry may succeed."""

    retryable = True


class TableFailpoints:
    """The failpoints of one table's import in this process (counts committed batches)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._path = os.environ.get(ENV_VAR)
        self._batches = 0
        self._lock = threading.Lock()

    def batch_committed(self) -> None:
        """Called right after a batch's COMMIT, before its checkpoint is saved."""
        if not self._path:
            return
        with self._lock:
            self._batches += 1
            count = self._batches
        if self._take("kill-after-commit", count):
            os.kill(os.getpid(), signal.SIGKILL)
        if self._take("fail-after-batches", count):
            raise InjectedFault(f"table {self.table}: failpoint fail-after-batches fired after {count} batches")

    def writer_committed(self) -> str | None:
        """Called by a writer right after its COMMIT: the name of the writer's failpoint that fires now
        (``lose-commit-reply`` or ``kill-connection``), once, or None."""
        if not self._path:
            return None
        with self._lock:
            self._batches += 1
            count = self._batches
        return next((name for name in ("lose-commit-reply", "kill-connection") if self._take(name, count)), None)

    def _take(self, name: str, count: int) -> bool:
        path = Path(self._path)
        try:
            points = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        point = points.get(name)
        if not point or point.get("table") != self.table or count < int(point.get("batches", 1)):
            return False
        del points[name]
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(points))
        os.replace(tmp, path)
        return True

    def lease_taken(self) -> None:
        """Called once the table's owner lease is held, before any of its rows is written.

        The ``pause-after-lease`` failpoint, ``{"table": ..., "until": "/path"}``, holds the import here: it
        creates ``/path.paused`` and waits until ``/path`` exists, so a test can run a second import while
        this one holds the table, without relying on timing.
        """
        if not self._path:
            return
        point = self._peek("pause-after-lease")
        if point is None or not self._take("pause-after-lease", 1):
            return
        until = Path(point["until"])
        until.with_name(until.name + ".paused").touch()
        while not until.exists():
            time.sleep(0.05)

    def _peek(self, name: str) -> dict | None:
        try:
            point = json.loads(Path(self._path).read_text()).get(name)
        except (OSError, ValueError):
            return None
        return point if point and point.get("table") == self.table else None
