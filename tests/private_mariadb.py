"""A private MariaDB server for tests that must stop, kill or restart their target.

The shared test server (``mysql_server`` in ``conftest.py``) must never go down under other people's
tests, so a test that restarts its target gets a server of its own: its own data directory (made by
``mariadb-install-db``), its own port and socket, started as a child process and removed afterwards.
Starting one takes well under a second; a hard restart (SIGKILL, crash recovery, ready again) about the
same.

    from tests.private_mariadb import private_mariadb  # noqa: F401 - the fixture

    def test_something(private_mariadb):
        conn = private_mariadb.connect()
        ...
        private_mariadb.restart()            # SIGKILL, then start again on the same data
        private_mariadb.server               # a conftest.MySQLServer for the usual helpers

For one server shared by a module's tests, use ``running_private_mariadb(path)`` in a module-scoped
fixture (after ``require_mariadb_binaries()``).

The tests skip, saying why, only when ``mariadbd`` or ``mariadb-install-db`` is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest

from tests.conftest import MySQLServer

# mariadbd lives in /usr/sbin on Debian, which is not on every user's PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"])

USER = "lightning"
PASSWORD = "lightning"


def find_mariadb_binaries() -> tuple[str, str] | None:
    """``(mariadbd, mariadb-install-db)`` if both are installed, else None."""
    server = shutil.which("mariadbd", path=_SEARCH_PATH) or shutil.which("mysqld", path=_SEARCH_PATH)
    install = shutil.which("mariadb-install-db", path=_SEARCH_PATH) or shutil.which(
        "mysql_install_db", path=_SEARCH_PATH
    )
    if server is None or install is None:
        return None
    return server, install


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMariaDB:
    """One mariadbd process with its own data directory, port and socket.

    ``base`` holds the data directory, the error log and (if its path is short enough for a Unix socket)
    the socket; call :meth:`install` once, then :meth:`start`, :meth:`kill`, :meth:`restart`,
    :meth:`stop`. A user ``lightning``/``lightning`` with all privileges is created on first start; root
    (empty password) can log in through the socket only.
    """

    def __init__(self, base: Path, *, port: int | None = None, options: tuple[str, ...] = ()) -> None:
        found = find_mariadb_binaries()
        if found is None:
            raise RuntimeError("mariadbd and mariadb-install-db are not installed")
        self.mariadbd, self.install_db = found
        self.base = Path(base)
        self.datadir = self.base / "data"
        self.port = port or free_port()
        # A Unix socket path must fit in 108 bytes; pytest's tmp paths can be longer.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="lt-mdb-", dir="/tmp"))
        self.socket = self._socket_dir / "mysqld.sock"
        self.pid_file = self.base / "mariadbd.pid"
        self.log_file = self.base / "error.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        # Extra server options (``--ssl-cert=...``, ``--general-log=1``); kept across restarts.
        self.options = tuple(options)

    # --- life cycle -------------------------------------------------------------------------------------

    def install(self) -> None:
        """Create the data directory (system tables, root with an empty password)."""
        self.base.mkdir(parents=True, exist_ok=True)
        command = [
            self.install_db,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        done = subprocess.run(command, check=False, capture_output=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(
                f"mariadb-install-db failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}"
            )

    def start(self, timeout: float = 60.0) -> None:
        """Start mariadbd on the existing data directory and wait until it accepts connections."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the private MariaDB is already running")
        command = [
            self.mariadbd,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.socket}",
            f"--pid-file={self.pid_file}",
            f"--log-error={self.log_file}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-buffer-pool-load-at-startup=0",
            "--innodb-buffer-pool-dump-at-shutdown=0",
            "--loose-innodb-use-native-aio=0",
            "--max-connections=200",
            *self.options,
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the private MariaDB exited with {self.process.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                self._root().close()
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"the private MariaDB did not start in {timeout}s:\n{self.log_tail()}")
                time.sleep(0.05)
        self.starts += 1
        if self.starts == 1:
            self._create_user()

    def kill(self) -> None:
        """SIGKILL the server (a crash: InnoDB recovers on the next start) and wait until it is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down cleanly (SIGTERM); SIGKILL if it takes longer than ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, *, hard: bool = True, down_for: float = 0.0) -> None:
        """Kill (``hard``) or stop the server, stay down ``down_for`` seconds, start it again."""
        if hard:
            self.kill()
        else:
            self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def remove(self) -> None:
        """Stop the server and delete everything it had."""
        self.kill()
        shutil.rmtree(self._socket_dir, ignore_errors=True)
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- reaching it ------------------------------------------------------------------------------------

    @property
    def server(self) -> MySQLServer:
        """The server as the suite's other helpers take it (TCP, user ``lightning``)."""
        return MySQLServer(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD)

    def connect(self, database: str | None = None, **kwargs) -> pymysql.connections.Connection:
        return self.server.connect(database, **kwargs)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no error log)"

    def _root(self) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=str(self.socket), user="root", password="", autocommit=True,
                               connect_timeout=2)

    def _create_user(self) -> None:
        conn = self._root()
        try:
            with conn.cursor() as cur:
                for host in ("127.0.0.1", "localhost", "%"):
                    cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'{host}' IDENTIFIED BY '{PASSWORD}'")
                    cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'{host}' WITH GRANT OPTION")
        finally:
            conn.close()


def require_mariadb_binaries() -> None:
    """Skip the calling test, saying why, when a private server cannot be made on this machine."""
    if find_mariadb_binaries() is None:
        pytest.skip(
            "a private MariaDB needs mariadbd and mariadb-install-db (Debian package mariadb-server); "
            "neither PATH nor /usr/sbin has them"
        )


@contextmanager
def running_private_mariadb(base: Path, *, options: tuple[str, ...] = ()) -> Iterator[PrivateMariaDB]:
    """A private MariaDB installed in ``base`` and started (with extra server ``options``, such as
    ``--ssl-ca=...``); removed (data and all) on exit.

    For a server shared by the tests of a module: ``with running_private_mariadb(tmp) as server: yield``
    in a module-scoped fixture (call :func:`require_mariadb_binaries` first).
    """
    server = PrivateMariaDB(base, options=options)
    try:
        server.install()
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def private_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """A started private MariaDB (user ``lightning``/``lightning``), removed after the test."""
    require_mariadb_binaries()
    with running_private_mariadb(tmp_path_factory.mktemp("private-mariadb")) as server:
        yield server
