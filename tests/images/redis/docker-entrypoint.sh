#!/bin/sh
# The official redis image's interface: `redis-server [args]` (or just args
# starting with "-"), data in /data, runs as the redis user, and without a
# config file listens on every interface with protected mode off.
set -eu
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = redis-server ]; then
	case " $* " in
	*" --protected-mode "*) ;;
	*) shift; set -- redis-server --protected-mode no "$@" ;;
	esac
fi
exec "$@"
