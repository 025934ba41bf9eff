#!/usr/bin/env bash
# Builds, offline, the images docker stack STACK (default local, whose images
# the test harness runs) needs, under the names its config gives them
# (`shipyard images STACK`: config/<stack>.json's local.images with their
# defaults, and the app image; defaults postgres:15, redis:7, … below):
#   - local.images.postgres, .redis, .nginx: stand-ins for the official
#     images, built from a Debian bookworm rootfs (debootstrap + `docker
#     import`) and honouring the official images' interface (see
#     docs/local.md and the entrypoints next to this script);
#   - local.images.prometheus, .nginxExporter and .mtail, the same way from a
#     second rootfs with Debian's prometheus, prometheus-nginx-exporter and
#     mtail (kept apart: the data stores' images stay small);
#   - local.images.jaeger, FROM scratch: cmd/jaeger of the Go module
#     github.com/jaegertracing/jaeger v1.75.0 (Jaeger v2.12.0) built from the
#     module proxy with CGO_ENABLED=0 in a throwaway module (nothing of it is
#     committed, and it is not a dependency of the app); the binary is cached
#     under .cache/images/ (a cold build is the slow part of this script);
#   - the app image (default shipyard-app:local), FROM scratch, via `make
#     image STACK=<stack>`.
# What a stand-in cannot be is refused, naming the field: a ref pinned by
# digest, a Postgres or Redis major other than the Debian packages', a Jaeger
# tag other than the version built here.
#
# Idempotent and cached: the rootfs tarball is kept under .cache/images/, and a
# stand-in is rebuilt only when its content hash label differs from the
# inputs' hash (this script, the entrypoints, the package list and the mirror).
#
# Environment:
#   STACK         the docker stack whose images are built (default local)
#   DOCKER        docker client (default /usr/bin/docker when present)
#   DEBIAN_MIRROR mirror for debootstrap (default: the first deb URI of this
#                 machine's apt sources, else http://deb.debian.org/debian)
#   STANDINS_ONLY=1 skips the app image
#   DRY_RUN=1     prints the images it would build, one "NAME REF SOURCE" a
#                 line, and exits (no Docker, no debootstrap)
#   IMAGES_CACHE  cache directory (default .cache/images, gitignored)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/images
cache=${IMAGES_CACHE:-.cache/images} # rootfs tarball and logs
mkdir -p "$cache"

DOCKER=${DOCKER:-$(test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)}
suite=bookworm
# The majors of bookworm's packages: the tags of the Postgres and Redis
# stand-ins must start with them (tests/images/postgres/changes has 15 too).
postgres_major=15
redis_major=7
packages=(postgresql-$postgres_major postgresql-client-$postgres_major redis-server redis-tools nginx-light curl ca-certificates)
monitoring_packages=(prometheus prometheus-nginx-exporter mtail wget ca-certificates)
label=dev.shipyard.standin.hash

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'tests/images/build.sh: %s\n' "$*" >&2; exit 1; }

# Jaeger: the module version the stand-in is built from, and the Jaeger
# release (the image tag) it is.
jaeger_module=github.com/jaegertracing/jaeger
jaeger_version=v1.75.0 # = Jaeger v2.12.0
jaeger_release=2.12.0

# The images, from the stack's config: one source (infra/stackconfig), so a
# changed local.images.* or release.imageRepository is built under its new
# name. Each local.images field has a stand-in: tests/images/<dir>, or
# (jaeger) the Go module.
stack=${STACK:-local}
declare -A standin_dir=([postgres]=postgres [redis]=redis [nginx]=nginx [prometheus]=prometheus [nginxExporter]=nginx-exporter [mtail]=mtail [jaeger]=)
command -v go >/dev/null || die "reading the images of stack $stack (and building Jaeger) needs the Go toolchain"
log "images of stack $stack: go run ./cmd/shipyard images $stack (a cold Go cache takes minutes)"
images=$(go run ./cmd/shipyard images "$stack") || die "reading the images of stack $stack failed (above)"
declare -A ref=()
while read -r name value; do
  [[ -n $name ]] && ref[$name]=$value
