#!/usr/bin/env bash
# Installs the Debian packages listed in tools/apt-packages.txt that are missing.
# Runs apt-get only when something is missing, so a warm machine pays nothing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$repo/tools/apt-packages.txt")
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#wanted[@]} Debian packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps package scripts from starting daemons on this machine: tests start
# their own haproxy/xinetd/keepalived/sshd instances on their own ports.
had_policy=false; [[ -e /usr/sbin/policy-rc.d ]] && had_policy=true
$had_policy || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
$had_policy || rm -f /usr/sbin/policy-rc.d
echo "install-deps.sh: done"
