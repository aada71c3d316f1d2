#!/usr/bin/env bash
# Usage: ensure-debian-tool.sh COMMAND PACKAGE
# Make sure COMMAND (e.g. promtool, redis-server) is on PATH for the tests that need it: when it is missing
# and we are root with apt-get, install Debian's PACKAGE, which ships it. Otherwise say why and exit 0 (the
# tests then skip), except under CI=true, where it fails.
set -euo pipefail

tool=${1:?usage: ensure-debian-tool.sh COMMAND PACKAGE}
package=${2:?usage: ensure-debian-tool.sh COMMAND PACKAGE}
log() { echo "[ensure-$tool] $*" >&2; }
install_log=/tmp/ensure-$tool.log

if command -v "$tool" >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  log "$tool missing: installing Debian's $package package"
  export DEBIAN_FRONTEND=noninteractive
  # The package's service is never started: no init system here, and a policy-rc.d that says no to
  # services is added for the install if there is none.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  trap 'if [[ $added_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
  if ! apt-get install -y -q --no-install-recommends "$package" >"$install_log" 2>&1; then
    apt-get update -q >>"$install_log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "$package" >>"$install_log" 2>&1 || true
  fi
  if command -v "$tool" >/dev/null 2>&1; then
    log "installed $("$tool" --version 2>&1 | head -n1)"
    exit 0
  fi
  log "apt-get could not install $package (see $install_log)"
fi
if [[ "${CI:-}" == "true" ]]; then
  log "$tool is not available and cannot be installed here (CI=true: failing)"
  exit 1
fi
log "$tool is not available (not root, or no apt-get): the tests that need it will skip"
