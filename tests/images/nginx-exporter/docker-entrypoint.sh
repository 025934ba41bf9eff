#!/bin/sh
# The official nginx-prometheus-exporter image's interface: the arguments
# are the exporter's flags. Debian's prometheus-nginx-exporter (0.11) parses
# --nginx.scrape-uri=URL as 1.x does and exports the same metric names, but
# 0.11 exits when nginx does not answer at its start, where 1.x starts and
# reports nginx_up 0: like 1.x, this stand-in starts at once and waits for
# nginx (in the background of its own start) before handing over.
set -eu
uri=
for a in "$@"; do
	case $a in --nginx.scrape-uri=*) uri=${a#--nginx.scrape-uri=} ;; esac
done
if [ -n "$uri" ]; then
	i=0
	until wget -q -O /dev/null -T 2 "$uri" || [ $i -ge 300 ]; do
		i=$((i + 1))
		sleep 1
	done
fi
exec /usr/bin/prometheus-nginx-exporter "$@"
