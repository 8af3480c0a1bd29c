"""Airflow connections -> the engine's connection settings.

- The target database is an Airflow connection of the ``mysql`` type, the form the mysql provider shows
  in the UI: host, port, login, password, and extras (``ssl`` with ``ca`` / ``cert`` / ``key``, and
  ``ssl_mode``, read by ``core/tls.py`` exactly as ``[tidb] tls`` is). Only this module reads connection
  fields.
- An S3 source takes credentials and endpoint from a connection of the ``aws`` type: login / password
  are the access key id / secret, extras ``region_name``, ``endpoint_url`` (also accepted inside
  ``service_config.s3`` or as the connection's host), ``aws_session_token``, and path-style addressing
  (``config_kwargs.s3.addressing_style = "path"`` as the amazon provider writes it, or
  ``force_path_style``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_lightning.core.errors import ConfigError
from airflow_provider_lightning.core.storage import S3Options
from airflow_provider_lightning.core.target import ConnectionSettings
from airflow_provider_lightning.core.tls import tls_from_mysql_extras
from airflow_provider_lightning.core.airflow_api.client import AirflowApiClient


def _extras(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    return dict(extra or {})


class LightningTargetHook(BaseHook):
    """The target database of an import, from a ``mysql`` connection.

    :param target_conn_id: the Airflow connection id (type ``mysql``).
    """

    conn_name_attr = "target_conn_id"
    default_conn_name = "mysql_default"
    conn_type = "mysql"
    hook_name = "Lightning target (MySQL, MariaDB, TiDB)"

    def __init__(self, target_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.target_conn_id = target_conn_id

    def get_connection_settings(self) -> ConnectionSettings:
        conn = self.get_connection(self.target_conn_id)
        if not conn.host:
            raise ConfigError(
                f"connection {self.target_conn_id}.host", "the target connection has no host; set it in Admin > Connections"
            )
        extra = _extras(conn)
        return ConnectionSettings(
            host=conn.host,
            port=int(conn.port or 3306),
            user=conn.login or "root",
            password=conn.password or "",
            tls=tls_from_mysql_extras(
                extra.get("ssl"), extra.get("ssl_mode"), where=f"connection {self.target_conn_id}"
            ),
            connect_timeout=float(extra.get("connect_timeout", 10)),
        )


class LightningS3Hook(BaseHook):
    """Credentials and endpoint of an S3 data source, from an ``aws`` connection.

    :param aws_conn_id: the Airflow connection id (type ``aws``).
    """

    conn_name_attr = "aws_conn_id"
    default_conn_name = "aws_default"
    conn_type = "aws"
    hook_name = "Lightning S3 source"

    def __init__(self, aws_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id

    def get_s3_options(self) -> S3Options:
        conn = self.get_connection(self.aws_conn_id)
        extra = _extras(conn)
        service = (extra.get("service_config") or {}).get("s3") or {}
        config_kwargs = extra.get("config_kwargs") or {}
        addressing = ((config_kwargs.get("s3") or {}).get("addressing_style") or "").lower()
        endpoint = extra.get("endpoint_url") or service.get("endpoint_url") or _host_endpoint(conn)
        return S3Options(
            endpoint_url=endpoint or None,
            region_name=extra.get("region_name") or None,
            aws_access_key_id=conn.login or extra.get("aws_access_key_id") or None,
            aws_secret_access_key=conn.password or extra.get("aws_secret_access_key") or None,
            aws_session_token=extra.get("aws_session_token") or None,
            force_path_style=addressing == "path" or bool(extra.get("force_path_style")),
        )


def _host_endpoint(conn: Any) -> str | None:
    if not conn.host:
        return None
    host = conn.host if "://" in conn.host else f"http://{conn.host}"
    return f"{host}:{conn.port}" if conn.port else host


class AirflowApiHook(BaseHook):
    """A client of Airflow's public REST API, from an ``http`` connection.

    host: the API server's base URL (``http://localhost:8080``); login / password: an API user (left empty
    when ``[core] simple_auth_manager_all_admins`` is on).

    :param api_conn_id: the Airflow connection id.
    """

    conn_name_attr = "api_conn_id"
    default_conn_name = "airflow_api"
    conn_type = "http"
    hook_name = "Airflow REST API (for Lightning checkpoints)"

    def __init__(self, api_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.api_conn_id = api_conn_id

    def get_client(self) -> AirflowApiClient:
        conn = self.get_connection(self.api_conn_id)
        host = conn.host or "localhost"
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}"
        base = f"{host}:{conn.port}" if conn.port else host
        return AirflowApiClient(base, username=conn.login or None, password=conn.password or None)
