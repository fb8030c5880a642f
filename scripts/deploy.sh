#!/usr/bin/env bash
# The runbook's redeploy commands, now durable workflows followed to the end:
#   ./scripts/deploy.sh envoy [--image IMAGE] [--proxy NAME] [--timeout SECONDS] [--dry-run]
# Recreates the proxy container on IMAGE (default redisforge/envoy:$ENVOY_VERSION, from the
# environment or .env, as docker-compose.yml builds it), awaits its readiness and rolls back to
# the previous image when it does not get ready. NAME is the proxy in the worker's inventory
# (default $REDISFORGE_PROXY or "envoy"). Temporal connection: TEMPORAL_ADDRESS, ... as for the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

[ $# -ge 1 ] || usage
target=$1; shift
proxy=${REDISFORGE_PROXY:-envoy}; image=""; timeout=""; dry_run=false
while [ $# -gt 0 ]; do
  case $1 in
    --image) image=${2:-}; shift 2 ;;
    --proxy) proxy=${2:-}; shift 2 ;;
    --timeout) timeout=${2:-}; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage ;;
    *) echo "deploy.sh: unknown option $1" >&2; usage ;;
  esac
done

case $target in
  envoy)
    if [ -z "$image" ]; then
      version=${ENVOY_VERSION:-}
      [ -z "$version" ] && [ -f .env ] && version=$(sed -n 's/^ENVOY_VERSION=//p' .env | tail -1 | tr -d "\"'")
      [ -n "$version" ] || { echo "deploy.sh: give --image IMAGE, or set ENVOY_VERSION (in .env, as the runbook says)" >&2; exit 2; }
      image="redisforge/envoy:$version"
    fi
    input="{\"proxy\":$(json_str "$proxy"),\"image\":$(json_str "$image")"
    [ -n "$timeout" ] && input="$input,\"timeoutSeconds\":$timeout"
    [ "$dry_run" = true ] && input="$input,\"dryRun\":true"
    exec bash scripts/node-lts.sh --exec bin/redisforge.js start upgradeEnvoy --input "$input}" --wait ;;
  *) echo "deploy.sh: unknown target $target (this script deploys: envoy)" >&2; usage ;;
esac
