"""Airflow's public REST API (``/api/v2``), for what a task may not do through the SDK.

A task reads and writes only its own Task State Store. Reading or clearing the checkpoints of *other*
task instances — ``clean_checkpoints``, ``lightning ctl`` on the Airflow store, the UI's view of a failed
table — goes through the REST API's state-store endpoints, authenticated like any API client
(``POST /auth/token``).

The API is reached through an Airflow connection (type ``http``): host = the API server's base URL,
login / password = an API user. Without credentials the client asks for a token with no credentials,
which Airflow grants when ``[core] simple_auth_manager_all_admins`` is on (development setups).
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

import httpx

from airflow_provider_lightning.core.errors import LightningError

log = logging.getLogger(__name__)


class AirflowApiError(LightningError):
    """The Airflow API refused a request or could not be reached.

    Unreachable (no answer) or a server error (5xx) may pass: retryable. A refusal (4xx) will not.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class AirflowApiClient:
    """A small client for the parts of ``/api/v2`` this provider uses."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._token = token
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------------------

    def _get_token(self) -> str:
        with self._lock:
            if self._token:
                return self._token
            try:
                if self._username:
                    resp = self._http.post(
                        f"{self.base_url}/auth/token",
                        json={"username": self._username, "password": self._password or ""},
                    )
                else:
                    resp = self._http.get(f"{self.base_url}/auth/token")
            except httpx.HTTPError as exc:
                raise AirflowApiError(f"cannot reach the Airflow API at {self.base_url}: {exc}", retryable=True) from exc
            if resp.status_code >= 400:
                raise AirflowApiError(
                    f"the Airflow API at {self.base_url} refused to log in ({resp.status_code}): {resp.text[:200]}"
                )
            self._token = resp.json()["access_token"]
            return self._token

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        url = f"{self.base_url}/api/v2{path}"
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._get_token()}"}
            try:
                resp = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise AirflowApiError(f"cannot reach the Airflow API at {self.base_url}: {exc}", retryable=True) from exc
            if resp.status_code == 401 and attempt == 0 and (self._username or self._token is None):
                self._token = None  # expired: log in again
                continue
            if resp.status_code not in expect:
                raise AirflowApiError(
                    f"{method} {path} -> {resp.status_code}: {resp.text[:300]}", retryable=resp.status_code >= 500
                )
            return resp
        raise AssertionError("unreachable")

    # -- dag runs and task instances -------------------------------------------------------------

    def trigger_dag_run(self, dag_id: str, conf: dict[str, Any] | None = None, *, run_id: str | None = None) -> dict:
        body: dict[str, Any] = {"conf": conf or {}, "logical_date": None}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/dags/{_q(dag_id)}/dagRuns", json=body).json()

    def get_dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}").json()

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        resp = self.request("GET", f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", params={"limit": 1000})
        return resp.json()["task_instances"]

    def clear_task_instances(
        self, dag_id: str, run_id: str, task_ids: list[str | tuple[str, int]], *, only_failed: bool = False
    ) -> dict:
        """What the UI's Clear does: the task instances run again (keeping their state stores)."""
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [list(t) if isinstance(t, tuple) else t for t in task_ids],
            "only_failed": only_failed,
            "reset_dag_runs": True,
        }
        return self.request("POST", f"/dags/{_q(dag_id)}/clearTaskInstances", json=body).json()

    def unpause_dag(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{_q(dag_id)}", json={"is_paused": False})

    # -- task state store ------------------------------------------------------------------------

    def _state_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/state-store"

    def list_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = self._state_path(dag_id, run_id, task_id)
        values: dict[str, Any] = {}
        offset = 0
        while True:
            data = self.request(
                "GET", path, params={"map_index": map_index, "limit": 100, "offset": offset}
            ).json()
            entries = data.get("task_state_store", [])
            for entry in entries:
                values[entry["key"]] = entry["value"]
            offset += len(entries)
            if not entries or offset >= data.get("total_entries", 0):
                return values

    def get_state(self, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
        resp = self.request(
            "GET", f"{self._state_path(dag_id, run_id, task_id)}/{_q(key)}", params={"map_index": map_index},
            expect=(200, 404),
        )
        return None if resp.status_code == 404 else resp.json()["value"]

    def put_state(self, dag_id: str, run_id: str, task_id: str, key: str, value: Any, map_index: int = -1) -> None:
        self.request(
            "PUT", f"{self._state_path(dag_id, run_id, task_id)}/{_q(key)}", params={"map_index": map_index},
            json={"value": value}, expect=(200, 204),
        )

    def delete_state(self, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> None:
        self.request(
            "DELETE", f"{self._state_path(dag_id, run_id, task_id)}/{_q(key)}", params={"map_index": map_index},
            expect=(200, 204, 404),
        )

    def clear_state(
        self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1, all_map_indices: bool = False
    ) -> None:
        params: dict[str, Any] = {"map_index": map_index}
        if all_map_indices:
            params["all_map_indices"] = "true"
        self.request("DELETE", self._state_path(dag_id, run_id, task_id), params=params, expect=(200, 204, 404))


class RestStateStoreAccessor:
    """One task instance's state store, read and written through the REST API.

    It offers what ``context["task_state_store"]`` offers, so :class:`TaskStateCheckpointStore` works on
    it unchanged: that is how ``lightning ctl`` and ``clean_checkpoints`` see a table's checkpoints.
    """

    def __init__(self, client: AirflowApiClient, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> None:
        self.client = client
        self.dag_id = dag_id
        self.run_id = run_id
        self.task_id = task_id
        self.map_index = map_index

    def get(self, key: str, default: Any = None) -> Any:
        value = self.client.get_state(self.dag_id, self.run_id, self.task_id, key, self.map_index)
        return default if value is None else value

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.client.put_state(self.dag_id, self.run_id, self.task_id, key, value, self.map_index)

    def delete(self, key: str) -> None:
        self.client.delete_state(self.dag_id, self.run_id, self.task_id, key, self.map_index)

    def clear(self) -> None:
        self.client.clear_state(self.dag_id, self.run_id, self.task_id, map_index=self.map_index)


def _q(part: str) -> str:
    return quote(part, safe="")
