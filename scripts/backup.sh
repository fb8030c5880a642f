#!/usr/bin/env bash
# The runbook's "Trigger Manual Backup", now the durable backupCluster workflow, followed to the end:
#   ./scripts/backup.sh [--cluster NAME] [--source replica|master] [--retain-count N] [--retain-days D]
#                       [--store NAME] [--compression none|gzip]
# --cluster defaults to $REDISFORGE_CLUSTER or "main". Prints the report (backup id, keys, bytes).
# Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ... as for the Temporal CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
number() { [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "backup.sh: $1 expects a number, got \"$2\"" >&2; exit 2; }; printf '%s' "$2"; }

cluster=${REDISFORGE_CLUSTER:-main}; input=""; retain=""
while [ $# -gt 0 ]; do
  case $1 in
    --cluster) cluster=${2:-}; shift 2 ;;
    --source) input="$input,\"source\":$(json_str "${2:-}")"; shift 2 ;;
    --store) input="$input,\"store\":$(json_str "${2:-}")"; shift 2 ;;
    --compression) input="$input,\"compression\":$(json_str "${2:-}")"; shift 2 ;;
    --retain-count) retain="$retain,\"count\":$(number "$1" "${2:-}")"; shift 2 ;;
    --retain-days) retain="$retain,\"days\":$(number "$1" "${2:-}")"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "backup.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$retain" ] && input="$input,\"retain\":{${retain#,}}"
exec npx tsx src/client/follow.ts backupCluster "{\"cluster\":$(json_str "$cluster")$input}"
