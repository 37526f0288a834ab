#!/usr/bin/env bash
# The benchmark runner: every figure of the README's benchmark table, in one
# run on one machine, the anchors (pipecat's per-frame path) measured in the
# same run.
#
# Usage: scripts/bench.sh [--quick] [--only ID[,ID…]] [--update-readme] [--list]
#   --quick          small sizes: the whole run takes about 15 minutes on a
#                    2-core machine (the default sizes are the README's)
#   --only IDS       run only these benchmarks (ids: --list)
#   --update-readme  replace the README's table (between the bench-table
#                    markers) with this run's
#
# It builds every binary it runs once (release profile, one cargo command),
# then runs each benchmark with its output in bench-results/<stamp>/<id>.log
# and writes bench-results/<stamp>.json (machine, load average before and
# after, git revision, rustc, and per benchmark: the command to rerun it, the
# exact command run, the figures parsed from its output, the target, met or
# not) and bench-results/<stamp>.md (the table). Not a test: never in CI.
#
# Needs jq and python3. Optional, each skipped with a note when missing:
# the pipecat venv (~/.cache/pipecat-venv, see ../shared/anchors/README.md)
# for the anchor, the AWS tools venv (~/.cache/voxdial-venv, made by
# scripts/aws-test-env.sh) for the Lambda init time, curl and bc for the
# import through the upload route.
# The $a, $b… in single quotes are jq's variables (see check), not the shell's:
# shellcheck disable=SC2016
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

quick=false
update_readme=false
only=""
all_ids=(callback_load engine engine_recording call_analysis bridge_load path_vs_pipecat amd routing
    csv_import csv_upload analytics lambda_init hostile_rss)

usage() { sed -n '2,/^# The \$a/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ "$#" -gt 0 ]; do
    case "$1" in
        --quick) quick=true ;;
        --update-readme) update_readme=true ;;
        --only) only="${2:?--only needs ids}"; shift ;;
        --list) printf '%s\n' "${all_ids[@]}"; exit 0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if $update_readme && [ -n "$only" ]; then
    echo "--update-readme writes the whole table: not with --only" >&2
    exit 2
fi

for tool in jq python3; do
    command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done

selected() {
    [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]
}

if [ -n "$only" ]; then
    for id in ${only//,/ }; do
        [[ " ${all_ids[*]} " == *" $id "* ]] || { echo "unknown benchmark $id (see --list)" >&2; exit 2; }
    done
fi

# Sizes: quick, then the README's (full).
if $quick; then
    mode=quick
    callback_env=(VOXDIAL_BENCH_CAMPAIGNS=2 VOXDIAL_BENCH_CALLS=1000 VOXDIAL_BENCH_WORKERS=32)
    engine_args=(--leads 5000 --concurrency 50 --time-scale 20000)
    bridge_sizes=(200)
    bridge_secs=10
    path_args=(50000 1)
    routing_args=(--warm-up-time 1 --measurement-time 3)
    csv_rows=100000
    lambda_functions=(status-callback)
else
    mode=full
    callback_env=(VOXDIAL_BENCH_CAMPAIGNS=10 VOXDIAL_BENCH_CALLS=1000 VOXDIAL_BENCH_WORKERS=32)
    engine_args=(--leads 100000 --concurrency 50 --time-scale 5000 --timeout-secs 1500)
    bridge_sizes=(500 2000)
    bridge_secs=20
    path_args=(200000 5)
    routing_args=()
    csv_rows=1000000
    lambda_functions=(status-callback answer api dispatcher sweeper recording transcriber)
fi

stamp="$(date -u +%Y-%m-%dT%H%M%SZ)"
results="$root/bench-results"
logs="$results/$stamp"
rows="$logs/rows.ndjson"
mkdir -p "$logs"
: >"$rows"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before="$(loadavg)"

# ---------------------------------------------------------------- build once
build=(cargo build --release
    -p voxdial --bin voxdial --bench callback_load
    -p voxdial-bridge --example load --example hostile_rss
    -p voxdial-conversation --example path_vs_pipecat
    -p voxdial-media --example amd_eval
    -p voxdial-routing --bench routing
    -p voxdial-local --example csv_import_memory
    -p voxdial-tests --example analytics_bench)
if selected lambda_init; then
    for f in "${lambda_functions[@]}"; do build+=(-p "$f" --bin "$f"); done
fi
echo "== build: ${build[*]}"
"${build[@]}" --message-format=json-render-diagnostics >"$logs/build.json" 2>"$logs/build.log" || {
    tail -n 30 "$logs/build.log" >&2
    exit 1
}
# The executable of a target (bench binaries carry a hash in their name).
exe() {
    jq -r --arg name "$1" 'select(.reason == "compiler-artifact" and .executable != null
        and .target.name == $name) | .executable' "$logs/build.json" | tail -n 1
}

