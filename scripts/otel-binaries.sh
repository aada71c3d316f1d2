#!/usr/bin/env bash
# Build the real Jaeger v2 and OpenTelemetry Collector binaries that `make jaeger`, `make collector` and the
# end-to-end tests (tests/e2e) use, from the Go module proxy, once per machine.
#
#   scripts/otel-binaries.sh build [jaeger|otelcol|all]   build what is missing (default: all)
#   scripts/otel-binaries.sh path jaeger|otelcol           print the binary's path (built or not)
#   scripts/otel-binaries.sh versions                      print the pinned versions
#   scripts/otel-binaries.sh clean                         remove the binaries and the Go caches below
#
# Settings: AGENTOPS_TOOLS_CACHE (the directory below), AGENTOPS_GO_JOBS (parallel compiles, default 2),
# AGENTOPS_KEEP_GO_CACHE=1 (keep Go's compile cache and unpacked modules after a build).
#
# Binaries: ${AGENTOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-agentops}/bin/<name>-<version>,
# keyed by version (the collector also by a hash of its manifest). Go's module and build caches for these
# builds live beside them (go/mod, go/build), never in the repo. Each build goes to a temporary directory and
# is renamed into place only when complete, under a lock: safe to re-run after an interruption, and two
# concurrent `make test` runs build once.
#
# Without Go: prints why and exits 0 (the e2e tests then skip), except under CI=true, where it fails.
set -euo pipefail

# Jaeger v2.13.0. Its v2 tags cannot be `go install`ed (the module path has no /v2 suffix), and the module
# proxy reachable here serves only the versions it lists (403 for @v2.13.0 and for @main), so we
# build the v1.76.0 module version: the tag on the same commit as v2.13.0. `go install pkg@version` refuses modules with replace directives (Jaeger
# has one), so the module is downloaded, copied out of the module cache and built in place.
JAEGER_VERSION=2.13.0
JAEGER_MODULE=github.com/jaegertracing/jaeger
JAEGER_MODULE_VERSION=v1.76.0
JAEGER_RELEASE_DATE=2025-12-03T16:07:08Z  # the tag's time, as the module proxy reports it
# The Collector Builder; the component versions are in collector-config/builder-config.yaml.
BUILDER_MODULE=go.opentelemetry.io/collector/cmd/builder
BUILDER_VERSION=v0.155.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="$ROOT/collector-config/builder-config.yaml"
CACHE="${AGENTOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-agentops}"
BIN_DIR="$CACHE/bin"

# The collector's cache key: its version and a hash of the manifest's content (comments left out).
manifest_hash() { grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$MANIFEST" | sha256sum | cut -c1-12; }
otelcol_version() { sed -n 's/^  version: *//p' "$MANIFEST" | head -n1; }

path_of() {
  case "$1" in
    jaeger) echo "$BIN_DIR/jaeger-$JAEGER_VERSION" ;;
    otelcol) echo "$BIN_DIR/otelcol-agentops-$(otelcol_version)-$(manifest_hash)" ;;
    *) echo "unknown binary: $1 (jaeger or otelcol)" >&2; return 2 ;;
  esac
}

log() { echo "[otel-binaries] $*" >&2; }

go_env() {
  # Go's caches outside the repo, writable (so `clean` can delete them), reproducible, static binaries;
  # at most 2 parallel compile jobs and a low priority: this machine has 2 cores shared with other work.
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOPATH="$CACHE/go/path"
  export GOFLAGS="-trimpath -modcacherw -buildvcs=false -p=${AGENTOPS_GO_JOBS:-2}"
  export CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
}

have_go() {
  if command -v go >/dev/null 2>&1; then return 0; fi
  if [[ "${CI:-}" == "true" ]]; then
    log "Go is not installed: the Jaeger and Collector binaries cannot be built (CI=true: failing)"
    exit 1
  fi
  log "Go is not installed: skipping the Jaeger and Collector builds (the e2e tests will skip)"
  return 1
}

# Binaries of earlier versions (or manifests) are deleted once their successor is in place.
forget_older() { find "$BIN_DIR" -maxdepth 1 -name "$1" ! -path "$2" -delete; }

build_jaeger() {
  local out tmp src started
  out="$(path_of jaeger)"
  [[ -x "$out" ]] && return 0
  started=$SECONDS
  log "building Jaeger $JAEGER_VERSION ($JAEGER_MODULE@$JAEGER_MODULE_VERSION) -> $out"
  tmp="$(mktemp -d "$CACHE/tmp/jaeger.XXXXXX")"
  src="$(go mod download -json "$JAEGER_MODULE@$JAEGER_MODULE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || { log "go mod download gave no directory for $JAEGER_MODULE@$JAEGER_MODULE_VERSION"; exit 1; }
  cp -R "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  local v="$JAEGER_MODULE/internal/version"
  (cd "$tmp/src" && nice -n 10 go build \
    -ldflags "-s -w -X $v.latestVersion=v$JAEGER_VERSION -X $v.commitSHA=$JAEGER_MODULE_VERSION -X $v.date=$JAEGER_RELEASE_DATE" \
    -o "$tmp/jaeger" ./cmd/jaeger)
  "$tmp/jaeger" version >/dev/null 2>&1 || { log "the built jaeger binary does not run"; exit 1; }
  mv -f "$tmp/jaeger" "$out"
  rm -rf "$tmp"
  forget_older "jaeger-*" "$out"
  log "Jaeger built in $((SECONDS - started)) s"
}

