"""``--target mysql://USER:PASSWORD@HOST:PORT`` with passwords people really have: ``/ : @ #`` written as
they are or percent-encoded, against a real user with that password; and malformed URLs that must not
print any part of the password."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from airflow_provider_lightning.core.mysql_url import MySQLURLError, parse_mysql_url, redact_mysql_url
from tests.core.test_cli import SHOP_ROWS, count_rows, run_lightning, scene  # noqa: F401 - scene: fixture

PASSWORD = "s3/cr:e@t#x?y"


@pytest.fixture
def user_with_a_hard_password(mysql_server, scene):
    user = f"lt_u_{uuid.uuid4().hex[:8]}"
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, PASSWORD))
        for db in (scene.db, scene.task_info):
            cur.execute(f"GRANT ALL ON `{db}`.* TO %s@'127.0.0.1'", (user,))
    conn.close()
    yield user
    conn = mysql_server.connect()
    with conn.cursor() as cur:
        cur.execute("DROP USER %s@'127.0.0.1'", (user,))
    conn.close()


def _import(scene, url: str):
    return run_lightning(
        "import", "-c", str(scene.config), "--source", str(scene.dump), "--target", url,
        "--checkpoint-file", str(scene.checkpoint),
    )


@pytest.mark.parametrize("encode", [False, True], ids=["as-written", "percent-encoded"])
def test_a_password_with_slash_colon_at_and_hash_logs_in(scene, mysql_server, user_with_a_hard_password, encode):
    password = quote(PASSWORD, safe="") if encode else PASSWORD
    url = f"mysql://{user_with_a_hard_password}:{password}@127.0.0.1:{mysql_server.port}"

    result = _import(scene, url)

    assert result.returncode == 0, result.stderr
    assert count_rows(scene.server, scene.db, "customers") == SHOP_ROWS
    for secret in (PASSWORD, quote(PASSWORD, safe="")):
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mysql://user:s3/cr:e@t#x@host:3306x", "the port is not a number"),
        ("mysql://user:s3cr3t", "the port is not a number"),  # forgot '@host': the password is not a port
        ("mysql://user:s3/cr:e@t#x@", "it names no host"),
        ("mysql://user:s3/cr:e@t#x@host/db", "give only the server"),
        ("postgres://user:s3/cr:e@t#x@host", "is not a target URL"),
    ],
)
def test_a_malformed_target_url_is_refused_without_echoing_the_password(scene, url, complaint):
    result = _import(scene, url)

    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr
    for piece in ("s3", "cr", "e@t", "t#x", "s3cr3t"):
        assert piece not in result.stdout + result.stderr


def test_the_user_part_ends_at_the_last_at_sign():
    parts = parse_mysql_url("mysql://user:p@ss/w:rd#1@db.example:4000/")

    assert (parts.user, parts.password, parts.host, parts.port, parts.path) == (
        "user", "p@ss/w:rd#1", "db.example", 4000, "/",
    )


def test_an_ipv6_host_keeps_its_port():
    parts = parse_mysql_url("mysql://u:p@[::1]:4000")

    assert (parts.host, parts.port) == ("::1", 4000)


def test_a_redacted_url_keeps_user_and_host_only():
    assert redact_mysql_url("mysql://user:s3/cr:e@t#x@host:3306") == "mysql://user:******@host:3306"
    assert redact_mysql_url("mysql://user:s3cr3t") == "mysql://******"


def test_url_errors_never_hold_the_url():
    with pytest.raises(MySQLURLError) as raised:
        parse_mysql_url("mysql://user:hunter2")

    assert "hunter2" not in str(raised.value)
