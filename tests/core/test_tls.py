"""TLS to the target, as asked: against private MariaDB servers with certificates the test makes.

The TLS server's certificate names only ``localhost``: connecting to ``localhost`` is the verified case,
connecting to ``127.0.0.1`` is a certificate "for another host". The plain server offers no TLS. Both keep
a general query log, which is how the tests see from the server's side what a client sent.
"""

from __future__ import annotations

import logging
import re
import uuid

import pytest

from airflow_provider_lightning.core.errors import ConfigError, TargetError
from airflow_provider_lightning.core.target import ConnectionSettings, connect
from airflow_provider_lightning.core.tls import (
    TlsMode,
    TlsSettings,
    tls_from_dsn_param,
    tls_from_lightning,
    tls_from_mysql_extras,
)
from tests.core.test_cli import SHOP_ROWS, run_lightning, write_config, write_shop_dump
from tests.tls_servers import certificates, plain_server, tls_server  # noqa: F401 - fixtures


def settings_for(server, user: str, password: str, tls: TlsSettings, host: str = "localhost") -> ConnectionSettings:
    return ConnectionSettings(host=host, port=server.port, user=user, password=password, tls=tls,
                              connect_timeout=5)


def session_cipher(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cur.fetchone()
    return row[1] if row else ""


# --- what each setting means --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tls", "ca", "mode"),
    [
        ("", "", TlsMode.DISABLED),
        ("", "/ca.pem", TlsMode.VERIFY_IDENTITY),  # Lightning: a CA alone means "cluster"
        ("false", "/ca.pem", TlsMode.DISABLED),
        ("cluster", "/ca.pem", TlsMode.VERIFY_IDENTITY),
        ("skip-verify", "/ca.pem", TlsMode.REQUIRED),
        ("preferred", "", TlsMode.PREFERRED),
    ],
)
def test_lightning_tls_values_map_to_what_a_connection_checks(tls, ca, mode):
    assert tls_from_lightning(tls, ca_path=ca).mode is mode


def test_cluster_without_a_ca_is_a_config_error():
    with pytest.raises(ConfigError, match="'cluster' needs a CA"):
        tls_from_lightning("cluster")


@pytest.mark.parametrize(
    ("ssl", "ssl_mode", "mode"),
    [
        (None, None, TlsMode.DISABLED),
        (None, "VERIFY_CA", TlsMode.VERIFY_CA),  # no ssl dict is not "no TLS" when a mode says otherwise
        (None, "verify_identity", TlsMode.VERIFY_IDENTITY),
        (None, "REQUIRED", TlsMode.REQUIRED),
        (None, "PREFERRED", TlsMode.PREFERRED),
        ({"ca": "/ca.pem"}, None, TlsMode.VERIFY_IDENTITY),
        ({"ca": "/ca.pem", "check_hostname": False}, None, TlsMode.VERIFY_CA),
        ('{"ca": "/ca.pem"}', "DISABLED", TlsMode.DISABLED),  # as written, even with a CA
        ({"cert": "/c.pem", "key": "/k.pem"}, None, TlsMode.REQUIRED),
    ],
)
def test_mysql_connection_extras_map_to_what_a_connection_checks(ssl, ssl_mode, mode):
    assert tls_from_mysql_extras(ssl, ssl_mode).mode is mode


@pytest.mark.parametrize(
    ("ssl", "ssl_mode", "complaint"),
    [
        (None, "VERIFY_EVERYTHING", "unknown SSL mode 'VERIFY_EVERYTHING'"),
        ({"ca": "/ca.pem", "sslmode": "x"}, None, "unknown key(s) 'sslmode'"),
        ('{"ca": ', None, "is not valid JSON"),
        ({"ca": "/ca.pem", "check_hostname": False}, "VERIFY_IDENTITY", "contradicts ssl_mode VERIFY_IDENTITY"),
    ],
)
def test_bad_connection_extras_say_what_is_wrong(ssl, ssl_mode, complaint):
    with pytest.raises(ConfigError) as raised:
        tls_from_mysql_extras(ssl, ssl_mode, where="connection t")
    assert complaint in str(raised.value)


def test_a_checkpoint_dsn_tls_parameter_is_read_as_go_sql_driver_reads_it():
    assert [tls_from_dsn_param(v, where="checkpoint.dsn").mode for v in ("true", "skip-verify", "preferred", "false")] \
        == [TlsMode.VERIFY_IDENTITY, TlsMode.REQUIRED, TlsMode.PREFERRED, TlsMode.DISABLED]


# --- against real servers -----------------------------------------------------------------------------


def test_verified_tls_connects_encrypted(tls_server, certificates):
    user, password = tls_server.create_user(require_ssl=True)
    tls = tls_from_lightning("cluster", ca_path=str(certificates.ca))

    conn = connect(settings_for(tls_server, user, password, tls))

    assert session_cipher(conn)
    conn.close()


