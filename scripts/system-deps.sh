#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when missing. Safe to run repeatedly.
set -u
need=()
# (filled in by the components that need system packages)
# image builds (tests/deploy): a real dockerd, a static busybox for a locally made base image, and
# Distribution's registry binary to push to on 127.0.0.1 (nothing can be pulled from outside)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "system-deps: not root, cannot install ${need[*]}; tests needing them will skip"; exit 0; fi
apt-get update -qq >/dev/null 2>&1 || true
# docker.io and docker-registry ship services: never let the install start them (dockerd with its default
# flags rewrites the host's network); the tests start their own with safe flags.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || echo "system-deps: could not install ${need[*]}; tests needing them will skip"
