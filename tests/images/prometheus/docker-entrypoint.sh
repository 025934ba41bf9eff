#!/bin/sh
# The official prom/prometheus image's interface: the arguments are
# prometheus's flags (the image's entrypoint is the binary), it runs as
# nobody and keeps its data in /prometheus. Debian's prometheus package
# provides the binary (2.42, flag-compatible with the flags Shipyard uses).
set -eu
mkdir -p /prometheus
chown 65534:65534 /prometheus
exec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/prometheus "$@"
