#!/usr/bin/env bash
# Starts a whole homecloud cluster on this machine (5 simulated boards by default)
# and shows it live until Ctrl-C. Extra arguments go to `homecloud lab up`, e.g.
#   bash scripts/lab.sh --boards pi5,pi5,pi4,x86,x86
#   sudo bash scripts/lab.sh --netns        (each node in its own network namespace)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
. scripts/node.sh && homecloud_use_node   # the pinned Node.js, fetched by setup
exec node bin/homecloud.js lab up "$@"
