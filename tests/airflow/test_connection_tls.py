"""TLS through an Airflow ``mysql`` connection's extras, as the mysql provider documents them.

Real ``airflow.models.Connection`` objects, handed to Airflow as ``AIRFLOW_CONN_...`` (JSON form), read
by ``LightningTargetHook`` and connected with the engine's ``connect``, against the private servers of
``tests/tls_servers.py`` (the TLS server's certificate names only ``localhost``).
"""

from __future__ import annotations

import json

import pytest
from airflow.models import Connection

from airflow_provider_lightning.core.errors import ConfigError, TargetError
from airflow_provider_lightning.core.target import connect
from airflow_provider_lightning.hooks.connections import LightningTargetHook
from tests.tls_servers import certificates, plain_server, tls_server  # noqa: F401 - fixtures


def settings_from_connection(monkeypatch, server, user, password, extra: dict, host: str = "localhost"):
    conn = Connection(
        conn_id="tls_target", conn_type="mysql", host=host, port=server.port, login=user, password=password,
        extra=json.dumps(extra),
    )
    monkeypatch.setenv("AIRFLOW_CONN_TLS_TARGET", conn.as_json())
    return LightningTargetHook("tls_target").get_connection_settings()


def cipher_of(settings) -> str:
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            return cur.fetchone()[1]
    finally:
        conn.close()


def test_an_ssl_dict_with_a_ca_verifies_and_encrypts(monkeypatch, tls_server, certificates):
    user, password = tls_server.create_user(require_ssl=True)
    settings = settings_from_connection(monkeypatch, tls_server, user, password, {"ssl": {"ca": str(certificates.ca)}})

    assert cipher_of(settings)


def test_the_ssl_dict_as_a_json_string_with_a_client_certificate(monkeypatch, tls_server, certificates):
    user, password = tls_server.create_user()
    tls_server.root_query(f"ALTER USER '{user}'@'%' REQUIRE X509")
    ssl = json.dumps({"ca": str(certificates.ca), "cert": str(certificates.client_cert),
                      "key": str(certificates.client_key)})
    settings = settings_from_connection(
        monkeypatch, tls_server, user, password, {"ssl": ssl, "ssl_mode": "VERIFY_IDENTITY"}
    )

    assert cipher_of(settings)


def test_verify_ca_accepts_a_certificate_for_another_host_signed_by_the_ca(monkeypatch, tls_server, certificates):
    user, password = tls_server.create_user(require_ssl=True)
    settings = settings_from_connection(
        monkeypatch, tls_server, user, password, {"ssl": {"ca": str(certificates.ca)}, "ssl_mode": "VERIFY_CA"},
        host="127.0.0.1",
    )

    assert cipher_of(settings)


def test_verify_identity_refuses_a_certificate_for_another_host(monkeypatch, tls_server, certificates):
    user, password = tls_server.create_user()
    settings = settings_from_connection(
        monkeypatch, tls_server, user, password, {"ssl": {"ca": str(certificates.ca)}, "ssl_mode": "VERIFY_IDENTITY"},
        host="127.0.0.1",
    )

    with pytest.raises(TargetError, match="does not name '127.0.0.1'"):
        connect(settings)


def test_a_wrong_ca_fails_clearly(monkeypatch, tls_server, certificates):
    user, password = tls_server.create_user()
    settings = settings_from_connection(monkeypatch, tls_server, user, password, {"ssl": {"ca": str(certificates.wrong_ca)}})

    with pytest.raises(TargetError, match=f"not signed by the CA in {certificates.wrong_ca}"):
        connect(settings)


def test_required_encrypts_without_checking_the_certificate(monkeypatch, tls_server):
    user, password = tls_server.create_user(require_ssl=True)
    settings = settings_from_connection(monkeypatch, tls_server, user, password, {"ssl_mode": "REQUIRED"},
                                        host="127.0.0.1")

    assert cipher_of(settings)


@pytest.mark.parametrize("ssl_mode", ["VERIFY_CA", "VERIFY_IDENTITY", "REQUIRED"])
def test_a_mode_requiring_tls_without_an_ssl_dict_refuses_a_server_without_tls_and_sends_nothing(
    monkeypatch, plain_server, ssl_mode
):
    user, password = plain_server.create_user()
    settings = settings_from_connection(monkeypatch, plain_server, user, password, {"ssl_mode": ssl_mode})

    with pytest.raises(TargetError, match=f"does not offer TLS, but TLS {ssl_mode}"):
        connect(settings)

    assert not plain_server.logins_of(user)


def test_preferred_falls_back_to_plaintext_and_logs_it(monkeypatch, plain_server, caplog):
    user, password = plain_server.create_user()
    settings = settings_from_connection(monkeypatch, plain_server, user, password, {"ssl_mode": "preferred"})
    caplog.set_level("DEBUG", logger="airflow_provider_lightning.core.target")

    assert cipher_of(settings) == ""
    assert "does not offer TLS: this connection is in plaintext" in caplog.text


def test_an_unknown_ssl_mode_names_the_connection_and_the_allowed_modes(monkeypatch, plain_server):
    with pytest.raises(ConfigError) as raised:
        settings_from_connection(monkeypatch, plain_server, "u", "p", {"ssl_mode": "ON"})

    assert raised.value.key == "connection tls_target.extra.ssl_mode"
    assert "allowed: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY" in str(raised.value)
