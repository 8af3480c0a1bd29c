"""Reading the target's facts and table definitions from a real server."""

from __future__ import annotations

import pytest

from airflow_provider_lightning.core.errors import TargetError
from airflow_provider_lightning.core.target import (
    ConnectionSettings,
    ServerFlavor,
    connect,
    fetch_table_info,
    parse_server_version,
    read_server_facts,
)


@pytest.fixture
def settings(mysql_server):
    return ConnectionSettings(
        host=mysql_server.host, port=mysql_server.port, user=mysql_server.user, password=mysql_server.password
    )


@pytest.mark.parametrize(
    ("version", "flavor", "parts"),
    [
        ("10.11.19-MariaDB-0+deb12u1", ServerFlavor.MARIADB, (10, 11, 19)),
        ("5.5.5-10.11.19-MariaDB", ServerFlavor.MARIADB, (10, 11, 19)),
        ("8.0.36", ServerFlavor.MYSQL, (8, 0, 36)),
        ("8.0.11-TiDB-v7.5.0", ServerFlavor.TIDB, (7, 5, 0)),
        ("5.7.25-TiDB-v6.5.0-serverless", ServerFlavor.TIDB, (6, 5, 0)),
    ],
)
def test_server_version_strings_give_flavor_and_version(version, flavor, parts):
    assert parse_server_version(version) == (flavor, parts)


def test_server_facts_come_from_the_server(settings):
    conn = connect(settings)
    facts = read_server_facts(conn)
    assert facts.flavor is ServerFlavor.MARIADB
    assert facts.max_allowed_packet >= 1024
    assert facts.version_tuple[0] >= 10


def test_wrong_password_is_a_target_error_naming_the_address(settings):
    bad = ConnectionSettings(host=settings.host, port=settings.port, user=settings.user, password="wrong")
    with pytest.raises(TargetError, match=f"{settings.host}:{settings.port}"):
        connect(bad)


def test_password_never_shows_in_repr():
    assert "s3cret" not in repr(ConnectionSettings(password="s3cret"))


def test_table_info_lists_columns_in_order_with_types_and_keys(settings, fresh_database):
    conn = connect(settings, database=fresh_database)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE t (id INT UNSIGNED NOT NULL AUTO_INCREMENT, d DECIMAL(10,3), "
            "s VARCHAR(20) CHARACTER SET utf8mb4, g INT AS (id + 1) VIRTUAL, u INT, "
            "PRIMARY KEY (id), UNIQUE KEY uk (u, s))"
        )
    info = fetch_table_info(conn, fresh_database, "t")
    assert [c.name for c in info.columns] == ["id", "d", "s", "g", "u"]
    assert info.column("ID").unsigned and info.column("id").auto_increment
    assert info.column("d").numeric_scale == 3
    assert info.column("s").charset == "utf8mb4"
    assert info.column("g").generated
    assert [c.name for c in info.insertable_columns] == ["id", "d", "s", "u"]
    assert info.primary_key == ("id",)
    assert info.unique_keys == (("u", "s"),)


def test_missing_table_has_no_info(settings, fresh_database):
    assert fetch_table_info(connect(settings), fresh_database, "nope") is None
