#!/bin/sh
# The official nginx-prometheus-exporter image's interface: the arguments
# are the exporter's flags. Debian's prometheus-nginx-exporter (0.11) parses
# --nginx.scrape-uri=URL as 1.x does and exports the same metric names.
set -eu
exec /usr/bin/prometheus-nginx-exporter "$@"
