"""Specification: this provider's own defaults apply only to keys the configuration leaves out; a value the
user wrote is used as written, even when it equals Lightning's default."""

from __future__ import annotations

from airflow_provider_lightning.core.config import load_config
from airflow_provider_lightning.core.importer.session import ImportSession, decide_session
from airflow_provider_lightning.core.importer.env import ImportEnv, PreparedImport
from airflow_provider_lightning.core.target import ServerFacts, ServerFlavor

SOURCE = {"mydumper": {"data-source-dir": "/srv/dumps/nightly"}}
LIGHTNING_DEFAULT = "ONLY_FULL_GROUP_BY,NO_AUTO_CREATE_USER"
MARIADB = ServerFacts(
    version="10.11.6-MariaDB",
    flavor=ServerFlavor.MARIADB,
    version_tuple=(10, 11, 6),
    sql_mode="STRICT_TRANS_TABLES",
    max_allowed_packet=64 * 1024 * 1024,
    character_set_server="utf8mb4",
    collation_server="utf8mb4_general_ci",
)


def session_modes(*, written: bool) -> set[str]:
    session, _ = decide_session(
        sql_mode=LIGHTNING_DEFAULT,
        session_vars={},
        facts=MARIADB,
        dump_header=None,
        server_time_zone="+00:00",
        sql_mode_written=written,
    )
    return set(session.sql_mode.split(","))


def test_a_sql_mode_left_out_is_made_strict():
    assert "STRICT_TRANS_TABLES" in session_modes(written=False)


def test_a_written_sql_mode_equal_to_lightnings_default_is_not_made_strict():
    modes = session_modes(written=True)

    assert "STRICT_TRANS_TABLES" not in modes
    assert {"ONLY_FULL_GROUP_BY", "NO_AUTO_CREATE_USER"} <= modes


def batch_bytes(data: dict) -> int:
    config = load_config(data={**SOURCE, **data})
    prepared = PreparedImport(MARIADB, ImportSession(LIGHTNING_DEFAULT, "+00:00"))
    return ImportEnv(config, prepared).batch_limits().bytes


def test_a_batch_size_left_out_is_a_mib_on_mariadb():
    assert batch_bytes({}) == 1024 * 1024


def test_a_written_batch_size_equal_to_lightnings_default_is_used_as_written():
    assert batch_bytes({"tikv-importer": {"logical-import-batch-size": "96KiB"}}) == 96 * 1024
