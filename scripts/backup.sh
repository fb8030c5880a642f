#!/usr/bin/env bash
# The runbook's "Trigger Manual Backup", now the durable backupCluster workflow, followed to the end:
#   ./scripts/backup.sh [--cluster NAME] [--source replica|master] [--retain-count N] [--retain-days D]
#                       [--store NAME] [--compression none|gzip]
# --cluster defaults to $REDISFORGE_CLUSTER or "main". Prints the report (backup id, keys, bytes).
# Runs `redisforge backup` (see its --help for every flag; --json for machine output).
# Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ... as for the Temporal CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

case ${1:-} in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
exec bash scripts/node-lts.sh --exec bin/redisforge.js backup "$@"