manifest_modules() { sed -n 's/^ *- gomod: *\([^ ]*\) \([^ ]*\).*/\1 \2/p' "$MANIFEST"; }

# Every `gomod:` line of the manifest must have resolved to exactly its version (run in the build dir).
check_otelcol_versions() {
  local module version resolved ok=0
  while read -r module version; do
    resolved="$(go list -m -f '{{.Version}}' "$module")"
    if [[ "$resolved" != "$version" ]]; then
      log "$module resolved to $resolved, the manifest says $version"
      ok=1
    fi
  done < <(manifest_modules)
  return $ok
}

build_otelcol() {
  local out tmp builder started
  out="$(path_of otelcol)"
  [[ -x "$out" ]] && return 0
  started=$SECONDS
  builder="$CACHE/tools/builder-$BUILDER_VERSION"
  if [[ ! -x "$builder" ]]; then
    log "installing the Collector Builder $BUILDER_MODULE@$BUILDER_VERSION"
    tmp="$(mktemp -d "$CACHE/tmp/builder.XXXXXX")"
    GOBIN="$tmp" nice -n 10 go install "$BUILDER_MODULE@$BUILDER_VERSION"
    mkdir -p "$CACHE/tools"
    mv -f "$tmp/builder" "$builder"
    rm -rf "$tmp"
  fi
  log "building the Collector from $MANIFEST -> $out"
  tmp="$(mktemp -d "$CACHE/tmp/otelcol.XXXXXX")"
  # The manifest's output_path is relative; build into the temporary directory instead.
  sed "s|^  output_path: .*|  output_path: $tmp/build|" "$MANIFEST" >"$tmp/manifest.yaml"
  # The builder generates the sources; go.mod and the compile are ours: the builder's `go mod tidy` also
  # wants the test-only dependencies of every component, and the module proxy does not serve all of those
  # (e.g. contrib's pkg/golden), so tidy runs with -e and the result is checked against the manifest.
  (cd "$tmp" && "$builder" --config "$tmp/manifest.yaml" --skip-get-modules --skip-compilation)
  (
    cd "$tmp/build"
    go mod init otelcol-agentops 2>/dev/null
    go mod edit -go=1.25 "-require=go.opentelemetry.io/collector/otelcol@v$(otelcol_version)"
    manifest_modules | while read -r module version; do go mod edit "-require=$module@$version"; done
    log "resolving modules (errors about test-only modules the proxy does not serve are expected)"
    go mod tidy -e
    check_otelcol_versions
    nice -n 10 go build -ldflags "-s -w" -o otelcol-agentops .
  )
  "$tmp/build/otelcol-agentops" --version >/dev/null || { log "the built collector does not run"; exit 1; }
  mv -f "$tmp/build/otelcol-agentops" "$out"
  rm -rf "$tmp"
  forget_older "otelcol-agentops-*" "$out"
  log "Collector built in $((SECONDS - started)) s"
}

build() {
  local what="${1:-all}"
  case "$what" in jaeger | otelcol | all) ;; *) log "unknown target: $what"; exit 2 ;; esac
  if [[ "$what" == all ]]; then
    [[ -x "$(path_of jaeger)" && -x "$(path_of otelcol)" ]] && return 0
  else
    [[ -x "$(path_of "$what")" ]] && return 0
  fi
  have_go || return 0
  mkdir -p "$BIN_DIR" "$CACHE/tmp"
  go_env
  # One build at a time per machine; a second caller waits, then finds the binary there.
  exec 9>"$CACHE/build.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  # Left-overs of an interrupted build (never a finished binary: those are renamed into place).
  find "$CACHE/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  case "$what" in
    jaeger) build_jaeger ;;
    otelcol) build_otelcol ;;
    all) build_jaeger && build_otelcol ;;
  esac
  trim_go_caches
}

# Once the binaries exist, Go's caches only serve a rebuild after a version bump: the compile cache and
# the unpacked module sources (about 5 GB) go, the downloaded module zips (about 0.6 GB) stay, so a
# rebuild needs no network. AGENTOPS_KEEP_GO_CACHE=1 keeps everything.
trim_go_caches() {
  [[ "${AGENTOPS_KEEP_GO_CACHE:-}" == 1 ]] && return 0
  go clean -cache
  find "$GOMODCACHE" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +
  log "trimmed the Go caches: $(du -sh "$CACHE" | cut -f1) in $CACHE"
}

main() {
  case "${1:-build}" in
    build) build "${2:-all}" ;;
    path) path_of "${2:?jaeger or otelcol}" ;;
    versions)
      echo "jaeger $JAEGER_VERSION (module $JAEGER_MODULE@$JAEGER_MODULE_VERSION)"
      echo "otelcol-agentops $(otelcol_version) (builder $BUILDER_MODULE@$BUILDER_VERSION, manifest $(manifest_hash))"
      ;;
    clean)
      [[ -d "$CACHE/go/mod" ]] && chmod -R u+w "$CACHE/go/mod"
      rm -rf "$CACHE"
      ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
  esac
}

# One line, parsed whole before it runs: editing this file during a build cannot derail it.
main "$@"; exit $?
