#!/usr/bin/env bash
# The runbook's scaling commands, now durable workflows (addNode, removeNode) followed to the end:
#   ./scripts/scale.sh add <ip>:<port> --role master
#   ./scripts/scale.sh add <ip>:<port> --role replica --replica-of <master-id>
#   ./scripts/scale.sh remove <node-id>
# Options: --cluster NAME (default $REDISFORGE_CLUSTER or "main"), --no-rebalance (add master).
# Runs `redisforge add-node` / `redisforge remove-node` (see their --help for every flag).
# Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ... as for the Temporal CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
action=$1; target=$2; shift 2
case $action in
  add) exec bash scripts/node-lts.sh --exec bin/redisforge.js add-node "$target" "$@" ;;
  remove) exec bash scripts/node-lts.sh --exec bin/redisforge.js remove-node "$target" "$@" ;;
  *) usage ;;
esac
