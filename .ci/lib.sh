# Helpers shared by .ci/run and .ci/fuzz (sourced, not run): PostgreSQL, throwaway databases, live servers.
# The caller sets ROOT, OUT and PG_SERVER, and has the venv's bin first on PATH before calling them.
# Sourcing installs an EXIT trap that stops the servers and drops the databases started through these helpers.

step() { printf '\n== %s\n' "$*"; }

ensure_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432
}

# A fresh database per use, dropped on exit. new_pg_db sets PG_URL: call it in this shell, never in $(...),
# or the name it adds to PG_DBS is lost in the subshell and the database outlives the run.
PG_DBS=()
PG_URL=
new_pg_db() {
  local name="csroi_ci_$1_$$"
  PG_DBS+=("$name")
  python - "$PG_SERVER" "$name" <<'PY'
import sys
import psycopg
from sqlalchemy.engine import make_url
url = make_url(sys.argv[1])
with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
    c.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PY
  PG_URL="${PG_SERVER%/*}/$name"
}
SERVER_PIDS=()
cleanup() {
  for pid in "${SERVER_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  for db in "${PG_DBS[@]:-}"; do
    [ -n "$db" ] && psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port free right now, chosen by the kernel: runs never collide with each other or with a server left running.
free_port() {
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Migrate the database, create an admin key, start a server on a free port and wait until it is ready.
# Sets SERVER_URL and SERVER_KEY; the server's log is $OUT/serve-$1.log. Call it in this shell, not in $(...).
SERVER_URL=
SERVER_KEY=
start_server() {  # $1 label, $2 database URL, $3 key name
  local label=$1 url=$2 port
  port=$(free_port)
  DATABASE_URL="$url" csroi migrate
  SERVER_KEY=$(DATABASE_URL="$url" csroi keys create --name "$3" --scope admin 2>/dev/null)
  DATABASE_URL="$url" CSROI_LOG_LEVEL=WARNING csroi serve --port "$port" --no-migrate >"$OUT/serve-$label.log" 2>&1 &
  SERVER_PIDS+=("$!")
  SERVER_URL="http://127.0.0.1:$port"
  for _ in $(seq 60); do
    curl -fs "$SERVER_URL/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "$SERVER_URL/readyz" >/dev/null || { cat "$OUT/serve-$label.log"; exit 1; }
}
