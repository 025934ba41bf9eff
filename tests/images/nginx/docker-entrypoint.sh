#!/bin/sh
# The official nginx image's interface: `nginx -g 'daemon off;'` reading
# /etc/nginx/nginx.conf; any other command runs as given.
set -eu
if [ "${1:-}" = nginx ]; then
	# nginx opens its compiled-in error log before reading nginx.conf.
	mkdir -p /var/log/nginx /var/lib/nginx
	ln -sf /dev/stderr /var/log/nginx/error.log
	ln -sf /dev/stdout /var/log/nginx/access.log
fi
exec "$@"
