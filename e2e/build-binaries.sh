#!/usr/bin/env bash
# Builds the real Kubernetes parts the e2e suite runs: kube-apiserver and kube-controller-manager
# (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), pebble and helm (helm.sh/helm/v4), from
# their Go modules. The binaries are cached
# outside the repository, keyed by the go.sum of each wrapper module, so only the first run
# pays for the build (10–25 minutes on two cores). Prints the cache directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${PORTICO_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portico-e2e}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

K8S_VERSION=v1.34.4
PEBBLE_VERSION=v2.10.1
HELM_VERSION=v4.3.2
GATEWAY_API_VERSION=v1.6.3
key=$(cat "$here/k8s-bin/go.sum" "$here/etcd-bin/go.sum" | sha256sum | cut -c1-12)
out="$cache_root/$K8S_VERSION-$key"
mkdir -p "$out"

# Version stamps as Kubernetes' own build sets them (kubectl version, /version).
k8s_ldflags() {
  local minor ld="-s -w"
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$ld"
}

if [ ! -x "$out/kube-apiserver" ]; then
  echo "building kube-apiserver $K8S_VERSION (first run only)..." >&2
  (cd "$here/k8s-bin" && go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$(k8s_ldflags)" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi
# kube-controller-manager has a wrapper module of its own (it needs modules the API server does
# not), keyed by its own go.sum so adding it did not rebuild the rest.
kcm="$cache_root/$K8S_VERSION-kcm-$(sha256sum < "$here/kcm-bin/go.sum" | cut -c1-12)"
if [ ! -x "$kcm/kube-controller-manager" ]; then
  echo "building kube-controller-manager $K8S_VERSION (first run only)..." >&2
  mkdir -p "$kcm"
  (cd "$here/kcm-bin" && go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$(k8s_ldflags)" -o "$kcm/kube-controller-manager.tmp" k8s.io/kubernetes/cmd/kube-controller-manager)
  mv "$kcm/kube-controller-manager.tmp" "$kcm/kube-controller-manager"
fi
ln -sfn "$kcm/kube-controller-manager" "$out/kube-controller-manager"
if [ ! -x "$out/etcd" ]; then
  echo "building etcd (first run only)..." >&2
  (cd "$here/etcd-bin" && go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
fi
if [ ! -x "$out/pebble" ]; then
  echo "installing pebble $PEBBLE_VERSION (first run only)..." >&2
  GOBIN="$out" go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION"
  GOBIN="$out" go install "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION"
fi
# Versioned, so a new pin builds beside the old one; tests run "$out/helm".
if [ ! -x "$out/helm-$HELM_VERSION/helm" ]; then
  echo "installing helm $HELM_VERSION (first run only)..." >&2
  GOBIN="$out/helm-$HELM_VERSION" go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
fi
ln -sfn "helm-$HELM_VERSION/helm" "$out/helm"
# The Gateway API CRDs (standard channel), from the module the conformance suite comes from.
if [ ! -d "$out/gateway-api-$GATEWAY_API_VERSION" ]; then
  dir=$(cd / && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$out/gateway-api-$GATEWAY_API_VERSION.tmp"
  cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$out/gateway-api-$GATEWAY_API_VERSION.tmp/"
  mv "$out/gateway-api-$GATEWAY_API_VERSION.tmp" "$out/gateway-api-$GATEWAY_API_VERSION"
fi
ln -sfn "gateway-api-$GATEWAY_API_VERSION" "$out/gateway-api-crds"
# The conformance suite's test binary and its echo server (npm run conformance), keyed by their
# wrapper module's go.sum.
conf="$cache_root/conformance-$(sha256sum < "$here/conformance-bin/go.sum" | cut -c1-12)"
if [ ! -x "$conf/conformance.test" ]; then
  echo "building the Gateway API conformance suite $GATEWAY_API_VERSION (first run only)..." >&2
  mkdir -p "$conf"
  (cd "$here/conformance-bin" && go build -trimpath -ldflags "-s -w" -o "$conf/echo-basic" sigs.k8s.io/gateway-api/conformance/echo-basic \
    && go test -c -trimpath -o "$conf/conformance.test.tmp" sigs.k8s.io/gateway-api/conformance)
  mv "$conf/conformance.test.tmp" "$conf/conformance.test"
fi
ln -sfn "$conf/echo-basic" "$out/echo-basic"
ln -sfn "$conf/conformance.test" "$out/conformance.test"
echo "$out"
