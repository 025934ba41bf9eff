#!/usr/bin/env bash
# Shipyard app benchmarks (docs/app.md, "Benchmarks"): the real binary on
# loopback against throwaway Postgres and Redis started by the test helpers
# (or TEST_DATABASE_URL / TEST_REDIS_URL), load generated in-process.
# Run on a quiet machine; it uses every core for ~2 minutes. The rate limiter
# is off (RATE_LIMIT_PER_MINUTE=0): all load comes from one IP.
#
# The image size line is the app image `make image` builds for STACK
# (default local): its name comes from the stack's config, as the
# Makefile's does (`go run ./cmd/preflight image STACK`).
# `bench/run.sh image-size` prints only that line.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-local}
DOCKER=${DOCKER:-$(test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)}

image_size() {
  local image
  image=$(go run ./cmd/preflight image "$STACK")
  if $DOCKER image inspect "$image" >/dev/null 2>&1; then
    echo "== image size (make image STACK=$STACK first)"
    $DOCKER image inspect "$image" --format '{{.Size}}' | awk -v image="$image" '{printf "%s %.1f MB\n", image, $1/1000/1000}'
  else
    echo "== image size: no $image image; run make image STACK=$STACK"
  fi
}

case "${1:-}" in
  "") ;;
  image-size) image_size; exit 0 ;;
  *) echo "usage: bench/run.sh [image-size]; got $*" >&2; exit 2 ;;
esac

echo "== startup: exec -> /readyz 200"
go test ./app -run '^$' -bench '^BenchmarkStartupToReady$' -benchtime 20x | grep ^Benchmark
echo "== /livez, closed loop, 32 clients"
go test ./app -run '^$' -bench '^BenchmarkLivez$' -benchtime 20000x | grep ^Benchmark
echo "== cached GET /api/v1/notes/{id}, closed loop, 32 clients (+ RSS)"
go test ./app -run '^$' -bench '^BenchmarkCachedGET$' -benchtime 20000x | grep ^Benchmark
echo "== cached GET and /livez at a fixed 1,000 req/s for 5 s each (open loop)"
go test ./app -run '^$' -bench '^Benchmark(CachedGET|Livez)At1000rps$' -benchtime 5000x | grep ^Benchmark
echo "== side by side, closed loop, 32 clients: bare net/http, /livez, cached GET (best of 3 interleaved rounds)"
go test ./app -run '^$' -bench '^BenchmarkSideBySide$' -benchtime 1x | grep ^Benchmark
echo "== cached GET, closed loop, 32 clients: 3 s normal, 5 s Redis stopped (SIGSTOP), 3 s resumed"
go test ./app -run '^$' -bench '^BenchmarkCachedGETDuringRedisStall$' -benchtime 1x | grep ^Benchmark
echo "== 100 parallel failed logins, twice: peak RSS"
go test ./app -run '^$' -bench '^BenchmarkParallelLogins$' -benchtime 1x | grep ^Benchmark
echo "== 32 concurrent worst-case lists (100 notes x 100,000 '<'), three rounds: peak RSS"
go test ./app -run '^$' -bench '^BenchmarkWorstCaseListFlood$' -benchtime 1x | grep ^Benchmark

image_size
