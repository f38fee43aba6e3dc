# Sourced by the image scripts: buildah and podman use the project's own settings and keep their images under
# .cache/containers/, so they neither need nor touch the machine's container configuration.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
containers_dir="$repo_root/.cache/containers"
mkdir -p "$containers_dir"
cat > "$containers_dir/storage.conf" <<STORAGE
[storage]
driver = "overlay"
graphroot = "$containers_dir/storage"
runroot = "$containers_dir/run"
STORAGE
export CONTAINERS_CONF="$repo_root/deploy/image/containers.conf"
export CONTAINERS_STORAGE_CONF="$containers_dir/storage.conf"
