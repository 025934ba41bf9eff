#!/usr/bin/env bash
# Removes every Docker object the test harness created (they carry the label
# dev.shipyard.harness.stack): `make test` runs it after the tests, so the
# local stack is torn down even when a test binary was killed (e.g. by
# go test's -timeout) before its own teardown ran.
set -euo pipefail
DOCKER=${DOCKER:-$(test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)}
label=dev.shipyard.harness.stack
"$DOCKER" info >/dev/null 2>&1 || exit 0
ids=$("$DOCKER" ps -aq --filter "label=$label")
if [[ -n $ids ]]; then
  echo "tests/cleanup.sh: removing leftover harness containers" >&2
  # shellcheck disable=SC2086
  "$DOCKER" rm -f -v $ids >/dev/null
fi
for kind in network volume; do
  ids=$("$DOCKER" "$kind" ls -q --filter "label=$label")
  # shellcheck disable=SC2086
  [[ -z $ids ]] || "$DOCKER" "$kind" rm $ids >/dev/null
done
