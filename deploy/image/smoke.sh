#!/usr/bin/env bash
# Starts one service from the image against running PostgreSQL and Kafka, as Kubernetes would run it (read-only
# root file system, a writable /tmp, no capabilities, the image's non-root user), and checks that it gets ready:
#   bash deploy/image/smoke.sh STACK_ENV [SERVICE] [PORT] [IMAGE]
# STACK_ENV: a file with DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (var/stack.env of `make run`). The service works
# in a schema and under a topic prefix of its own, so it leaves that stack's data alone. The container shares the
# host's network because a local stack listens on 127.0.0.1 only.
set -euo pipefail
source "$(dirname "$0")/env.sh"
stack_env="$1"; service="${2:-links}"; port="${3:-20801}"; image="${4:-localhost/loginless:dev}"
set -a; source "$stack_env"; set +a
prefix="$(echo "$service" | tr a-z- A-Z_)"
name="loginless-smoke-$service-$$"

settings=(
  -e "${prefix}_DATABASE_URL=$DATABASE_URL" -e "${prefix}_DATABASE_SCHEMA=smoke_$service"
  -e "${prefix}_KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" -e "${prefix}_TOPIC_PREFIX=smoke."
  -e "${prefix}_HTTP_HOST=127.0.0.1" -e "${prefix}_HTTP_PORT=$port"
  -e "${prefix}_INTERNAL_API_SECRET=$(head -c 24 /dev/urandom | base64)"
  -e "${prefix}_TOKEN_PEPPERS=smoke:$(head -c 32 /dev/urandom | base64)"
  -e "${prefix}_DATA_KEY=$(head -c 32 /dev/urandom | base64)"
)
run=(podman run --rm --network host --read-only --tmpfs /tmp:rw,size=64m --cap-drop ALL
     --security-opt no-new-privileges "${settings[@]}")

echo "[smoke] user in the image: $("${run[@]}" "$image" id -u)"
echo "[smoke] compilers in the image: $("${run[@]}" "$image" python -c \
  'import shutil; print([c for c in ("cc", "gcc", "clang", "pip", "uv") if shutil.which(c)] or "none")')"
"${run[@]}" "$image" python -m "loginless.$service" migrate

"${run[@]}" --detach --name "$name" "$image" python -m "loginless.$service" api > /dev/null
trap 'podman rm --force --time 5 "$name" > /dev/null' EXIT
for _ in $(seq 60); do
  answer="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready" || true)"
  [[ "$answer" == 200 ]] && break
  sleep 1
done
echo "[smoke] GET /health/ready: $answer $(curl -s "http://127.0.0.1:$port/health/ready")"
echo "[smoke] GET /health/live: $(curl -s "http://127.0.0.1:$port/health/live")"
podman logs "$name" 2>&1 | tail -3
[[ "$answer" == 200 ]]