def test_a_client_certificate_is_presented(tls_server, certificates):
    user, password = tls_server.create_user()
    tls_server.root_query(f"ALTER USER '{user}'@'%' REQUIRE X509")
    tls = tls_from_lightning(
        "cluster", ca_path=str(certificates.ca), cert_path=str(certificates.client_cert),
        key_path=str(certificates.client_key),
    )
    without_cert = tls_from_lightning("cluster", ca_path=str(certificates.ca))

    conn = connect(settings_for(tls_server, user, password, tls))
    assert session_cipher(conn)
    conn.close()
    with pytest.raises(TargetError, match="Access denied"):
        connect(settings_for(tls_server, user, password, without_cert))


def test_a_wrong_ca_fails_clearly(tls_server, certificates):
    user, password = tls_server.create_user()
    tls = tls_from_lightning("cluster", ca_path=str(certificates.wrong_ca))

    with pytest.raises(TargetError) as raised:
        connect(settings_for(tls_server, user, password, tls))

    message = str(raised.value)
    assert "TLS with the target database at localhost:" in message
    assert f"not signed by the CA in {certificates.wrong_ca}" in message
    assert 'tidb.tls = "cluster"' in message
    assert not tls_server.logins_of(user)  # the handshake failed before the user name was sent


def test_an_unreadable_ca_file_is_named(tls_server, tmp_path):
    tls = tls_from_lightning("cluster", ca_path=str(tmp_path / "missing-ca.pem"))

    with pytest.raises(TargetError, match="cannot read the CA file .*missing-ca.pem.* asked for by tidb.tls"):
        connect(settings_for(tls_server, "nobody", "x", tls))


def test_verify_identity_refuses_a_certificate_for_another_host(tls_server, certificates):
    user, password = tls_server.create_user()
    tls = tls_from_mysql_extras({"ca": str(certificates.ca)}, "VERIFY_IDENTITY")

    with pytest.raises(TargetError, match="does not name '127.0.0.1'"):
        connect(settings_for(tls_server, user, password, tls, host="127.0.0.1"))


def test_verify_ca_checks_the_chain_but_not_the_host_name(tls_server, certificates):
    user, password = tls_server.create_user(require_ssl=True)
    right = tls_from_mysql_extras({"ca": str(certificates.ca)}, "VERIFY_CA")
    wrong = tls_from_mysql_extras({"ca": str(certificates.wrong_ca)}, "VERIFY_CA")

    conn = connect(settings_for(tls_server, user, password, right, host="127.0.0.1"))
    assert session_cipher(conn)
    conn.close()
    with pytest.raises(TargetError, match="not signed by the CA"):
        connect(settings_for(tls_server, user, password, wrong, host="127.0.0.1"))


def test_skip_verify_encrypts_with_a_certificate_for_another_host_and_an_unknown_ca(tls_server):
    user, password = tls_server.create_user(require_ssl=True)

    conn = connect(settings_for(tls_server, user, password, tls_from_lightning("skip-verify"), host="127.0.0.1"))

    assert session_cipher(conn)
    conn.close()


def test_preferred_uses_tls_when_the_server_offers_it(tls_server):
    user, password = tls_server.create_user(require_ssl=True)

    conn = connect(settings_for(tls_server, user, password, tls_from_lightning("preferred")))

    assert session_cipher(conn)
    conn.close()


def test_preferred_against_a_server_without_tls_connects_in_plaintext_and_logs_it(plain_server, caplog):
    user, password = plain_server.create_user()
    caplog.set_level(logging.DEBUG, logger="airflow_provider_lightning.core.target")

    conn = connect(settings_for(plain_server, user, password, tls_from_lightning("preferred")))

    assert session_cipher(conn) == ""
    conn.close()
    assert f"the target database at localhost:{plain_server.port} does not offer TLS: this connection is in " \
           'plaintext (TLS PREFERRED (tidb.tls = "preferred"))' in caplog.text


@pytest.mark.parametrize(
    "tls",
    [
        pytest.param(lambda c: tls_from_lightning("cluster", ca_path=str(c.ca)), id="cluster"),
        pytest.param(lambda c: tls_from_lightning("skip-verify"), id="skip-verify"),
        pytest.param(lambda c: tls_from_mysql_extras(None, "VERIFY_CA"), id="VERIFY_CA-without-ssl-dict"),
        pytest.param(lambda c: tls_from_mysql_extras(None, "REQUIRED"), id="REQUIRED"),
    ],
)
def test_required_tls_against_a_server_without_tls_sends_no_user_name_and_no_query(plain_server, certificates, tls):
    user, password = plain_server.create_user()
    settings = settings_for(plain_server, user, password, tls(certificates))

    with pytest.raises(TargetError) as raised:
        connect(settings)

    assert "does not offer TLS" in str(raised.value)
    assert "nothing was sent" in str(raised.value)
    assert password not in str(raised.value)
    assert not plain_server.logins_of(user)
    # The log would have shown the user: the same login without TLS is there.
    connect(ConnectionSettings(host="localhost", port=plain_server.port, user=user, password=password)).close()
    assert plain_server.logins_of(user)


