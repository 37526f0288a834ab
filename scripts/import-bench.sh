#!/usr/bin/env bash
# The large-import benchmark: a generated CSV file of N rows (default
# 100000) goes through the presigned-upload route of a local `voxdial
# serve` (create the import, PUT the file to its upload_url, start it, poll
# its progress until done). Prints the time from the upload to the last
# row stored, and the server's resident memory before and at its peak.
# Usage: cargo build --release -p voxdial && scripts/import-bench.sh 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
bin="${VOXDIAL_BIN:-${CARGO_TARGET_DIR:-target}/release/voxdial}"
port="${PORT:-18089}"
dir="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

# distinct valid US numbers, with a name, consent and a custom field
python3 - "$rows" > "$dir/leads.csv" <<'PY'
import sys
rows = int(sys.argv[1])
areas = ["212", "617", "415", "206"]
out = sys.stdout
out.write("phone,name,consent,plan\n")
for i in range(rows):
    area, local = areas[(i // 8_000_000) % 4], i % 8_000_000
    out.write(f"+1{area}{200 + local // 10_000}{local % 10_000:04d},Lead {i},yes,gold\n")
PY

"$bin" serve --simulate --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 600); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $(cat "$dir/data/admin.key")"
rss() { awk -v f="$1" '$1 == f":" { printf "%d", $2 / 1024 }' "/proc/$server/status"; }
field() { python3 -c "import json,sys; v=json.load(sys.stdin); print(eval('v' + sys.argv[1]))" "$1"; }

campaign="$(curl -sf -H "$auth" -d '{"name":"bench"}' -H 'content-type: application/json' "$base/v1/campaigns" | field '["id"]')"
created="$(curl -sf -H "$auth" -X POST "$base/v1/campaigns/$campaign/imports")"
import="$(echo "$created" | field '["import"]["id"]')"
url="$(echo "$created" | field '["upload_url"]')"
before="$(rss VmRSS)"
start="$(date +%s.%N)"
curl -sf -T "$dir/leads.csv" "$url" >/dev/null
curl -sf -H "$auth" -X POST "$base/v1/campaigns/$campaign/imports/$import/start" >/dev/null
while :; do
    view="$(curl -sf -H "$auth" "$base/v1/campaigns/$campaign/imports/$import")"
    status="$(echo "$view" | field '["status"]')"
    [ "$status" = done ] || [ "$status" = failed ] && break
    sleep 0.2
done
end="$(date +%s.%N)"
echo "$view" | field '["progress"]'
printf 'rows %s: %s, %.1f s from upload to done; server RSS %s MiB before, peak %s MiB (file %s MiB)\n' \
    "$rows" "$status" "$(echo "$end - $start" | bc)" "$before" "$(rss VmHWM)" \
    "$(( $(stat -c %s "$dir/leads.csv") / 1048576 ))"
