#!/bin/sh
# The official mtail image's interface: the arguments are mtail's flags.
# Debian bookworm's mtail (3.0.0~rc50) takes the same single-dash flags the
# stack passes (-progs, -logs, -port, -emit_prog_label, -logtostderr).
exec /usr/bin/mtail "$@"