# --- a whole import -----------------------------------------------------------------------------------


def _ssl_counters(server) -> dict[str, int]:
    rows = server.root_query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Ssl_accepts')")
    return {name: int(value) for name, value in rows}


@pytest.mark.parametrize("checkpoint_driver", ["file", "mysql"])
def test_an_import_with_cluster_tls_encrypts_every_connection(tls_server, certificates, tmp_path, checkpoint_driver):
    user, password = tls_server.create_user(require_ssl=True)  # a plaintext session could not even log in
    db, task_info = f"lt_tls_{uuid.uuid4().hex[:8]}", f"lt_ti_{uuid.uuid4().hex[:8]}"
    dump = write_shop_dump(tmp_path / "dump", db)
    # The mysql driver keeps checkpoints in the target, over the same (TLS) connection settings.
    checkpoint = (
        ["--checkpoint-file", str(tmp_path / "cp.json")] if checkpoint_driver == "file"
        else []
    )
    config = write_config(
        tmp_path / "tidb-lightning.toml", task_info,
        f'[tidb]\nhost = "localhost"\nport = {tls_server.port}\nuser = "{user}"\npassword = "{password}"\n'
        f'tls = "cluster"\n[security]\nca-path = "{certificates.ca}"\n'
        + (f'[checkpoint]\ndriver = "mysql"\nschema = "lt_cp_{uuid.uuid4().hex[:8]}"\n'
           if checkpoint_driver == "mysql" else ""),
    )
    before = _ssl_counters(tls_server)

    result = run_lightning("import", "-c", str(config), "--source", str(dump), *checkpoint)

    after = _ssl_counters(tls_server)
    assert result.returncode == 0, result.stderr
    for key in ("tidb.tls", "security.ca-path"):  # used, no longer reported as having no effect
        assert f"config key '{key}'" not in result.stderr
    assert re.search(r"connected in TLS \(cipher \S+; TLS VERIFY_IDENTITY \(tidb.tls = \"cluster\"\)\)", result.stderr)
    rows = tls_server.root_query(f"SELECT COUNT(*) FROM `{db}`.`orders`")
    assert rows[0][0] == SHOP_ROWS
    store = "file" if checkpoint_driver == "file" else f"mysql localhost:{tls_server.port}"
    assert f"Checkpoints: removed the checkpoints from {store}" in result.stdout
    # Every connection the import opened (the counters' own root sessions go over the Unix socket, one of
    # them between the two readings) completed a TLS handshake.
    import_connections = after["Connections"] - before["Connections"] - 1
    assert import_connections > 3
    assert after["Ssl_accepts"] - before["Ssl_accepts"] == import_connections


def test_an_import_asking_for_tls_from_a_server_without_it_stops_before_sending_anything(
    plain_server, certificates, tmp_path
):
    user, password = plain_server.create_user()
    db = f"lt_tls_{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "tidb-lightning.toml", f"lt_ti_{uuid.uuid4().hex[:8]}",
        f'[tidb]\nhost = "localhost"\nport = {plain_server.port}\nuser = "{user}"\npassword = "{password}"\n'
        f'tls = "cluster"\n[security]\nca-path = "{certificates.ca}"\n',
    )

    result = run_lightning("import", "-c", str(config), "--source", str(write_shop_dump(tmp_path / "dump", db)),
                           "--checkpoint-file", str(tmp_path / "cp.json"))

    assert result.returncode == 1
    assert f"the target database at localhost:{plain_server.port} does not offer TLS" in result.stderr
    assert "Traceback" not in result.stderr
    assert not plain_server.logins_of(user)
    assert not plain_server.root_query("SHOW DATABASES LIKE %s", (db,))



def test_an_import_with_preferred_tls_against_a_server_without_it_runs_in_plaintext_and_says_so(
    plain_server, tmp_path
):
    user, password = plain_server.create_user()
    db = f"lt_tls_{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "tidb-lightning.toml", f"lt_ti_{uuid.uuid4().hex[:8]}",
        f'[tidb]\nhost = "localhost"\nport = {plain_server.port}\nuser = "{user}"\npassword = "{password}"\n'
        'tls = "preferred"\n',
    )

    result = run_lightning("import", "-c", str(config), "--source", str(write_shop_dump(tmp_path / "dump", db)),
                           "--checkpoint-file", str(tmp_path / "cp.json"))

    assert result.returncode == 0, result.stderr
    assert 'connected in plaintext: the server does not offer TLS (TLS PREFERRED (tidb.tls = "preferred"))' \
        in result.stderr
    assert plain_server.root_query(f"SELECT COUNT(*) FROM `{db}`.`customers`")[0][0] == SHOP_ROWS
