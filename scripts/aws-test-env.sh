#!/usr/bin/env bash
# Installs the tools of the AWS test suites and the deploy checks into one
# Python venv (~/.cache/voxdial-venv unless VOXDIAL_VENV says otherwise):
# moto[server] (the AWS API emulator the tests start on 127.0.0.1),
# cfn-lint and aws-sam-cli (template checks), cargo-lambda (ships zig).
# Idempotent: does nothing when every tool is there.
set -euo pipefail
venv="${VOXDIAL_VENV:-$HOME/.cache/voxdial-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
missing=()
for tool in moto_server cfn-lint sam cargo-lambda; do
    [ -x "$venv/bin/$tool" ] || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet 'moto[server]>=5.1' 'cfn-lint>=1.40' 'aws-sam-cli>=1.140' 'cargo-lambda>=1.8'
fi
echo "$venv/bin"
