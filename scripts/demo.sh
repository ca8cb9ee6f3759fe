#!/usr/bin/env bash
# The main job on the embedded default, with its own set-up: `ovs-offload demo` builds a
# sandbox node (real OVS + OVN, emulated switchdev NIC) and runs pods through it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bin/ovs-offload demo "$@"
