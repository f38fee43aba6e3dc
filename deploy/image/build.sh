#!/usr/bin/env bash
# Builds the loginless image with buildah (no Docker daemon) and saves it as an OCI archive:
#   bash deploy/image/build.sh [IMAGE]            default IMAGE: localhost/loginless:dev
# IMAGE_BASES=local (default) builds on the Debian-made bases of base.sh (made first when missing);
# IMAGE_BASES=registry on the Containerfile's defaults, Python's official slim image.
# CA_BUNDLE: the host's CA bundle, mounted read-only into the build for pip and uv (default: Debian's).
set -euo pipefail
source "$(dirname "$0")/env.sh"
image="${1:-localhost/loginless:dev}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
build_ca=/run/loginless-build-ca.pem

bases=(--pull=missing)
if [[ "${IMAGE_BASES:-local}" == local ]]; then
  for base in localhost/loginless-python:3.11 localhost/loginless-python-build:3.11; do
    podman image exists "$base" || bash "$repo_root/deploy/image/base.sh"
  done
  bases=(--pull=never --build-arg BUILD_BASE=localhost/loginless-python-build:3.11
         --build-arg RUNTIME_BASE=localhost/loginless-python:3.11)
fi

buildah bud --layers=false --network host \
  --file "$repo_root/deploy/image/Containerfile" "${bases[@]}" \
  --volume "$ca_bundle:$build_ca:ro" --build-arg CA_BUNDLE="$build_ca" \
  --tag "$image" "$repo_root"

mkdir -p "$repo_root/.cache/image"
archive="$repo_root/.cache/image/loginless.oci.tar"
podman save --format oci-archive --output "$archive" "$image"
echo "[image] $image: $(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec-i) unpacked;" \
  "$(stat -c %s "$archive" | numfmt --to=iec-i) as OCI archive ($archive)"
