#!/usr/bin/env bash
# Builds the media bridge image for arm64 Fargate without emulation and
# pushes it to the stack's ECR repository, then prints the image URI to
# deploy with (MediaBridgeImage).
#
#   1. cargo lambda build --release --arm64 -p media-bridge: a native
#      cross-compile (cargo-lambda links with zig, for glibc 2.26+);
#   2. infra/media-bridge.Dockerfile only COPYs that binary onto the arm64
#      distroless base: buildx runs no step under QEMU;
#   3. docker login to ECR, push, print the URI.
#
# Usage: scripts/build-bridge-image.sh [--env dev|prod] [--repository URI] [--tag TAG] [--no-push]
#   --env         the samconfig.toml environment whose stack holds the
#                 repository (its MediaBridgeRepositoryUri output); default dev
#   --repository  the ECR repository URI instead of the stack's
#   --tag         the image tag (default: the commit, -dirty if the tree is)
#   --no-push     build and load the image locally only
# Needs: the venv of scripts/aws-test-env.sh (cargo-lambda, zig), the
# aarch64-unknown-linux-gnu Rust target, Docker with buildx, the AWS CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

env=dev repository="" tag="" push=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --env) env="$2"; shift 2 ;;
        --repository) repository="$2"; shift 2 ;;
        --tag) tag="$2"; shift 2 ;;
        --no-push) push=0; shift ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done

docker buildx version >/dev/null 2>&1 || {
    echo "docker buildx is required (the docker-buildx plugin)" >&2
    exit 1
}

stack="voxdial-$env"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-ap-south-1}}"
if [[ -z "$repository" && "$push" == 1 ]]; then
    repository=$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='MediaBridgeRepositoryUri'].OutputValue" --output text)
    [[ -n "$repository" && "$repository" != None ]] || {
        echo "stack $stack has no MediaBridgeRepositoryUri output: deploy it once first (sam deploy --config-env $env)" >&2
        exit 1
    }
fi
repository="${repository:-voxdial-media-bridge}"
if [[ -z "$tag" ]]; then
    tag=$(git rev-parse --short=12 HEAD)
    git diff --quiet HEAD || tag="$tag-dirty"
fi
image="$repository:$tag"

# 1. The binary, cross-compiled on the host.
venv_bin=$(bash scripts/aws-test-env.sh)
export PATH="$venv_bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null
target_dir="${LAMBDA_TARGET_DIR:-target-lambda}"
CARGO_TARGET_DIR="$target_dir" cargo lambda build --release --arm64 --locked -p media-bridge
# cargo-lambda moves each binary to <target>/lambda/<name>/bootstrap.
binary="$target_dir/lambda/media-bridge/bootstrap"
# ELF e_machine (bytes 18-19) 0xb7: AArch64.
[[ "$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' ')" == b700 ]] || {
    echo "$binary is not an arm64 binary" >&2
    exit 1
}

# 2. The image: a build context holding only the binary.
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/media-bridge"
if [[ "$push" == 1 ]]; then
    aws ecr get-login-password --region "$region" |
        docker login --username AWS --password-stdin "${repository%%/*}"
    output=--push
else
    output=--load
fi
# One platform, no attestation manifests: ECR keeps a plain image that
# Fargate pulls for ARM64.
docker buildx build --platform linux/arm64 --provenance=false \
    -f infra/media-bridge.Dockerfile -t "$image" "$output" "$context"

# 3. What to deploy.
echo "$image"
if [[ "$push" == 1 ]]; then
    # A --parameter-overrides on sam's command line replaces samconfig's list.
    echo "set MediaBridgeImage=$image in [$env.deploy.parameters] parameter_overrides of samconfig.toml, then: sam deploy --config-env $env" >&2
fi
