#!/usr/bin/env bash
# Starts one service's api and worker from the image against running PostgreSQL and Kafka, as the Helm chart runs
# them (read-only root file system, a writable /tmp, no capabilities, the image's non-root user, an admin port),
# and checks that they get ready:
#   bash deploy/image/smoke.sh STACK_ENV [SERVICE] [PORT] [IMAGE]     admin ports: PORT+1000 (api), PORT+1001 (worker)
# STACK_ENV: a file with DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (var/stack.env of `make run`). The service works
# in a schema and under a topic prefix of its own, so it leaves that stack's data alone. The container shares the
# host's network because a local stack listens on 127.0.0.1 only.
set -euo pipefail
source "$(dirname "$0")/env.sh"
stack_env="$1"; service="${2:-links}"; port="${3:-20801}"; image="${4:-localhost/loginless:dev}"
admin_port=$((port + 1000)); worker_admin_port=$((port + 1001))
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
echo "[smoke] the operator's command line: $("${run[@]}" "$image" loginless --help | sed -n 3p | sed 's/^ *//')"
"${run[@]}" "$image" python -m "loginless.$service" migrate

"${run[@]}" --detach --name "$name-api" -e "${prefix}_ADMIN_PORT=$admin_port" \
  "$image" python -m "loginless.$service" api > /dev/null
"${run[@]}" --detach --name "$name-worker" -e "${prefix}_ADMIN_PORT=$worker_admin_port" \
  "$image" python -m "loginless.$service" worker > /dev/null
trap 'podman rm --force --time 5 "$name-api" "$name-worker" > /dev/null' EXIT

status() { curl -s -o /dev/null -w '%{http_code}' "$1" || true; }
ready=0
for _ in $(seq 60); do
  if [[ "$(status "http://127.0.0.1:$admin_port/health/ready")" == 200 && \
        "$(status "http://127.0.0.1:$worker_admin_port/health/ready")" == 200 ]]; then ready=1; break; fi
  sleep 1
done
echo "[smoke] api    GET :$port/health/live: $(curl -s "http://127.0.0.1:$port/health/live")"
echo "[smoke] api    GET :$port/metrics: $(status "http://127.0.0.1:$port/metrics") (not served on its own port)"
echo "[smoke] api    GET :$admin_port/health/ready: $(curl -s "http://127.0.0.1:$admin_port/health/ready")"
echo "[smoke] api    GET :$admin_port/metrics: $(status "http://127.0.0.1:$admin_port/metrics")"
echo "[smoke] worker GET :$worker_admin_port/health/ready: $(curl -s "http://127.0.0.1:$worker_admin_port/health/ready")"
podman logs "$name-worker" 2>&1 | tail -2
[[ "$ready" == 1 ]]