done <<<"$images"
[[ -n ${ref[app]:-} ]] || die "shipyard images $stack printed no app image"
if [[ ${#ref[@]} == 1 ]]; then
  die "STACK=$stack: not a docker stack (it runs no local.images; only the app image ${ref[app]}); allowed: a docker stack, e.g. STACK=local"
fi
for name in "${!ref[@]}"; do
  [[ $name == app || -v standin_dir[$name] ]] \
    || die "local.images.$name (${ref[$name]}) has no stand-in here: add tests/images/<dir> and its entry in standin_dir in $0"
done
for name in "${!standin_dir[@]}"; do
  [[ -n ${ref[$name]:-} ]] || die "shipyard images $stack lists no $name image; allowed: a docker stack with local.images.$name"
  r=${ref[$name]}
  [[ $r != *@* ]] || die "local.images.$name=$r (config/$stack.json): pinned by digest, which no image built here can have; allowed here: a tag without @sha256:... (with a registry, make up pulls the pinned image; this script is for machines without one)"
done
# tag REF: the tag of an image reference.
tag() { local t=${1##*/}; echo "${t#*:}"; }
major_is() { [[ $2 == "$1" || $2 == "$1".* || $2 == "$1"-* ]]; }
major_is "$postgres_major" "$(tag "${ref[postgres]}")" \
  || die "local.images.postgres=${ref[postgres]} (config/$stack.json): the offline stand-in is Debian $suite's PostgreSQL $postgres_major; allowed: a tag of major $postgres_major (e.g. postgres:$postgres_major), or a new stand-in here"
major_is "$redis_major" "$(tag "${ref[redis]}")" \
  || die "local.images.redis=${ref[redis]} (config/$stack.json): the offline stand-in is Debian $suite's Redis $redis_major; allowed: a tag of major $redis_major (e.g. redis:$redis_major), or a new stand-in here"
[[ $(tag "${ref[jaeger]}") == "$jaeger_release" ]] \
  || die "local.images.jaeger=${ref[jaeger]} (config/$stack.json): the stand-in is Jaeger $jaeger_release ($jaeger_module $jaeger_version); allowed: the tag $jaeger_release, or bump jaeger_version and jaeger_release in $0"

if [[ ${DRY_RUN:-} == 1 ]]; then
  for name in postgres redis nginx prometheus nginxExporter mtail; do
    echo "$name ${ref[$name]} $here/${standin_dir[$name]}"
  done
  echo "jaeger ${ref[jaeger]} $jaeger_module@$jaeger_version"
  [[ ${STANDINS_ONLY:-} == 1 ]] || echo "app ${ref[app]} make image STACK=$stack"
  exit 0
fi

if ! "$DOCKER" info >/dev/null 2>&1; then
  die "cannot reach the Docker engine with $DOCKER; start it (e.g. 'sudo systemctl start docker', or here 'nohup dockerd --storage-driver=vfs >/tmp/dockerd.log 2>&1 &') and retry"
fi

mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  if [[ -z $uri ]]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)

# A rootfs: a Debian minbase with a list of packages, cached by the suite,
# mirror and package list. The data stores share one; the monitoring images
# another.
rootfs_format=2 # bump when build_rootfs changes what it produces
rootfs_key() { printf '%s\n' "$rootfs_format" "$suite" "$MIRROR" "$@" | sha256sum | cut -c1-16; }
rootfs_key=$(rootfs_key "${packages[@]}")
rootfs_tar=$cache/rootfs-$suite-$rootfs_key.tar
monitoring_key=$(rootfs_key "${monitoring_packages[@]}")
monitoring_tar=$cache/rootfs-$suite-$monitoring_key.tar

# build_rootfs TAR PACKAGE...
build_rootfs() {
  local out=$1
  shift
  command -v debootstrap >/dev/null || die "debootstrap is not installed; run 'apt-get install debootstrap'"
  [[ $(id -u) == 0 ]] || die "building the rootfs needs root (debootstrap); run as root or via .ci/run"
  local dir
  dir=$(mktemp -d "$cache/rootfs.XXXXXX")
  # shellcheck disable=SC2064
  trap "umount '$dir/proc' 2>/dev/null || true; rm -rf '$dir'" EXIT
  log "debootstrap --variant=minbase $suite from $MIRROR"
  local t0=$SECONDS
  debootstrap --variant=minbase "$suite" "$dir" "$MIRROR" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 30 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  log "debootstrap took $((SECONDS - t0))s; installing $*"
  # No services may start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod +x "$dir/usr/sbin/policy-rc.d"
  mount -t proc proc "$dir/proc"
  t0=$SECONDS
  chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c "
    set -e
    # Like the host's apt config: mirrors may serve a dated snapshot.
    apt-get -o Acquire::Check-Valid-Until=false update -qq
    apt-get install -y -qq --no-install-recommends $*
    apt-get clean
  " >"$cache/apt.log" 2>&1 || { umount "$dir/proc"; tail -n 30 "$cache/apt.log" >&2; die "installing packages into the rootfs failed (log: $cache/apt.log)"; }
  umount "$dir/proc"
  log "packages took $((SECONDS - t0))s"
  # The Debian packages' own cluster and defaults are not used: the
  # entrypoints initialise data where the official images keep it.
  rm -rf "$dir/var/lib/postgresql/$postgres_major/main" "$dir/etc/postgresql/$postgres_major/main" \
    "$dir/var/lib/apt/lists/"* "$dir/var/cache/apt/"*.bin "$dir/usr/sbin/policy-rc.d" \
    "$dir/usr/share/doc" "$dir/usr/share/man" "$dir/usr/share/locale"
  chmod 0755 "$dir" # mktemp's 0700 would become the image's / mode
  tar -C "$dir" --numeric-owner -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$dir"
  trap - EXIT
}

# Jaeger: the binary of the module version the image tag stands for, FROM
# scratch like the app (the local stack uploads infra/docker/jaeger.yaml and
# runs it with --config, as it would the official image).
jaeger_tag=${ref[jaeger]}
# The binary depends on the version, the toolchain and how it is built; the
# image on the binary and how it is imported.
jaeger_bin() { echo "$cache/jaeger-$jaeger_version-$(go env GOOS)-$(go env GOARCH)"; }
jaeger_bin_hash() { { echo "$jaeger_module@$jaeger_version $(go env GOVERSION)"; declare -f build_jaeger; } | sha256sum | cut -c1-32; }
jaeger_bin_cached() { local b; b=$(jaeger_bin); [[ -x $b && -s $b.hash && $(cat "$b.hash") == "$(jaeger_bin_hash)" ]]; }
jaeger_image_hash() { { jaeger_bin_hash; declare -f jaeger_image; } | sha256sum | cut -c1-32; }
jaeger_image_current() {
  [[ $("$DOCKER" image inspect --format "{{ index .Config.Labels \"$label\" }}" "$jaeger_tag" 2>/dev/null || true) == "$(jaeger_image_hash)" ]]
}
jaeger_image() {
  local hash bin
  bin=$(jaeger_bin)
  hash=$(jaeger_image_hash)
  if jaeger_image_current; then
    log "$jaeger_tag is up to date ($label=$hash)"
    return
  fi
  if [[ -n ${jaeger_pid:-} ]]; then
    wait "$jaeger_pid" || die "building jaeger failed (log: $cache/jaeger-build.log)"
  fi
  jaeger_bin_cached || build_jaeger "$bin" "$(jaeger_bin_hash)"
  local root
  root=$(mktemp -d "$cache/jaeger-root.XXXXXX")
  mkdir -p "$root/cmd/jaeger" "$root/etc/jaeger" "$root/tmp"
  cp "$bin" "$root/cmd/jaeger/jaeger-linux"
  chmod 1777 "$root/tmp"
  chmod 0755 "$root" # mktemp's 0700 would become the image's / mode
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$cache/jaeger.tar" .
  rm -rf "$root"
  local old
  old=$("$DOCKER" image inspect --format '{{.Id}}' "$jaeger_tag" 2>/dev/null || true)
  "$DOCKER" import --change "LABEL $label=$hash" --change 'USER 10001' \
    --change 'ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]' --change 'CMD ["--config", "/etc/jaeger/config.yaml"]' \
    --change 'EXPOSE 4317 4318 16686' "$cache/jaeger.tar" "$jaeger_tag" >/dev/null
  rm -f "$cache/jaeger.tar"
  [[ -z $old ]] || "$DOCKER" image rm "$old" >/dev/null 2>&1 || true
  log "$jaeger_tag imported"
}
# build_jaeger BIN HASH: `go build` of cmd/jaeger in a temporary module that
# requires the pinned version (go install pkg@version refuses it: jaeger's
# go.mod has a replace directive, repeated here).
build_jaeger() {
  local mod out=$1 t0=$SECONDS
  [[ $out == /* ]] || out=$PWD/$out # the build runs in the temporary module
  mod=$(mktemp -d)
  log "building $jaeger_module/cmd/jaeger@$jaeger_version (CGO_ENABLED=0; a cold build takes minutes)"
  ( cd "$mod" \
    && printf 'module jaegerbuild\n\ngo 1.25\n\nreplace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0\n' >go.mod \
    && GOFLAGS=-mod=mod go get -tool "$jaeger_module/cmd/jaeger@$jaeger_version" \
    && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$out.tmp" "$jaeger_module/cmd/jaeger" ) \
    >"$cache/jaeger-build.log" 2>&1 || { rm -rf "$mod"; tail -n 30 "$cache/jaeger-build.log" >&2; die "building jaeger failed (log: $cache/jaeger-build.log)"; }
  rm -rf "$mod"
  mv "$out.tmp" "$out"
  echo "$2" >"$out.hash"
  log "jaeger built in $((SECONDS - t0))s"
}
# A cold Jaeger build is CPU-bound and long; debootstrap mostly waits on
# the network: run them side by side.
if [[ ${ROOTFS_ONLY:-} != 1 ]] && ! jaeger_image_current && ! jaeger_bin_cached; then
  build_jaeger "$(jaeger_bin)" "$(jaeger_bin_hash)" &
  jaeger_pid=$!
fi

if [[ ! -s $rootfs_tar ]]; then
  build_rootfs "$rootfs_tar" "${packages[@]}"
else
  log "rootfs cached: $rootfs_tar"
fi
if [[ ! -s $monitoring_tar ]]; then
  build_rootfs "$monitoring_tar" "${monitoring_packages[@]}"
else
  log "monitoring rootfs cached: $monitoring_tar"
fi
[[ ${ROOTFS_ONLY:-} == 1 ]] && exit 0

# standin NAME TAG [ROOTFS_TAR ROOTFS_KEY]: imports the rootfs (default: the
# data stores') plus tests/images/NAME/docker-entrypoint.sh as TAG, with the image config in tests/images/NAME/changes, unless an image
# with the same content hash label exists. One `docker import` per image: no
# Dockerfile layers, which on the vfs storage driver are each a full copy.
standin() {
  local dir=$here/$1 tag=$2 tar=${3:-$rootfs_tar} key=${4:-$rootfs_key} hash have
  hash=$( { echo "$key"; cat "$0"; find "$dir" -type f | sort | xargs cat; } | sha256sum | cut -c1-32)
  have=$("$DOCKER" image inspect --format "{{ index .Config.Labels \"$label\" }}" "$tag" 2>/dev/null || true)
  if [[ $have == "$hash" ]]; then
    log "$tag is up to date ($label=$hash)"
    return
  fi
  log "importing $tag from $tar + $dir"
  local t0=$SECONDS tarball=$cache/$1.tar
  cp "$tar" "$tarball"
  tar -C "$dir" --owner=0 --group=0 --mode=0755 --transform 's,^,usr/local/bin/,' -rf "$tarball" docker-entrypoint.sh
  local changes=(--change "LABEL $label=$hash")
  while IFS= read -r line; do
    [[ -z $line || $line == \#* ]] && continue
    changes+=(--change "$line")
  done <"$dir/changes"
  local old
  old=$("$DOCKER" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  "$DOCKER" import "${changes[@]}" "$tarball" "$tag" >/dev/null
  rm -f "$tarball"
  # The stand-in it replaces, now untagged (kept if a container uses it).
  [[ -z $old ]] || "$DOCKER" image rm "$old" >/dev/null 2>&1 || true
  log "$tag imported in $((SECONDS - t0))s"
}

# The names the stack's config gives them (local.images).
standin postgres "${ref[postgres]}"
standin redis "${ref[redis]}"
standin nginx "${ref[nginx]}"
standin prometheus "${ref[prometheus]}" "$monitoring_tar" "$monitoring_key"
standin nginx-exporter "${ref[nginxExporter]}" "$monitoring_tar" "$monitoring_key"
standin mtail "${ref[mtail]}" "$monitoring_tar" "$monitoring_key"
jaeger_image

if [[ ${STANDINS_ONLY:-} == 1 ]]; then
  exit 0
fi

# The app image, FROM scratch, through the Makefile's own target: it tags
# ${ref[app]}, the name the stack's config gives it (bin/preflight image).
log "make image STACK=$stack (${ref[app]})"
t0=$SECONDS
make -s image DOCKER="$DOCKER" STACK="$stack"
log "app image built in $((SECONDS - t0))s"
