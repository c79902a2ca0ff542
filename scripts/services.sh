#!/usr/bin/env bash
# Manage the three native services the tests and the demo need:
# OpenSearch 2.19 (Maven Central jars on Java 17), PostgreSQL and Redis (Debian packages).
#
#   scripts/services.sh start|stop|status|env
#
# Everything lives under .services/ in the repository (git-ignored). `start` is idempotent,
# `stop` ends only what this script started. Set OPENSEARCH_URL (or SEARCH_HOSTS),
# SQLALCHEMY_DATABASE_URI or CACHE_REDIS_URL to use an existing service instead: the script
# then only checks its health.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC="${STATS_SERVICES_DIR:-$ROOT/.services}"
OS_PORT=9200
PG_PORT=5432
REDIS_PORT=6379
OS_DIR="$SVC/opensearch"
PG_DIR="$SVC/postgres"
REDIS_DIR="$SVC/redis"
OS_POM="$ROOT/scripts/opensearch/pom.xml"
OS_MAIN="org.codelibs.opensearch.runner.OpenSearchRunner"

say() { printf '[services] %s\n' "$*"; }
fail() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# --- helpers ------------------------------------------------------------------------------

apt_updated=0
apt_install() {
  # Install Debian packages that are missing; never prompts.
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      fail "missing packages ${missing[*]}: run 'sudo apt-get update && sudo apt-get install -y ${missing[*]}'"
    fi
  fi
  if [ $apt_updated -eq 0 ]; then
    say "apt-get update"
    $sudo apt-get update -qq >/dev/null || fail "apt-get update failed"
    apt_updated=1
  fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Run a command as an unprivileged user when we are root (PostgreSQL refuses root).
as_service_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$SERVICE_USER" -- "$@"; else "$@"; fi
}

service_user() {
  SERVICE_USER="$(id -un)"
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then SERVICE_USER=postgres; else
      id invenio-svc >/dev/null 2>&1 || useradd --system --no-create-home invenio-svc
      SERVICE_USER=invenio-svc
    fi
  fi
}

# --- OpenSearch ---------------------------------------------------------------------------

os_url() {
  if [ -n "${OPENSEARCH_URL:-}" ]; then echo "${OPENSEARCH_URL%/}"; return; fi
  if [ -n "${SEARCH_HOSTS:-}" ]; then
    python3 - "$SEARCH_HOSTS" <<'PY'
import ast, sys
hosts = ast.literal_eval(sys.argv[1])
h = hosts[0] if isinstance(hosts, (list, tuple)) else hosts
if isinstance(h, dict):
    print(f"http://{h.get('host', '127.0.0.1')}:{h.get('port', 9200)}")
else:
    h = str(h)
    print(h if "://" in h else f"http://{h}")
PY
    return
  fi
  echo "http://127.0.0.1:$OS_PORT"
}

os_external() { [ -n "${OPENSEARCH_URL:-}${SEARCH_HOSTS:-}" ]; }

os_health() {
  curl -fsS --max-time 5 "$(os_url)/_cluster/health" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null
}

os_version() {
  curl -fsS --max-time 5 "$(os_url)" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"]["number"])' 2>/dev/null
}

os_fetch() {
  # Resolve the server and its modules from Maven Central (cached in ~/.m2).
  local stamp="$OS_DIR/lib/.pom.sha256" sum
  sum="$(sha256sum "$OS_POM" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  say "opensearch: resolving jars with Maven"
  rm -rf "$OS_DIR/lib"
  mkdir -p "$OS_DIR/lib"
  mvn -q -B -f "$OS_POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$OS_DIR/lib" >"$OS_DIR/maven.log" 2>&1 \
    || { tail -n 50 "$OS_DIR/maven.log" >&2; fail "opensearch: Maven could not resolve the jars"; }
  echo "$sum" >"$stamp"
}

