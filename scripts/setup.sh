#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 (bookworm) machine, as root: the Debian packages the
# sandbox and the tests drive for real, the npm dependencies, and the build in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node -v 2>/dev/null || echo none))" >&2
  exit 1
fi

PKGS=(openvswitch-switch ovn-central ovn-host containernetworking-plugins iperf3 iproute2 iptables
  iputils-ping ethtool util-linux python3-openvswitch python3-netaddr python3-pyparsing
  openvswitch-switch-dpdk containerd runc busybox-static gcc libc6-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

# npm ci only when package-lock.json changed since the last install (it wipes node_modules).
stamp=node_modules/.ovs-offload-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi

node scripts/build.mjs --quiet
