#!/usr/bin/env bash
# The runbook's scaling commands, now durable workflows (addNode, removeNode) followed to the end:
#   ./scripts/scale.sh add <ip>:<port> --role master
#   ./scripts/scale.sh add <ip>:<port> --role replica --replica-of <master-id>
#   ./scripts/scale.sh remove <node-id>
# Options: --cluster NAME (default $REDISFORGE_CLUSTER or "main"), --no-rebalance (add master).
# Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ... as for the Temporal CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

[ $# -ge 2 ] || usage
action=$1; target=$2; shift 2
cluster=${REDISFORGE_CLUSTER:-main}; role=""; replica_of=""; rebalance=true
while [ $# -gt 0 ]; do
  case $1 in
    --role) role=${2:-}; shift 2 ;;
    --replica-of) replica_of=${2:-}; shift 2 ;;
    --cluster) cluster=${2:-}; shift 2 ;;
    --no-rebalance) rebalance=false; shift ;;
    -h|--help) usage ;;
    *) echo "scale.sh: unknown option $1" >&2; usage ;;
  esac
done

case $action in
  add)
    [ -n "$role" ] || { echo "scale.sh: add needs --role master or --role replica" >&2; exit 2; }
    input="{\"cluster\":$(json_str "$cluster"),\"address\":$(json_str "$target"),\"role\":$(json_str "$role")"
    [ -n "$replica_of" ] && input="$input,\"replicaOf\":$(json_str "$replica_of")"
    [ "$role" = master ] && input="$input,\"rebalance\":$rebalance"
    exec npx tsx src/client/follow.ts addNode "$input}" ;;
  remove)
    exec npx tsx src/client/follow.ts removeNode "{\"cluster\":$(json_str "$cluster"),\"node\":$(json_str "$target")}" ;;
  *) usage ;;
esac
