#!/usr/bin/env bash
# Make sure the tools tests/remote needs are there: sshd (openssh-server) and socat. Does nothing when they are.
# As root on Debian, installs the missing packages; never starts or enables a service (the tests start sshd and
# socat themselves, on 127.0.0.1, and stop them by process id).
set -euo pipefail

say() { printf 'ensure-remote-tools: %s\n' "$*" >&2; }

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v socat >/dev/null 2>&1 || missing+=(socat)
if [ "${#missing[@]}" -eq 0 ]; then
  say "sshd and socat present"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  say "missing ${missing[*]}: install them (the remote-host tests need them)"
  exit 1
fi
say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d exiting 101: the package's own start-up is not wanted (the tests start sshd by hand)
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq "${missing[@]}" >/dev/null
