#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when missing. Safe to run repeatedly.
set -u
need=()
# (filled in by the components that need system packages)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "system-deps: not root, cannot install ${need[*]}; tests needing them will skip"; exit 0; fi
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || echo "system-deps: could not install ${need[*]}; tests needing them will skip"
