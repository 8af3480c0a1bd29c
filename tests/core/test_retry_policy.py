"""Which failures a retry can mend: the errors say so themselves, from real servers' real errors.

Airflow fails a task at once when ``retry_can_help`` says no (tests/airflow/test_retry_policy.py); these
tests pin down the verdicts.
"""

from __future__ import annotations

import socket

import pymysql
import pytest

from airflow_provider_lightning.core.backend.logical import TargetUnavailable
from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.errormanager import TooManyErrors
from airflow_provider_lightning.core.errors import (
    ChecksumMismatch,
    ConfigError,
    ParseError,
    PrecheckFailed,
    SourceError,
    TargetError,
    retry_can_help,
)
from airflow_provider_lightning.core.failpoints import InjectedFault
from airflow_provider_lightning.core.storage import S3Options, S3Storage
from airflow_provider_lightning.core.target import ConnectionSettings, connect


def _error_of(call) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "error",
    [
        ParseError("db.t.000000001.sql", 120, "unterminated string"),
        SourceError("db.t.000000001.sql", "no such file"),
        PrecheckFailed("the target table is not empty"),
        ChecksumMismatch("checksum mismatch for table `db`.`t`"),
        TooManyErrors("more than 0 type errors"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_about_the_input_or_the_data_are_final(error):
    assert not retry_can_help(error)


def test_a_bad_config_value_is_final():
    error = _error_of(lambda: load_config(data={"mydumper": {"data-source-dir": ".", "read-block-size": "lots"}}))
    assert isinstance(error, ConfigError)
    assert not retry_can_help(error)


def test_a_connection_killed_on_the_server_can_be_retried(mysql_server):
    victim = mysql_server.connect()
    killer = mysql_server.connect()
    with killer.cursor() as cur:
        cur.execute(f"KILL CONNECTION {victim.thread_id()}")
    killer.close()

    error = _error_of(lambda: victim.cursor().execute("SELECT 1"))

    assert isinstance(error, pymysql.err.OperationalError)
    assert retry_can_help(error)


def test_a_statement_the_server_cannot_parse_is_final(mysql_server):
    conn = mysql_server.connect()
    try:
        error = _error_of(lambda: conn.cursor().execute("SELEC 1"))
    finally:
        conn.close()
    assert isinstance(error, pymysql.err.ProgrammingError)
    assert not retry_can_help(error)


def test_a_refused_connection_can_be_retried_but_a_wrong_password_cannot(mysql_server):
    refused = _error_of(lambda: connect(ConnectionSettings(host="127.0.0.1", port=_closed_port(), user="x")))
    denied = _error_of(lambda: connect(ConnectionSettings(
        host=mysql_server.host, port=mysql_server.port, user=mysql_server.user, password="not-the-password",
    )))

    assert isinstance(refused, TargetError) and retry_can_help(refused)
    assert isinstance(denied, TargetError) and not retry_can_help(denied)


def test_a_target_that_stayed_away_for_the_whole_retry_window_can_be_retried():
    assert retry_can_help(TargetUnavailable("table `db`.`t`: lost the target database"))


def test_an_injected_fault_stands_for_a_crash_and_can_be_retried():
    assert retry_can_help(InjectedFault("table `db`.`t`: failpoint fired"))


def test_an_unreachable_s3_endpoint_can_be_retried_but_a_missing_object_cannot(s3_server):
    unreachable = S3Storage("bucket", "", S3Options(
        endpoint_url=f"http://127.0.0.1:{_closed_port()}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ))
    bucket = s3_server.make_bucket()
    reachable = S3Storage(bucket, "", S3Options(
        endpoint_url=s3_server.endpoint_url, region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key, aws_secret_access_key=s3_server.secret_key,
    ))

    down = _error_of(lambda: list(unreachable.walk()))
    missing = _error_of(lambda: reachable.stat("db.t.000000001.sql"))

    assert isinstance(down, SourceError) and retry_can_help(down)
    assert isinstance(missing, SourceError) and not retry_can_help(missing)


def test_anything_unforeseen_is_retried_as_airflow_would():
    assert retry_can_help(RuntimeError("something nobody expected"))
