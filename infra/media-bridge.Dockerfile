# syntax=docker/dockerfile:1
# The media bridge image (functions/media-bridge) for the ECS Fargate
# service of infra/template.yaml (ARM64 tasks). Nothing is compiled or run
# here: scripts/build-bridge-image.sh cross-compiles the arm64 binary on the
# host (cargo-lambda's zig linker, no emulation) and passes a build context
# holding only that binary, so `docker buildx build --platform linux/arm64`
# just stacks one layer on the arm64 distroless base (no QEMU).
#
#   bash scripts/build-bridge-image.sh --env dev      # build, push, print the URI

# The spool directory recorded calls are written to while they last
# (RECORDING_DIR), owned by the unprivileged user: the task mounts task
# storage there (the root filesystem is read-only), and a Fargate bind
# mount takes the image directory's contents and ownership.
FROM busybox:1.37 AS spool
RUN mkdir -p /out/voxdial && touch /out/voxdial/.keep

# glibc and CA certificates only, as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --chmod=0755 media-bridge /usr/local/bin/media-bridge
COPY --from=spool --chown=nonroot:nonroot /out/ /var/spool/
VOLUME ["/var/spool/voxdial"]
USER nonroot:nonroot
# 8080: media streams and /healthz (the load balancer's target);
# 9090: Prometheus /metrics (inside the VPC only).
EXPOSE 8080 9090
ENV BIND_ADDR=0.0.0.0:8080 METRICS_ADDR=0.0.0.0:9090 RUST_LOG=info RECORDING_DIR=/var/spool/voxdial
# SIGTERM drains: no new streams, live calls end by themselves (DRAIN_SECS).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/media-bridge"]
