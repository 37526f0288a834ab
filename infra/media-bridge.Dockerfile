# syntax=docker/dockerfile:1
# The media bridge container (functions/media-bridge), for the ECS Fargate
# service of infra/template.yaml (ARM64 tasks). Build from the repository root:
#
#   docker buildx build --platform linux/arm64 -f infra/media-bridge.Dockerfile \
#       -t <account>.dkr.ecr.<region>.amazonaws.com/voxdial-media-bridge:<tag> --push .
#
# then deploy with MediaBridgeImage=<that URI>.

# ---- build: the workspace's release profile, only the media-bridge package
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Manifests and sources of the whole workspace (members are globbed).
COPY Cargo.toml Cargo.lock ./
COPY shared ./shared
COPY functions ./functions
COPY tests ./tests
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p media-bridge \
 && install -D -m 0755 target/release/media-bridge /out/media-bridge

# ---- run: glibc and CA certificates only, as an unprivileged user
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/media-bridge /usr/local/bin/media-bridge
USER nonroot:nonroot
EXPOSE 8080
ENV BIND_ADDR=0.0.0.0:8080 RUST_LOG=info
# SIGTERM drains live calls (DRAIN_SECS), within ECS's stopTimeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/media-bridge"]