os_start() {
  if os_external; then
    local status; status="$(os_health || true)"
    [ "$status" = green ] || [ "$status" = yellow ] \
      || fail "opensearch: $(os_url) is not healthy (set by OPENSEARCH_URL/SEARCH_HOSTS)"
    say "opensearch: using $(os_url) (version $(os_version))"
    return
  fi
  if pid_alive "$OS_DIR/opensearch.pid"; then
    say "opensearch: already running (pid $(cat "$OS_DIR/opensearch.pid"), version $(os_version))"
    return
  fi
  if port_open "$OS_PORT"; then
    fail "opensearch: port $OS_PORT is held by another process; stop it or set OPENSEARCH_URL"
  fi
  os_fetch
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  mkdir -p "$OS_DIR/data"
  # The runner starts the node in-process (no bootstrap root check); node 1 listens on
  # baseHttpPort + 1. The heap stays small enough for a 2-core, shared machine.
  setsid java -Xms512m -Xmx1g -Djava.awt.headless=true -cp "$OS_DIR/lib/*" "$OS_MAIN" \
    -basePath "$OS_DIR/data" -numOfNode 1 -baseHttpPort $((OS_PORT - 1)) \
    -clusterName invenio-stats-dashboard >"$OS_DIR/opensearch.log" 2>&1 </dev/null &
  echo $! >"$OS_DIR/opensearch.pid"
  local waited=0 status=""
  while [ $waited -lt 120 ]; do
    status="$(os_health || true)"
    if [ "$status" = green ] || [ "$status" = yellow ]; then break; fi
    if ! pid_alive "$OS_DIR/opensearch.pid"; then break; fi
    sleep 2; waited=$((waited + 2))
  done
  if [ "$status" != green ] && [ "$status" != yellow ]; then
    tail -n 50 "$OS_DIR/opensearch.log" >&2 || true
    os_stop >/dev/null 2>&1 || true
    fail "opensearch: not healthy on 127.0.0.1:$OS_PORT after ${waited}s (log above)"
  fi
  # The runner silently moves to the next free port: make sure it is the one we asked for.
  local listening
  listening="$(curl -fsS --max-time 5 "http://127.0.0.1:$OS_PORT/_nodes/_local/http" \
    | python3 -c 'import json,sys; n=json.load(sys.stdin)["nodes"]; print(next(iter(n.values()))["http"]["publish_address"])')"
  case "$listening" in *":$OS_PORT") ;; *) fail "opensearch: node listens on $listening, not $OS_PORT" ;; esac
  say "opensearch: started version $(os_version) on 127.0.0.1:$OS_PORT (status $status)"
}

os_stop() {
  if pid_alive "$OS_DIR/opensearch.pid"; then
    local pid; pid="$(cat "$OS_DIR/opensearch.pid")"
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 -- "-$pid" 2>/dev/null || true
    say "opensearch: stopped"
  fi
  rm -f "$OS_DIR/opensearch.pid"
}

# --- PostgreSQL ---------------------------------------------------------------------------

pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && echo "$d"
}

