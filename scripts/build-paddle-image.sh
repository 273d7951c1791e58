#!/usr/bin/env bash
# Build a local PaddlePaddle CPU image without any registry:
#   1. debootstrap a minimal Debian bookworm rootfs and `docker import` it (the base);
#   2. download the pinned paddlepaddle wheel and its dependencies on the host (a wheelhouse);
#   3. build an image from the base that installs them offline (`pip install --no-index`).
# Skips everything when the image already exists. Usage: build-paddle-image.sh [--dry-run] [PADDLE_VERSION]
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: build-paddle-image.sh [--dry-run] [PADDLE_VERSION]

Build the CPU image paddlectl-test/paddle:PADDLE_VERSION-cpu (default 3.2.0; PADDLECTL_TEST_IMAGE names it
otherwise) without any container registry: debootstrap a Debian base, download the paddlepaddle wheel on this
host, install it offline in the build. Needs root (or debootstrap installed), a Debian mirror and PyPI.
Does nothing when the image exists. --dry-run says what it would do and builds nothing.
USAGE
}

say() { printf 'build-paddle-image: %s\n' "$*" >&2; }

DRY_RUN=0
VERSION_ARG=""
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    -*) say "unknown option $arg"; usage >&2; exit 2 ;;
    *) [ -z "$VERSION_ARG" ] || { say "one PADDLE_VERSION at most (got $VERSION_ARG and $arg)"; exit 2; }
       VERSION_ARG="$arg" ;;
  esac
done
PADDLE_VERSION="${VERSION_ARG:-${PADDLE_VERSION:-3.2.0}}"
if ! [[ "$PADDLE_VERSION" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]]; then
  say "'$PADDLE_VERSION' is not a PaddlePaddle version such as 3.2.0"
  usage >&2
  exit 2
fi
IMAGE="${PADDLECTL_TEST_IMAGE:-paddlectl-test/paddle:${PADDLE_VERSION}-cpu}"
BASE_IMAGE="paddlectl-test/debian:bookworm-minbase"
CACHE="${PADDLECTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddlectl}"
PYVER=3.11   # bookworm's python3

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "$IMAGE already present, nothing to build"
  exit 0
fi
if [ "$DRY_RUN" = 1 ]; then
  base="reuse $BASE_IMAGE"
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || base="debootstrap and import $BASE_IMAGE"
  say "would $base, download paddlepaddle==${PADDLE_VERSION} for Python ${PYVER} into $CACHE, and build $IMAGE"
  exit 0
fi
start=$(date +%s)
mkdir -p "$CACHE"

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    [ "$(id -u)" = "0" ] || { say "debootstrap is missing: install it (apt-get install debootstrap) as root"; exit 1; }
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  fi
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrapping bookworm minbase into $rootfs"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,libgomp1 \
    bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  say "importing $BASE_IMAGE"
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
fi

ctx="$CACHE/paddle-${PADDLE_VERSION}-context"
mkdir -p "$ctx/wheels"
say "downloading paddlepaddle==${PADDLE_VERSION} and its dependencies for Python ${PYVER} into $ctx/wheels"
python3 -m pip download -q --only-binary=:all: --python-version "$PYVER" \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 --platform any \
  -d "$ctx/wheels" "paddlepaddle==${PADDLE_VERSION}"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM ${BASE_IMAGE}
COPY wheels /tmp/wheels
RUN python3 -m pip install --no-index --no-cache-dir --break-system-packages --find-links /tmp/wheels \
      "paddlepaddle==${PADDLE_VERSION}" && rm -rf /tmp/wheels \
    && python3 -c "import paddle; print(paddle.__version__)"
ENV PYTHONUNBUFFERED=1 LANG=C.UTF-8
LABEL org.opencontainers.image.title="paddlectl test PaddlePaddle ${PADDLE_VERSION} (CPU)" \
      io.paddlectl.paddle-version="${PADDLE_VERSION}"
WORKDIR /home
DOCKERFILE

say "building $IMAGE (offline install inside the build)"
docker build -q -t "$IMAGE" "$ctx" >/dev/null
say "built $IMAGE in $(( $(date +%s) - start )) s"
