#!/usr/bin/env bash
# Make sure promtool (Prometheus' rule checker and rule unit-test runner) is on PATH for the alert-rule
# tests: when it is missing and we are root with apt-get, install Debian's `prometheus` package, which
# ships it. Otherwise say why and exit 0 (the tests then skip), except under CI=true, where it fails.
set -euo pipefail

log() { echo "[ensure-promtool] $*" >&2; }

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  log "promtool missing: installing Debian's prometheus package (it ships promtool)"
  export DEBIAN_FRONTEND=noninteractive
  # The package's service is never started: no init system here, and a policy-rc.d that says no to
  # services is added for the install if there is none.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  trap 'if [[ $added_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
  if ! apt-get install -y -q --no-install-recommends prometheus >/tmp/ensure-promtool.log 2>&1; then
    apt-get update -q >>/tmp/ensure-promtool.log 2>&1 || true
    apt-get install -y -q --no-install-recommends prometheus >>/tmp/ensure-promtool.log 2>&1 || true
  fi
  if command -v promtool >/dev/null 2>&1; then
    log "installed $(promtool --version 2>&1 | head -n1)"
    exit 0
  fi
  log "apt-get could not install prometheus (see /tmp/ensure-promtool.log)"
fi
if [[ "${CI:-}" == "true" ]]; then
  log "promtool is not available and cannot be installed here (CI=true: failing)"
  exit 1
fi
log "promtool is not available (not root, or no apt-get): the alert-rule tests will skip"
