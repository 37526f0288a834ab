#!/usr/bin/env bash
# Runs schemathesis (pinned below, installed into the tools' venv) against a
# live `voxdial serve --simulate` on 127.0.0.1 with a fresh data directory,
# authenticated with the admin key serve writes there, from the server's own
# /openapi.json. Checks: no 5xx (not_a_server_error) and every answer true
# to its documented schema (response_schema_conformance).
#
#   scripts/schemathesis.sh            # bounded: 20 examples per operation, 120 s at most
#   scripts/schemathesis.sh 200 900    # longer: 200 examples per operation, 15 minutes
#
# Expects a built `voxdial` (VOXDIAL_BIN, default target/debug/voxdial, or
# under CARGO_TARGET_DIR). Left out of the run: the streaming routes
# (server-sent events, the listen-in, live-events and test-call WebSockets: a request to
# a live stream never ends) and the revoking and rotating of keys (the stateful phase finds
# the run's own key in GET /v1/keys and would lock the run out; the
# authorization walk in tests/tests/authorization.rs covers both).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-20}"
seconds="${2:-120}"
version=4.32.5

venv="${VOXDIAL_VENV:-$HOME/.cache/voxdial-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != *"$version"* ]]; then
    "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

bin="${VOXDIAL_BIN:-${CARGO_TARGET_DIR:-target}/debug/voxdial}"
[ -x "$bin" ] || { echo "no voxdial binary at $bin (cargo build -p voxdial)" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A free port: bind :0 in Python and hand it over (the server binds it next).
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --simulate --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 600); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.2
done
key=$(cat "$work/data/admin.key")

status=0
# From the scratch folder: schemathesis keeps its example database in the
# working directory.
(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$examples" \
    --max-time "$seconds" \
    --request-timeout 60 \
    --seed 1 \
    --exclude-path '/v1/campaigns/{id}/events' \
    --exclude-path '/v1/calls/{id}/listen' \
    --exclude-path '/v1/calls/{id}/live' \
    --exclude-path '/v1/ai-agents/{id}/test-call' \
    --exclude-path '/v1/keys/{id}/revoke' \
    --exclude-path '/v1/keys/{id}/rotate' \
    --no-color) \
    || status=$?
if [ "$status" != 0 ]; then
    echo "--- server log (tail)" >&2
    tail -n 50 "$work/serve.log" >&2
fi
exit "$status"
