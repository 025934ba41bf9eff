#!/usr/bin/env bash
# Removes what a killed run of the end-to-end suite left behind: the suite's
# own local stacks (named e2e<hex>, labelled dev.shipyard.stack=e2e…) and the
# containers of its health test. `make test` runs it after the tests, so a
# test binary killed by go test's -timeout before its own `pulumi destroy`
# leaves nothing. A user's stacks (local, …) are never touched.
set -euo pipefail
DOCKER=${DOCKER:-$(test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)}
label=dev.shipyard.stack
"$DOCKER" info >/dev/null 2>&1 || exit 0
ours() { # KIND: IDs of objects of KIND whose stack label starts with e2e
  local ls=(ls) fmt='{{.ID}} {{.Label "'$label'"}}'
  [[ $1 == container ]] && ls=(ps --all)
  [[ $1 == volume ]] && fmt='{{.Name}} {{.Label "'$label'"}}'
  "$DOCKER" "$1" "${ls[@]}" --filter "label=$label" --format "$fmt" | awk '$2 ~ /^e2e/ {print $1}'
}
for kind in container network volume; do
  ids=$(ours "$kind")
  [[ -z $ids ]] && continue
  echo "tests/cleanup.sh: removing leftover e2e ${kind}s" >&2
  if [[ $kind == container ]]; then
    # shellcheck disable=SC2086
    "$DOCKER" rm -f -v $ids >/dev/null
  else
    # shellcheck disable=SC2086
    "$DOCKER" "$kind" rm $ids >/dev/null
  fi
done
