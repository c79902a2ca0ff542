#!/usr/bin/env bash
# The project's one test command (09 §8): installs what is missing, starts the services,
# runs the static checks, builds the docs with warnings as errors, runs pytest, stops
# what it started and exits non-zero if any step failed.
#
#   ./run-tests.sh [--keep-services] [--python-only] [-- PYTEST_ARGS...]
#
# PYTHON selects the interpreter for .venv (default python3.11); PYTEST_WORKERS the
# number of pytest-xdist workers (default 2; 0 runs in one process). Each worker is a
# test session of its own: own search prefix, database, broker and cache keys.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
VENV="$ROOT/.venv"
LOGS="$ROOT/.test-logs"
KEEP_SERVICES=0
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep-services) KEEP_SERVICES=1 ;;
    --python-only) ;;  # the only suite so far; accepted for the documented interface
    --) shift; PYTEST_ARGS=("$@"); break ;;
    *) echo "usage: $0 [--keep-services] [--python-only] [-- PYTEST_ARGS...]" >&2; exit 2 ;;
  esac
  shift
done
if [ "${CI:-}" = true ]; then export NO_COLOR=1 PY_COLORS=0 PIP_NO_INPUT=1; fi
exec </dev/null
mkdir -p "$LOGS"
START_ALL=$(date +%s)

STEPS=() RESULTS=() DURATIONS=()
FAILED=0
run_step() {
  # run_step NAME CMD...: run every step even after a failure, remember the result.
  local name="$1" t0 rc; shift
  t0=$(date +%s)
  echo "=== $name"
  rc=0; "$@" || rc=$?
  STEPS+=("$name"); DURATIONS+=($(( $(date +%s) - t0 )))
  if [ $rc -eq 0 ]; then RESULTS+=("ok"); else RESULTS+=("FAILED ($rc)"); FAILED=1; fi
  return 0
}

system_packages() {
  local need=()
  command -v "$PYTHON" >/dev/null 2>&1 || need+=(python3 python3-venv)
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  [ ${#need[@]} -eq 0 ] && { echo "all system packages present"; return 0; }
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || { echo "run: sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2; return 1; }
    sudo="sudo -n"
  fi
  $sudo apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}

python_env() {
  # Reinstall only when pyproject.toml or the constraints change (stamp file).
  local stamp="$VENV/.stamp" sum
  sum="$(cat pyproject.toml constraints-tests.txt | sha256sum | cut -d' ' -f1)-$("$PYTHON" -V 2>&1)"
  # Steps run inside `||`, where errexit is off: every command checks its own status.
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || return 1
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    echo "virtualenv up to date"; return 0
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel || return 1
  "$VENV/bin/python" -m pip install -q -c constraints-tests.txt -e ".[tests,dev,docs]" \
    || return 1
  echo "$sum" >"$stamp"
}

SERVICES_STARTED=0
start_services() {
  bash scripts/services.sh start && SERVICES_STARTED=1
}
stop_services() {
  if [ $SERVICES_STARTED -eq 1 ] && [ $KEEP_SERVICES -eq 0 ]; then bash scripts/services.sh stop; fi
}
trap stop_services EXIT

static_checks() {
  local rc=0
  "$VENV/bin/ruff" check invenio_stats_dashboard tests || rc=1
  "$VENV/bin/ruff" format --check invenio_stats_dashboard tests || rc=1
  "$VENV/bin/mypy" invenio_stats_dashboard || rc=1
  return $rc
}

docs_build() {
  "$VENV/bin/python" -m sphinx -W --keep-going -q -b html docs "$LOGS/docs-html"
}

PYTEST_PASSED=0 PYTEST_FAILED=0
python_tests() {
  local rc=0
  eval "$(bash scripts/services.sh env)"
  rm -f "$LOGS/pytest.xml"
  "$VENV/bin/python" -m pytest --junitxml="$LOGS/pytest.xml" \
    --cov=invenio_stats_dashboard --cov-report=term --cov-report="xml:$LOGS/coverage.xml" \
    --cov-fail-under=85 --durations=25 \
    -n "${PYTEST_WORKERS:-2}" --dist loadfile \
    "${PYTEST_ARGS[@]}" 2>&1 | tee "$LOGS/pytest.log" || rc=$?
  if [ -f "$LOGS/pytest.xml" ]; then
    read -r PYTEST_PASSED PYTEST_FAILED < <("$VENV/bin/python" - "$LOGS/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
n = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(n - bad - skipped, bad)
PY
)
  fi
  return $rc  # pytest's exit 5 (no tests collected) is a failure too
}

run_step "system packages" system_packages
run_step "python environment" python_env
run_step "services" start_services
run_step "static checks" static_checks
run_step "docs" docs_build
run_step "pytest" python_tests

echo
printf '%-22s %-14s %s\n' step result seconds
for i in "${!STEPS[@]}"; do
  printf '%-22s %-14s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}" "${DURATIONS[$i]}"
done
printf '%-22s %-14s %s\n' total "" "$(( $(date +%s) - START_ALL ))"
echo
echo "$PYTEST_PASSED passed, $PYTEST_FAILED failed"
exit $FAILED
