# Shipyard app image. No base image is pulled: the static binary and the CA
# bundle come from the build context, so this builds with no registry access.
#
#   make image        # = make build-linux, copy CA certs into bin/, docker build
#
# Needs in the context: bin/linux-amd64/app (CGO_ENABLED=0, -trimpath; see
# `make build-linux`), bin/ca-certificates.crt and the pinned Amazon RDS CA
# bundle, which the aws stacks' DATABASE_URL names as sslrootcert
# (app/internal/db/rdsca). For a self-contained multi-stage build with a
# golang builder stage see docs/app.md.
FROM scratch

COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY app/internal/db/rdsca/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
COPY bin/linux-amd64/app /app

# Non-root (the "nonroot" uid/gid of distroless). The app writes nothing to
# disk (logs go to stdout), so a read-only root filesystem works.
USER 65532:65532

ENV PORT=8080
EXPOSE 8080

# Probes http://127.0.0.1:$PORT/livez; works for serve, worker and clock.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/app", "healthcheck"]

ENTRYPOINT ["/app"]
CMD ["serve"]
