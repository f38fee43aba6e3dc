#!/usr/bin/env bash
# Makes the base images the Containerfile builds on, for machines that cannot pull from a container registry:
# Debian bookworm (minbase) with Debian's Python 3.11, imported into the local image store.
#   localhost/loginless-python:3.11        python3 and CA certificates: what the running image is built on
#   localhost/loginless-python-build:3.11  the same plus python3-venv (pip), for the build stage only
# Where a registry is reachable, the Containerfile's defaults (python:3.11-slim-bookworm) are used instead.
# Needs root, debootstrap, podman; takes about two minutes.
set -euo pipefail
source "$(dirname "$0")/env.sh"

mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
  || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
work="$(mktemp -d "$containers_dir/base.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "[base] debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$work/root" "$mirror" > "$containers_dir/debootstrap.log" 2>&1 \
  || { tail -20 "$containers_dir/debootstrap.log"; exit 1; }

in_root() { chroot "$work/root" env DEBIAN_FRONTEND=noninteractive "$@"; }
import_root() {  # without apt's lists and caches, which only the build needs
  tar -C "$work/root" --exclude=./var/lib/apt/lists/* --exclude=./var/cache/apt/* --exclude=./proc/* \
    --exclude=./sys/* --exclude=./dev/* -c . | podman import --quiet - "$1" > /dev/null
  echo "[base] $1"
}

# Documentation and message translations are of no use in a container (the official slim images leave them out
# the same way): about 50 MB.
cat > "$work/root/etc/dpkg/dpkg.cfg.d/excludes" <<'EXCLUDES'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EXCLUDES
rm -rf "$work/root"/usr/share/{doc,man,info,locale}/*

in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends python3 ca-certificates > /dev/null
in_root apt-get clean
import_root localhost/loginless-python:3.11
in_root apt-get install -y -qq --no-install-recommends python3-venv > /dev/null
in_root apt-get clean
import_root localhost/loginless-python-build:3.11
