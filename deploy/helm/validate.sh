#!/usr/bin/env bash
# Offline checks of the chart, as CI runs them (`make test-deploy`): `helm lint --strict`, then the manifests
# rendered with the default values and with each values file in loginless/ci/, validated strictly against the
# API schemas of every Kubernetes version the chart supports. Needs no cluster and no network.
# HELM: the helm binary (default: the provisioned .cache/bin/helm).
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
chart="$repo_root/deploy/helm/loginless"
helm="${HELM:-$repo_root/.cache/bin/helm}"
validate=("${UV:-uv}" run --frozen kubernetes-validate --strict --quiet)
# The chart's kubeVersion (>=1.29) up to the newest schemas kubernetes-validate bundles.
versions="${KUBERNETES_VERSIONS:-1.29.0 1.30.0 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0 1.36.0 1.37.0}"

[[ -x "$helm" ]] || { echo "helm not found at $helm: run \`make provision-deploy\`" >&2; exit 1; }
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

for values in default "$chart"/ci/*-values.yaml; do
  name="$(basename "$values" .yaml)"
  options=(); [[ "$values" == default ]] || options=(--values "$values")
  "$helm" lint --strict --quiet "$chart" "${options[@]}"
  "$helm" template loginless "$chart" --namespace loginless "${options[@]}" > "$rendered/$name.yaml"
  echo "[deploy] helm lint --strict and helm template: $name"
done
# One run per version, two at a time (loading a version's schemas takes a few seconds). kubernetes-validate has no
# schema for the Gateway API's HTTPRoute and says so (WARN); the chart's tests check that one.
printf '%s\n' $versions | xargs -P 2 -I '{}' "${validate[@]}" -k '{}' "$rendered"/*.yaml
echo "[deploy] kubernetes-validate --strict: valid for Kubernetes $(echo $versions | tr ' ' ,)"
