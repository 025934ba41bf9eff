#!/usr/bin/env bash
# Removes what a killed run of the end-to-end suite left behind: the suite's
# own local stacks (named e2e<hex>, labelled dev.shipyard.stack=e2e…) and the
# containers of its health test. `make test` runs it after the tests, so a
# test binary killed by go test's -timeout before its own `pulumi destroy`
# leaves nothing. A user's stacks (local, …) are never touched, nor the
# stack of a run still going (two `make test` at once, from two clones): the
# suite holds a lock on $TMPDIR/shipyard-e2e-claims/<label>.lock while its
# objects exist (tests/e2e/claim_test.go), and an object whose label's lock
# is held (a PR environment's <stack>-pr-<n> by its stack's) is left alone.
set -euo pipefail
DOCKER=${DOCKER:-$(test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)}
label=dev.shipyard.stack
"$DOCKER" info >/dev/null 2>&1 || exit 0
claims=${TMPDIR:-/tmp}/shipyard-e2e-claims
claimed() { # LABEL: whether a live run holds its claim
  local lock
  lock="$claims/$(sed -E 's/-pr-[0-9]+$//' <<<"$1").lock"
  [[ -e $lock ]] && ! flock --nonblock --exclusive "$lock" true
}
ours() { # KIND: IDs of objects of KIND whose stack label starts with e2e, unclaimed
  local ls=(ls) fmt='{{.ID}} {{.Label "'$label'"}}' id stack
  [[ $1 == container ]] && ls=(ps --all)
  [[ $1 == volume ]] && fmt='{{.Name}} {{.Label "'$label'"}}'
  "$DOCKER" "$1" "${ls[@]}" --filter "label=$label" --format "$fmt" |
    while read -r id stack; do
      if [[ $stack == e2e* ]] && ! claimed "$stack"; then echo "$id"; fi
    done
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