# ---------------------------------------------------------------- running
# run ID TIMEOUT_SECS [VAR=VALUE…] COMMAND…: runs one benchmark, output to
# its log; records the exact command line, wall time, status and the load.
# The time limit only guards against a hang (no figure depends on it).
ran="" status="" wall="" log=""
run() {
    local id="$1" limit="$2"
    shift 2
    log="$logs/$id.log"
    ran="$(printf '%q ' "$@")"
    ran="${ran% }"
    echo "== $id: $ran" >&2
    local started load
    load="$(loadavg)"
    started="$(date +%s.%N)"
    if timeout --kill-after=30 "$limit" env "$@" >"$log" 2>&1 </dev/null; then
        status=ok
    else
        status=failed
    fi
    wall="$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
    printf 'load average before %s, after %s\n' "$load" "$(loadavg)" >>"$log"
    [ "$status" = ok ] || tail -n 5 "$log" >&2
}

# row ID WHAT RERUN FIGURE TARGET MET VALUES_JSON [NOTE]: one table row.
# MET is true, false or null (no target, or not at the target's size); the
# command run and its log are the last run's.
row() {
    jq -cn --arg id "$1" --arg what "$2" --arg command "$3" --arg ran "$ran" \
        --arg figure "$4" --arg target "$5" --arg met "$6" --arg values "$7" \
        --arg note "${8:-}" --arg status "$status" --arg wall "$wall" \
        --arg log "${log#"$root"/}" \
        '{id: $id, what: $what, command: $command, ran: $ran, status: $status,
          wall_secs: ($wall | tonumber? // null), figure: $figure, target: $target,
          met: (try ($met | fromjson) catch null), values: ($values | fromjson? // {}), note: $note,
          log: $log}' >>"$rows"
}

# skipped ID WHAT RERUN TARGET REASON: a row for a benchmark not run.
skipped() {
    ran="" status=skipped wall="" log=""
    row "$1" "$2" "$3" "not measured: $5" "$4" null '{}'
}

# The first number after a Perl regex (\K marks where it starts) in a log.
num() {
    grep -oP "$1\K-?[0-9.]+" "$2" | head -n 1 || true
}

# A number or JSON null.
n() { if [[ "$1" =~ ^-?[0-9.]+$ ]]; then echo "$1"; else echo null; fi; }

# jq over a JSON value (numbers as arguments $a, $b, …): a boolean or null.
check() {
    local expr="$1"
    shift
    local args=() names=(a b c d e f g h)
    local i=0
    for v in "$@"; do
        args+=(--argjson "${names[$i]}" "$(n "$v")")
        i=$((i + 1))
    done
    jq -n "${args[@]}" "if [$(printf '$%s,' "${names[@]:0:$#}" | sed 's/,$//')] | any(. == null) then null else ($expr) end"
}

# ---------------------------------------------------------------- benchmarks
bench_callback_load() {
    local what="status callbacks on \`voxdial serve\` (signed, each sent twice, separate load process on loopback)"
    run callback_load 1200 "${callback_env[@]}" "$(exe callback_load)"
    local rate p50 p99 failures anchor anchor_p99 ratio
    rate="$(num '^status callbacks: .*?s = ' "$log")"
    p50="$(num '^status callbacks: .*? p50 ' "$log")"
    p99="$(num '^status callbacks: .*? p99 ' "$log")"
    failures="$(num '^status callbacks: .*? failures ' "$log")"
    anchor="$(num '^anchor .*?s = ' "$log")"
    anchor_p99="$(num '^anchor .*? p99 ' "$log")"
    ratio="$(num '^voxdial / anchor: ' "$log")"
    row callback_load "$what" "${callback_env[*]} cargo bench -p voxdial --bench callback_load" \
        "$(printf '%.0f/s, p50 %s ms, p99 %s ms, %s failures (%s connections); anchor, a bare signed-webhook server under the same load: %.0f/s, p99 %s ms (voxdial %s× its rate)' \
            "${rate:-0}" "$p50" "$p99" "$failures" "${callback_env[2]#*=}" "${anchor:-0}" "$anchor_p99" "$ratio")" \
        "≥ 15,000/s, p99 < 5 ms" "$(check '$a >= 15000 and $b < 5 and $c == 0' "$rate" "$p99" "$failures")" \
        "$(jq -cn --argjson r "$(n "$rate")" --argjson p50 "$(n "$p50")" --argjson p99 "$(n "$p99")" \
            --argjson f "$(n "$failures")" --argjson a "$(n "$anchor")" --argjson ap "$(n "$anchor_p99")" \
            --argjson x "$(n "$ratio")" \
            '{per_sec: $r, p50_ms: $p50, p99_ms: $p99, failures: $f, anchor_per_sec: $a, anchor_p99_ms: $ap, ratio_to_anchor: $x}')"
}

# demo ID [VAR=VALUE…] ARGS…: `voxdial demo … --json`; its JSON (the last
# line) in $summary, null when there is none.
summary=null
demo() {
    local id="$1"
    shift
    run "$id" 1800 "$@" --json
    summary="$(grep '^{' "$log" | tail -n 1 | jq -c . 2>/dev/null)"
    summary="${summary:-null}"
}

bench_engine() {
    local args=("${engine_args[@]}" --no-media --recording off) leads
    demo engine "$(exe voxdial)" demo "${args[@]}"
    leads="${engine_args[1]}"
    local s='.wall_secs, .peak_rss_mb, .cpu.engine_ms_per_call, .cpu.carrier_ms_per_call, .calls_placed, .invariants_hold, .post_call.latency_ms_p95'
    local wall_s rss engine_ms carrier_ms calls inv p95
    read -r wall_s rss engine_ms carrier_ms calls inv p95 < <(jq -r "[$s] | map(tostring) | join(\" \")" <<<"$summary")
    local scale_met=null note=""
    if [ "$leads" = 100000 ]; then
        scale_met="$(check '$a < 60 and $b < 200 and $c == 1' "$wall_s" "$rss" "$([ "$inv" = true ] && echo 1 || echo 0)")"
    else
        note="the target is for 100,000 leads"
    fi
    row engine "engine scale, $leads leads, cap 50, no media, recording off" \
        "cargo run --release -p voxdial -- demo ${args[*]} --json" \
        "$(printf '%.0f s wall, %.0f MB peak RSS, %s calls, invariants hold: %s' "${wall_s/null/0}" "${rss/null/0}" "$calls" "$inv")" \
        "100,000 leads < 60 s, < 200 MB" "$scale_met" "$summary" "$note"
    row engine_cpu "engine CPU per call, simulated carrier apart (\`cpu\` and \`post_call.latency_ms_p95\` in the JSON; same run)" \
        "cargo run --release -p voxdial -- demo ${args[*]} --json" \
        "$(printf 'engine %.2f ms per call (carrier %.2f ms); p95 call end → analysis %s ms simulated' "${engine_ms/null/nan}" "${carrier_ms/null/nan}" "$p95")" \
        "≤ 0.3 ms per call; p95 ≤ 60,000 ms simulated" "$(check '$a <= 0.3 and $b <= 60000' "$engine_ms" "$p95")" \
        "$(jq -c '{cpu, post_call}' <<<"$summary")"
}

bench_engine_recording() {
    local what="the same with recording on (the default)" args=("${engine_args[@]}" --no-media)
    local rerun="cargo run --release -p voxdial -- demo ${args[*]} --json"
    if $quick; then
        skipped engine_recording "$what" "$rerun" "" "full size only"
        return
    fi
    demo engine_recording "$(exe voxdial)" demo "${args[@]}"
    row engine_recording "$what" "$rerun" \
        "$(jq -r '"\(.wall_secs | floor) s wall, \(.peak_rss_mb // 0 | floor) MB; analysed \(.post_call.analyses) of \(.post_call.answered_calls) answered calls; invariants hold: \(.invariants_hold)"' <<<"$summary" 2>/dev/null || echo "no summary")" \
        "" null "$summary"
}

bench_call_analysis() {
    local what="call end → analysis (simulated transcriber taking 1 s)" args=(--leads 20 --time-scale 10)
    local rerun="VOXDIAL_TRANSCRIBER_DELAY_MS=1000 cargo run --release -p voxdial -- demo ${args[*]} --json"
    if $quick; then
        skipped call_analysis "$what" "$rerun" "" "full size only"
        return
    fi
    demo call_analysis VOXDIAL_TRANSCRIBER_DELAY_MS=1000 "$(exe voxdial)" demo "${args[@]}"
    local p50
    p50="$(jq -r '.post_call.latency_ms_p50 // empty' <<<"$summary" 2>/dev/null || true)"
    row call_analysis "$what" "$rerun" \
        "$(printf 'p50 %s ms simulated (%s s real at ×10)' "${p50:-?}" "$(jq -n "${p50:-null} / 10000" 2>/dev/null)")" \
        "" null "$(jq -c '.post_call // {}' <<<"$summary" 2>/dev/null || echo '{}')"
}

bench_bridge_load() {
    local calls
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
    for calls in "${bridge_sizes[@]}"; do
        local id="bridge_load_$calls"
        run "$id" 600 "$(exe load)" "$calls" "$bridge_secs" 40 multi record
        local in99 out99 kib us failed
        in99="$(num 'caller->model wall .*? p99=' "$log")"
        out99="$(num 'model->caller wall .*? p99=' "$log")"
        kib="$(num 'per call ' "$log")"
        us="$(grep -oP '\(\K[0-9.]+(?= µs per call-second)' "$log" | head -n 1 || true)"
        failed="$(num 'failed=' "$log")"
        local met note=""
        met="$(check '$a <= 400 and $b <= 128 and $c < 5 and $d < 5 and $e == 0' "$us" "$kib" "$in99" "$out99" "$failed")"
        if [ "$calls" -lt 2000 ] && [ "$met" = true ]; then
            met=null note="the target is for 2,000 calls"
        fi
        row "$id" "bridge under load, $calls calls, recording on (bridge in its own process; callers and simulated Gemini in the other)" \
            "cargo build --release -p voxdial-bridge --example load && target/release/examples/load $calls $bridge_secs 40 multi record" \
            "$(printf '%s µs bridge CPU per call-second, %s KiB per live call, p99 added latency %s ms in / %s ms out, %s calls failed' "$us" "$kib" "$in99" "$out99" "$failed")" \
            "≥ 2,000 calls at p99 < 5 ms, ≤ 400 µs per call-second, ≤ 128 KiB per call" "$met" \
            "$(jq -cn --argjson us "$(n "$us")" --argjson kib "$(n "$kib")" --argjson i "$(n "$in99")" \
                --argjson o "$(n "$out99")" --argjson f "$(n "$failed")" --argjson c "$calls" \
                '{calls: $c, us_per_call_second: $us, kib_per_call: $kib, p99_in_ms: $i, p99_out_ms: $o, failed: $f}')" "$note"
    done
}

bench_path_vs_pipecat() {
    local python="$HOME/.cache/pipecat-venv/bin/python"
    run path_vs_pipecat 1800 "$(exe path_vs_pipecat)" "${path_args[@]}" "$python"
    local values
    # "  Inbound streams=1: pipecat 17000/s | voxdial 300000/s = 17.6x (…)"
    values="$(grep -P '^  (Inbound|Outbound) streams=' "$log" | sed -E \
        's/^  ([A-Za-z]+) streams=([0-9]+): pipecat ([^/]+)\/s \| voxdial ([^/]+)\/s = ([^x]+)x.*with core ([^/]+)\/s = ([^x]+)x.*/\1 \2 \3 \4 \5 \6 \7/' |
        jq -Rsc 'split("\n") | map(select(length > 0) | split(" ")
            | {dir: .[0], streams: (.[1] | tonumber), pipecat_per_s: (.[2] | tonumber? // null),
               voxdial_per_s: (.[3] | tonumber? // null), ratio: (.[4] | tonumber? // null),
               with_core_per_s: (.[5] | tonumber? // null), with_core_ratio: (.[6] | tonumber? // null)})')"
    local figure met note=""
    figure="$(jq -r 'map("\(.dir | ascii_downcase) \(.streams) stream\(if .streams > 1 then "s" else "" end) \(.ratio // "?")×") | join(", ")' <<<"$values")"
    met="$(jq 'if length == 0 or any(.ratio == null) then null else all(.ratio >= 30) end' <<<"$values")"
    if [ ! -x "$python" ]; then
        note="anchor not run: no $python (see ../shared/anchors/README.md)"
    fi
    row path_vs_pipecat "audio path per 20 ms frame vs pipecat 1.14, measured side by side (ratio of medians: voxdial units/s over pipecat's)" \
        "cargo run --release -p voxdial-conversation --example path_vs_pipecat ${path_args[*]}" \
        "${figure:-no figures} faster" "30×" "$met" "$values" "$note"
}

bench_amd() {
    run amd 900 "$(exe amd_eval)"
    local h_as_m caught p50 p90
    h_as_m="$(num 'humans called machine: ' "$log")"
    caught="$(num 'machines caught: ' "$log")"
    p50="$(num '^  human +p50 +' "$log")"
    p90="$(num '^  human +p50 +[0-9]+ ms +p90 +' "$log")"
    row amd "AMD, 400 synthetic clips, seed 7 (varied voices, noise, echo, lost packets, μ-law, carrier prompts)" \
        "cargo run --release -p voxdial-media --example amd_eval" \
        "$(printf '%s %% humans called machines, %s %% machines caught; a person hears the agent p50 %s ms, p90 %s ms after their first sound' "$h_as_m" "$caught" "$p50" "$p90")" \
        "≤ 0.5 %, ≥ 98 %, human p50 ≤ 1 s, p90 ≤ 1.5 s" \
        "$(check '$a <= 0.5 and $b >= 98 and $c <= 1000 and $d <= 1500' "$h_as_m" "$caught" "$p50" "$p90")" \
        "$(jq -cn --argjson a "$(n "$h_as_m")" --argjson b "$(n "$caught")" --argjson c "$(n "$p50")" --argjson d "$(n "$p90")" \
            '{humans_called_machine_pct: $a, machines_caught_pct: $b, human_p50_ms: $c, human_p90_ms: $d}')"
}

bench_routing() {
    local home="$logs/criterion"
    run routing 900 CRITERION_HOME="$home" "$(exe routing)" --bench "${routing_args[@]}"
    local values
    values="$(for b in plan_hybrid_10x1000 plan_mixed_strategies_10x1000; do
        jq -c --arg b "$b" '{($b): (.median.point_estimate / 1000)}' "$home/routing/$b/new/estimates.json" 2>/dev/null
    done | jq -sc 'add // {}')"
    row routing "routing decision (10 providers × 1,000 rate prefixes; median of \`plan\`)" \
        "cargo bench -p voxdial-routing --bench routing${routing_args[*]:+ -- ${routing_args[*]}}" \
        "$(jq -r 'to_entries | map("\(.key | sub("_10x1000"; "")) \(.value * 100 | round / 100) µs") | join(", ")' <<<"$values")" \
        "< 5 µs" "$(jq 'if length == 0 then null else all(.[]; . < 5) end' <<<"$values")" \
        "$(jq -c 'with_entries(.key += "_us")' <<<"$values")"
}

bench_csv_import() {
    run csv_import 1800 "$(exe csv_import_memory)" "$csv_rows"
    local secs peak plus
    secs="$(grep -oP '; \K[0-9.]+(?= s;)' "$log" | head -n 1 || true)"
    peak="$(num 'peak ' "$log")"
    plus="$(num 'peak [0-9]+ MiB \(\+' "$log")"
    row csv_import "CSV import, streamed in batches of 1000 (local SQLite engine; the file held in memory, as the HTTP body is)" \
        "cargo run --release -p voxdial-local --example csv_import_memory -- $csv_rows" \
        "$(printf '%s rows: %s s, peak RSS %s MiB (+%s MiB over the process with the file)' "$csv_rows" "$secs" "$peak" "$plus")" \
        "1,000,000 rows < 150 MB" "$(check '$a < 150' "$peak")" \
        "$(jq -cn --argjson r "$csv_rows" --argjson s "$(n "$secs")" --argjson p "$(n "$peak")" --argjson d "$(n "$plus")" \
            '{rows: $r, secs: $s, peak_rss_mib: $p, over_file_mib: $d}')"
}

bench_csv_upload() {
    local what="CSV import through the upload route on \`voxdial serve\` (presigned \`PUT\`, then the background job reading the file by 4 MiB ranges)"
    local rerun="cargo build --release -p voxdial && scripts/import-bench.sh $csv_rows"
    if ! command -v curl >/dev/null || ! command -v bc >/dev/null; then
        skipped csv_upload "$what" "$rerun" "1,000,000 rows < 150 MB" "curl or bc missing"
        return
    fi
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    run csv_upload 1800 VOXDIAL_BIN="$(exe voxdial)" PORT="$port" bash scripts/import-bench.sh "$csv_rows"
    local secs before peak
    secs="$(grep -oP ', \K[0-9.]+(?= s from upload)' "$log" | head -n 1 || true)"
    before="$(num 'RSS ' "$log")"
    peak="$(num 'peak ' "$log")"
    row csv_upload "$what" "$rerun" \
        "$(printf '%s rows: %s s from upload to done, server RSS %s MiB before, %s MiB peak' "$csv_rows" "$secs" "$before" "$peak")" \
        "1,000,000 rows < 150 MB" "$(check '$a < 150' "$peak")" \
        "$(jq -cn --argjson r "$csv_rows" --argjson s "$(n "$secs")" --argjson b "$(n "$before")" --argjson p "$(n "$peak")" \
            '{rows: $r, secs: $s, rss_before_mib: $b, peak_rss_mib: $p}')"
}

# A Rust `Duration` printed with `{:.1?}` ("114.0ms", "900.3µs", "1.2s") in ms.
to_ms() {
    jq -rn --arg d "${1/µs/us}" '(try (($d | capture("^(?<v>[0-9.]+)(?<u>[^0-9.]+)$")) as $c
        | ($c.v | tonumber) * {"ns": 0.000001, "us": 0.001, "ms": 1, "s": 1000}[$c.u]) catch null) // null'
}

bench_analytics() {
    run analytics 1800 "$(exe analytics_bench)" local
    local values
    # "all, hour buckets, 90 days   2160 calls  median 114.0ms  p95 161.0ms  max 185.0ms"
    values="$(grep -P 'median .* p95 .* max ' "$log" | while IFS= read -r line; do
        local name median p95
        name="$(sed -E 's/ +[0-9]+ calls +median.*//' <<<"$line")"
        median="$(to_ms "$(grep -oP 'median +\K[^ ]+' <<<"$line")")"
        p95="$(to_ms "$(grep -oP 'p95 +\K[^ ]+' <<<"$line")")"
        jq -cn --arg q "$name" --argjson m "$median" --argjson p "$p95" '{query: $q, median_ms: $m, p95_ms: $p}'
    done | jq -sc .)"
    row analytics "analytics query over 1,000,000 calls (90 days, 10 campaigns), local store (SQLite); \`Engine::analytics\` plus JSON encoding" \
        "cargo run --release -p voxdial-tests --example analytics_bench -- local" \
        "$(jq -r 'map("\(.query): \(.median_ms // "?") ms median (p95 \(.p95_ms // "?"))") | join("; ")' <<<"$values")" \
        "< 200 ms" "$(jq 'if length == 0 or any(.p95_ms == null) then null else all(.p95_ms < 200) end' <<<"$values")" \
        "$values" "DynamoDB (moto) not run: seeding through moto takes hours"
}

bench_lambda_init() {
    local what="Lambda cold start (init: spawn to the first \`/next\`, native build against a Runtime API stub and moto)"
    local python="$HOME/.cache/voxdial-venv/bin/python"
    local rerun="scripts/aws-checks.sh coldstart"
    if [ ! -x "$python" ] || ! "$python" -c 'import boto3' 2>/dev/null || [ ! -x "$HOME/.cache/voxdial-venv/bin/moto_server" ]; then
        skipped lambda_init "$what" "$rerun" "" "no moto and boto3 in ~/.cache/voxdial-venv (scripts/aws-test-env.sh installs them)"
        return
    fi
    local dir="$logs/lambda"
    mkdir -p "$dir"
    for f in "${lambda_functions[@]}"; do ln -sf "$(exe "$f")" "$dir/$f"; done
    run lambda_init 600 "$python" scripts/lambda-init-time.py "$dir" "${lambda_functions[@]}"
    local values
    values="$(awk 'NR > 1 && NF == 3 { printf "{\"function\":\"%s\",\"median_ms\":%s,\"max_ms\":%s}\n", $1, $2, $3 }' \
        "$logs/lambda_init.log" | jq -sc .)"
    row lambda_init "$what" "$rerun" \
        "$(jq -r 'map("\(.function) \(.median_ms) ms") | join(", ") | if . == "" then "no figures" else . + " (median of 5)" end' <<<"$values")" \
        "" null "$values" "native x86-64 release build, not the arm64 package"
}

bench_hostile_rss() {
    run hostile_rss 600 "$(exe hostile_rss)" 8 60
    local idle peak closed
    idle="$(num 'idle ' "$log")"
    peak="$(num 'peak ' "$log")"
    closed="$(grep -c 'close code Some(1009)' "$log" || true)"
    row hostile_rss "media bridge RSS under 8 hostile sockets each sending a 60 MiB fragmented message (bridge in its own process)" \
        "cargo run --release -p voxdial-bridge --example hostile_rss" \
        "$(printf '%s of 8 sockets closed with 1009; RSS %s MiB idle, %s MiB peak' "$closed" "$idle" "$peak")" \
        "flat (peak ≤ idle + 16 MiB, every socket closed with 1009)" \
        "$(check '$a == 8 and $c <= $b + 16' "$closed" "$idle" "$peak")" \
        "$(jq -cn --argjson c "$(n "$closed")" --argjson i "$(n "$idle")" --argjson p "$(n "$peak")" \
            '{closed_1009: $c, idle_mib: $i, peak_mib: $p}')"
}

for id in "${all_ids[@]}"; do
    selected "$id" || continue
    "bench_$id" || echo "== $id: could not be parsed (see $logs/$id.log)" >&2
done

# ---------------------------------------------------------------- report
load_after="$(loadavg)"
rev="$(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!bench-results' || echo -dirty)"
json="$results/$stamp.json"
jq -s --arg stamp "$stamp" --arg mode "$mode" --arg rev "$rev" --arg rustc "$(rustc -V)" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
    --argjson cores "$(nproc)" --arg mem "$(free -g | awk '/^Mem:/ { print $2 " GiB" }')" \
    --arg kernel "$(uname -r)" --arg before "$load_before" --arg after "$load_after" \
    --arg build "${build[*]}" \
    '{date: $stamp, mode: $mode, git_rev: $rev, rustc: $rustc,
      machine: {cores: $cores, cpu: $cpu, memory: $mem, kernel: $kernel},
      loadavg_before: $before, loadavg_after: $after, build: $build, results: .}' "$rows" >"$json"

table() {
    jq -r '
      def cell: tostring | gsub("\\|"; "\\|") | gsub("\n"; " ");
      "| what | command | figure | target | met? |",
      "|---|---|---|---|---|",
      (.results[] | "| \(.what | cell) | `\(.command | cell)` | \(.figure | cell)\(if .note != "" then " (\(.note | cell))" else "" end) | \(.target | cell) | \(
        if .status == "skipped" then "—" elif .status == "failed" then "failed" elif .met == true then "yes"
        elif .met == false then "no" else "—" end) |")' "$json"
}

md="$results/$stamp.md"
{
    jq -r '"Run \(.date) (\(.mode)), git \(.git_rev), \(.rustc); \(.machine.cores) cores (\(.machine.cpu)), \(.machine.memory); load average \(.loadavg_before) before, \(.loadavg_after) after. Rerun: `scripts/bench.sh\(if .mode == "quick" then " --quick" else "" end)`."' "$json"
    echo
    table
} >"$md"
cat "$md"
echo
echo "results: ${json#"$root"/}, ${md#"$root"/}, logs in ${logs#"$root"/}/"

if $update_readme; then
    begin='<!-- bench-table:begin (scripts/bench.sh --update-readme writes this table) -->'
    end='<!-- bench-table:end -->'
    if ! grep -qF "$begin" README.md || ! grep -qF "$end" README.md; then
        echo "README.md has no bench-table markers" >&2
        exit 1
    fi
    awk -v begin="$begin" -v end="$end" -v table="$md" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip' README.md >README.md.new
    mv README.md.new README.md
    echo "README.md: benchmark table replaced"
fi
