#!/usr/bin/env bash
# Install helm, the Helm chart tests' tool (tests/deploy/test_helm.py), into
# ${DRIFTD_CACHE_DIR:-~/.cache/driftd}/bin from the Go module proxy. `go install` builds
# it from source (about 5 minutes on 2 cores), so it is done once: a helm built from the
# pinned module version is kept (the binary records it: `go version -m`).
#
#   scripts/install_helm.sh          # prints the path of the helm binary
#
# Needs Go (the go command) on PATH. HELM_MODULE and HELM_VERSION override the pin
# (helm v3: HELM_MODULE=helm.sh/helm/v3 HELM_VERSION=v3.21.4).
set -euo pipefail

HELM_MODULE="${HELM_MODULE:-helm.sh/helm/v4}"
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
BIN_DIR="${DRIFTD_CACHE_DIR:-$HOME/.cache/driftd}/bin"
helm="$BIN_DIR/helm"

if ! command -v go >/dev/null; then
  echo "install_helm.sh: the go command is not on PATH (Go builds helm $HELM_VERSION)" >&2
  exit 1
fi

built_from_pin() {
  [[ -x "$helm" ]] && go version -m "$helm" 2>/dev/null \
    | grep -qP "^\tmod\t\Q$HELM_MODULE\E\t\Q$HELM_VERSION\E\t"
}

if ! built_from_pin; then
  mkdir -p "$BIN_DIR"
  GOBIN="$BIN_DIR" CGO_ENABLED=0 go install "$HELM_MODULE/cmd/helm@$HELM_VERSION"
  built_from_pin || { echo "install_helm.sh: $helm is not $HELM_MODULE $HELM_VERSION" >&2; exit 1; }
fi
echo "$helm"
