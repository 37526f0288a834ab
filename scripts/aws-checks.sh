#!/usr/bin/env bash
# The AWS checks, in the order CI runs them:
#   lint      cfn-lint and sam validate --lint on infra/template.yaml
#   test      the AWS adapters' contract suites, the Lambda handler tests and
#             the end-to-end campaign on moto (CI=true makes a missing moto a failure)
#   package   cargo lambda build --release --arm64 of the functions, with sizes
#   coldstart the init time of each function against a local Runtime API stub
# Usage: scripts/aws-checks.sh [lint|test|package|coldstart|all]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash scripts/aws-test-env.sh)"
export PATH="$bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-ap-south-1}"
target="${CARGO_TARGET_DIR:-target}"
packages=(-p voxdial-aws -p voxdial-runtime -p voxdial-lambda -p voxdial-tests -p media-bridge -p status-callback -p answer -p api -p dispatcher -p sweeper -p recording -p transcriber)
functions=(status-callback answer api dispatcher sweeper recording transcriber)

lint() {
    cfn-lint infra/template.yaml
    sam validate --lint --template infra/template.yaml
}

tests() {
    cargo test "${packages[@]}" --features voxdial-aws/testing
}

package() {
    rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
    local args=()
    for f in "${@:-${functions[@]}}"; do args+=(-p "$f"); done
    CARGO_TARGET_DIR="${LAMBDA_TARGET_DIR:-target-lambda}" \
        cargo lambda build --release --arm64 --output-format zip "${args[@]}"
    for f in "${@:-${functions[@]}}"; do
        local dir="${LAMBDA_TARGET_DIR:-target-lambda}/lambda/$f"
        printf '%-16s zip %8s bytes\n' "$f" "$(stat -c %s "$dir/bootstrap.zip")"
    done
}

coldstart() {
    python3 scripts/lambda-init-time.py "${LAMBDA_TARGET_DIR:-target-lambda}" "${functions[@]}"
}

case "${1:-all}" in
    lint) lint ;;
    test) tests ;;
    package) shift; package "$@" ;;
    coldstart) coldstart ;;
    all) lint; tests; package dispatcher ;;
    *) echo "usage: $0 [lint|test|package|coldstart|all]" >&2; exit 2 ;;
esac
