#!/usr/bin/env bash
# The runbook's upgrade commands, now durable workflows followed to the end:
#   ./scripts/deploy.sh redis [VERSION] [--cluster NAME] [--shards-in-parallel N] [--dry-run]
#   ./scripts/deploy.sh envoy [--image IMAGE] [--proxy NAME] [--timeout SECONDS] [--dry-run]
# redis: a rolling upgradeRedis of cluster NAME (default as for redisforge: $REDISFORGE_CLUSTER or
# "main") to VERSION, default REDIS_VERSION from .env (runbook step 1: edit .env, then deploy).
# Once every node runs VERSION, .env says REDIS_VERSION=VERSION, so docker-compose.yml builds and
# starts what runs; a failed or dry run leaves .env as it was.
# envoy: recreates the proxy container on IMAGE (default redisforge/envoy:$ENVOY_VERSION, from the
# environment or .env, as docker-compose.yml builds it), awaits its readiness and rolls back to
# the previous image when it does not get ready. NAME is the proxy in the worker's inventory
# (default $REDISFORGE_PROXY or "envoy").
# Temporal connection: TEMPORAL_ADDRESS, ... as for the CLI. REDISFORGE_ENV_FILE names another
# .env. Exit codes are redisforge's: 0 done, 1 the procedure failed, 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
ENV_FILE=${REDISFORGE_ENV_FILE:-.env}
# The last KEY=value of the env file, without quotes; empty when there is none.
env_value() { [ -f "$ENV_FILE" ] && sed -n "s/^$1=//p" "$ENV_FILE" | tail -1 | tr -d "\"'" || true; }
# Sets KEY=value in the env file, keeping every other line; written beside it, then renamed.
set_env_value() {
  local tmp="$ENV_FILE.deploy.$$"
  if [ -f "$ENV_FILE" ] && grep -q "^$1=" "$ENV_FILE"; then
    sed "s/^$1=.*/$1=$2/" "$ENV_FILE" >"$tmp"
  else
    { [ -f "$ENV_FILE" ] && cat "$ENV_FILE"; echo "$1=$2"; } >"$tmp"
  fi
  [ -f "$ENV_FILE" ] && chmod --reference="$ENV_FILE" "$tmp"
  mv "$tmp" "$ENV_FILE"
}
cli() { bash scripts/node-lts.sh --exec bin/redisforge.js "$@"; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

[ $# -ge 1 ] || usage
target=$1; shift
proxy=${REDISFORGE_PROXY:-envoy}; image=""; timeout=""; dry_run=false; version=""; cluster=""; parallel=""
if [ "$target" = redis ] && [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then version=$1; shift; fi
while [ $# -gt 0 ]; do
  case $1 in
    --image) image=${2:-}; shift 2 ;;
    --proxy) proxy=${2:-}; shift 2 ;;
    --timeout) timeout=${2:-}; shift 2 ;;
    --cluster) cluster=${2:-}; shift 2 ;;
    --shards-in-parallel) parallel=${2:-}; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage ;;
    *) echo "deploy.sh: unknown option $1" >&2; usage ;;
  esac
done

case $target in
  redis)
    if [ -z "$version" ]; then
      version=$(env_value REDIS_VERSION)
      [ -n "$version" ] || { echo "deploy.sh: give the VERSION (deploy.sh redis 8.0.2), or set REDIS_VERSION in $ENV_FILE, as the runbook says" >&2; exit 2; }
    fi
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "deploy.sh: VERSION \"$version\" is not a Redis version: give major.minor.patch, e.g. 8.0.2" >&2; exit 2; }
    args=(upgrade redis "$version" --wait)
    [ -n "$cluster" ] && args+=(--cluster "$cluster")
    [ -n "$parallel" ] && args+=(--shards-in-parallel "$parallel")
    [ "$dry_run" = true ] && args+=(--dry-run)
    code=0
    cli "${args[@]}" || code=$?
    if [ "$code" = 0 ] && [ "$dry_run" = false ] && [ "$(env_value REDIS_VERSION)" != "$version" ]; then
      set_env_value REDIS_VERSION "$version"
      echo "deploy.sh: $ENV_FILE now says REDIS_VERSION=$version"
    elif [ "$code" != 0 ]; then
      echo "deploy.sh: the upgrade did not complete; $ENV_FILE left as it was (REDIS_VERSION=$(env_value REDIS_VERSION))" >&2
    fi
    exit "$code" ;;
  envoy)
    if [ -z "$image" ]; then
      version=${ENVOY_VERSION:-$(env_value ENVOY_VERSION)}
      [ -n "$version" ] || { echo "deploy.sh: give --image IMAGE, or set ENVOY_VERSION (in $ENV_FILE, as the runbook says)" >&2; exit 2; }
      image="redisforge/envoy:$version"
    fi
    input="{\"proxy\":$(json_str "$proxy"),\"image\":$(json_str "$image")"
    [ -n "$timeout" ] && input="$input,\"timeoutSeconds\":$timeout"
    [ "$dry_run" = true ] && input="$input,\"dryRun\":true"
    cli start upgradeEnvoy --input "$input}" --wait ;;
  *) echo "deploy.sh: unknown target $target (this script deploys: redis, envoy)" >&2; usage ;;
esac
