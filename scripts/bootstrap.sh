# Shared set-up for ./scripts/demo and ./scripts/test; sourced, not run.
# Idempotent and fast on a machine that already has everything: installs the Debian packages, makes sure
# MariaDB answers on 127.0.0.1:3306 with a user that can log in over TCP, and keeps .venv in sync with
# pyproject.toml.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
export LIGHTNING_TEST_MYSQL_URL="${LIGHTNING_TEST_MYSQL_URL:-mysql://lightning:lightning@127.0.0.1:3306}"
export LIGHTNING_TEST_POSTGRES_URL="${LIGHTNING_TEST_POSTGRES_URL:-postgresql://lightning:lightning@127.0.0.1:5432/postgres}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: pkg-config + libmariadb-dev so pip can build mysqlclient (needed by the mysql provider),
# the MariaDB server and client, mydumper/myloader (tests and benchmarks make real dumps with it),
# PostgreSQL (a real Airflow metadata DB for the end-to-end tests), and venv support for python3.
APT_PACKAGES=(pkg-config libmariadb-dev mariadb-server mariadb-client mydumper postgresql python3-venv python3-dev build-essential)

ensure_apt_packages() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

mariadb_root() {
    # Debian's root logs in through the local socket only; some machines also let it in over TCP.
    as_root mariadb -uroot "$@" 2>/dev/null || mariadb -h127.0.0.1 -P3306 -uroot "$@"
}

ensure_mariadb() {
    if ! mariadb-admin -h127.0.0.1 -P3306 --connect-timeout=2 ping >/dev/null 2>&1 \
        && ! as_root mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1; then
        say "starting MariaDB"
        as_root mkdir -p /run/mysqld
        as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
        as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
        for _ in $(seq 60); do
            as_root mariadb-admin --connect-timeout=1 ping >/dev/null 2>&1 && break
            sleep 0.5
        done
    fi
    local user pass
    user="$(python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).username)' "$LIGHTNING_TEST_MYSQL_URL")"
    pass="$(python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).password or "")' "$LIGHTNING_TEST_MYSQL_URL")"
    if ! mariadb -h127.0.0.1 -P3306 -u"$user" -p"$pass" -e 'SELECT 1' >/dev/null 2>&1; then
        say "creating MariaDB user '$user' for TCP logins"
        mariadb_root <<SQL
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
    fi
}

ensure_postgres() {
    # A real PostgreSQL metadata DB for the end-to-end tests with the Airflow services.
    if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
        say "starting PostgreSQL"
        local version
        version="$(ls /etc/postgresql | sort -V | tail -n 1)"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
            || as_root pg_ctlcluster "$version" main start
        for _ in $(seq 60); do
            pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break
            sleep 0.5
        done
    fi
    if ! PGPASSWORD=lightning psql -h 127.0.0.1 -U lightning -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
        say "creating PostgreSQL role 'lightning'"
        as_root runuser -u postgres -- psql -q -c "DO \$\$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lightning') THEN
                CREATE ROLE lightning LOGIN SUPERUSER PASSWORD 'lightning';
            ELSE
                ALTER ROLE lightning LOGIN SUPERUSER PASSWORD 'lightning';
            END IF;
        END \$\$;"
    fi
}

ensure_venv() {
    local stamp="$VENV/.installed" want
    want="$(cat "$REPO/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtualenv at .venv"
        python3 -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing airflow-provider-lightning into .venv (first time takes a few minutes)"
        "$VENV/bin/python" -m pip install -q --upgrade pip wheel
        "$VENV/bin/python" -m pip install -q -e "$REPO[test]"
        echo "$want" >"$stamp"
    fi
}

bootstrap() {
    ensure_apt_packages
    ensure_mariadb
    ensure_postgres
    ensure_venv
}