pg_start() {
  if [ -n "${SQLALCHEMY_DATABASE_URI:-}" ]; then
    local uri="${SQLALCHEMY_DATABASE_URI/+psycopg2/}" bin; bin="$(pg_bin || true)"
    [ -n "$bin" ] || apt_install postgresql-client
    "${bin:-/usr/bin}/pg_isready" -q -d "$uri" \
      || fail "postgresql: $uri does not accept connections (set by SQLALCHEMY_DATABASE_URI)"
    say "postgresql: using SQLALCHEMY_DATABASE_URI"
    return
  fi
  local bin; bin="$(pg_bin)"
  if [ -z "$bin" ]; then
    apt_install postgresql
    bin="$(pg_bin)"
    # Debian may start its own cluster on install: stop that one, we run a private cluster.
    command -v pg_ctlcluster >/dev/null 2>&1 && for c in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster "$c" main stop >/dev/null 2>&1 || true
    done
  fi
  service_user
  if pid_alive "$PG_DIR/started.pid" && "$bin/pg_isready" -q -h 127.0.0.1 -p $PG_PORT; then
    say "postgresql: already running"
    return
  fi
  if port_open "$PG_PORT"; then
    fail "postgresql: port $PG_PORT is held by another process; stop it or set SQLALCHEMY_DATABASE_URI"
  fi
  mkdir -p "$PG_DIR/run"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    rm -rf "$PG_DIR/data"; mkdir -p "$PG_DIR/data"
    echo invenio >"$PG_DIR/pwfile"
    chown -R "$SERVICE_USER" "$PG_DIR"
    as_service_user "$bin/initdb" -D "$PG_DIR/data" -U invenio --pwfile="$PG_DIR/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
      || { cat "$PG_DIR/initdb.log" >&2; fail "postgresql: initdb failed"; }
  fi
  chown -R "$SERVICE_USER" "$PG_DIR"
  as_service_user "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DIR/run -c fsync=off -c full_page_writes=off" \
    start >/dev/null \
    || { tail -n 50 "$PG_DIR/postgres.log" >&2; fail "postgresql: pg_ctl start failed"; }
  head -n 1 "$PG_DIR/data/postmaster.pid" >"$PG_DIR/started.pid"
  if ! as_service_user "$bin/psql" -h "$PG_DIR/run" -p $PG_PORT -U invenio -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='invenio'" | grep -q 1; then
    as_service_user "$bin/createdb" -h "$PG_DIR/run" -p $PG_PORT -U invenio invenio
  fi
  "$bin/pg_isready" -q -h 127.0.0.1 -p $PG_PORT || fail "postgresql: pg_isready failed"
  say "postgresql: started $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

pg_stop() {
  local bin; bin="$(pg_bin || true)"
  if pid_alive "$PG_DIR/started.pid" && [ -n "$bin" ]; then
    service_user
    as_service_user "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    say "postgresql: stopped"
  fi
  rm -f "$PG_DIR/started.pid"
}

# --- Redis --------------------------------------------------------------------------------

redis_start() {
  if [ -n "${CACHE_REDIS_URL:-}" ]; then
    python3 - "$CACHE_REDIS_URL" <<'PY' || fail "redis: $CACHE_REDIS_URL does not answer PING (set by CACHE_REDIS_URL)"
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=5)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
PY
    say "redis: using CACHE_REDIS_URL"
    return
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  if pid_alive "$REDIS_DIR/redis.pid"; then say "redis: already running"; return; fi
  if port_open "$REDIS_PORT"; then
    fail "redis: port $REDIS_PORT is held by another process; stop it or set CACHE_REDIS_URL"
  fi
  mkdir -p "$REDIS_DIR"
  redis-server --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
    --dir "$REDIS_DIR" --databases 16 \
    || fail "redis: redis-server did not start"
  for _ in $(seq 1 50); do
    [ "$(redis-cli -p $REDIS_PORT ping 2>/dev/null)" = PONG ] && break; sleep 0.2
  done
  [ "$(redis-cli -p $REDIS_PORT ping 2>/dev/null)" = PONG ] \
    || { tail -n 50 "$REDIS_DIR/redis.log" >&2; fail "redis: no PONG on 127.0.0.1:$REDIS_PORT"; }
  say "redis: started $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on 127.0.0.1:$REDIS_PORT"
}

redis_stop() {
  if pid_alive "$REDIS_DIR/redis.pid"; then
    kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
    say "redis: stopped"
  fi
  rm -f "$REDIS_DIR/redis.pid"
}

# --- commands -----------------------------------------------------------------------------

print_env() {
  local redis="${CACHE_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
  local redis_base="${redis%/*}"
  echo "export SQLALCHEMY_DATABASE_URI='${SQLALCHEMY_DATABASE_URI:-postgresql+psycopg2://invenio:invenio@127.0.0.1:$PG_PORT/invenio}'"
  if [ -n "${SEARCH_HOSTS:-}" ]; then
    echo "export SEARCH_HOSTS=\"$SEARCH_HOSTS\""
  else
    local url host port
    url="$(os_url)"; host="${url#*://}"; port="${host##*:}"; host="${host%%:*}"
    echo "export SEARCH_HOSTS=\"[{'host': '$host', 'port': $port}]\""
  fi
  echo "export OPENSEARCH_URL='$(os_url)'"
  echo "export CACHE_REDIS_URL='$redis'"
  echo "export BROKER_URL='$redis_base/1'"
}

status() {
  local rc=0 s
  s="$(os_health || true)"
  if [ -n "$s" ]; then say "opensearch: $s at $(os_url) (version $(os_version))"; else say "opensearch: down"; rc=1; fi
  local bin; bin="$(pg_bin || true)"
  if [ -n "$bin" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p $PG_PORT; then say "postgresql: up"; else say "postgresql: down"; rc=1; fi
  if [ "$(redis-cli -p $REDIS_PORT ping 2>/dev/null || true)" = PONG ]; then say "redis: up"; else say "redis: down"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start) mkdir -p "$SVC"; redis_start; pg_start; os_start ;;
  stop) os_stop; pg_stop; redis_stop ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
