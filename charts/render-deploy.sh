#!/usr/bin/env bash
# Writes deploy/ (for `kubectl apply -k`) from the chart, so the two never drift:
#   deploy/base/portico.yaml   the chart's default rendering (DaemonSet on the host network)
#   deploy/acme/portico.yaml   the same with acme.enabled=true (the CRD, Secret write access)
# as release "portico" in namespace portico-system, without Helm's own labels. The e2e suite
# renders the chart again (DEPLOY_DIR=elsewhere) and fails when deploy/ differs. Needs helm
# (HELM=path to choose one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
helm=${HELM:-helm}
out=${DEPLOY_DIR:-$root/deploy}
mkdir -p "$out/base" "$out/acme"

render() {
  local file=$1
  shift
  {
    echo "# Generated from charts/portico${*:+ ($*)} by charts/render-deploy.sh: edit the chart, then run it."
    "$helm" template portico "$root/charts/portico" --namespace portico-system "$@" \
      | grep -v -e '^ *helm.sh/chart: ' -e '^ *app.kubernetes.io/managed-by: '
  } > "$file"
}

render "$out/base/portico.yaml"
render "$out/acme/portico.yaml" --set acme.enabled=true
