#!/usr/bin/env bash
# Installs everything the project needs on this machine; idempotent, and a few seconds when all
# is there. npm test and npm run demo call it first.
#   --quiet   print only what it changes
set -euo pipefail
cd "$(dirname "$0")/.."

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }
act() { echo "setup: $*"; }

CACHE="${REDISFORGE_CACHE:-$HOME/.cache/redisforge}"
TEMPORAL_CLI_VERSION=1.5.1
mkdir -p "$CACHE"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  act "installing Debian packages: $*"
  # Keep the packages' own services (the systemd redis on 6379) from starting in the tests' way.
  printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
  as_root chmod +x /usr/sbin/policy-rc.d
  trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  if [ ! -f "$CACHE/.apt-updated" ] || [ -n "$(find "$CACHE/.apt-updated" -mmin +1440 2>/dev/null)" ]; then
    as_root apt-get update -qq && touch "$CACHE/.apt-updated"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  as_root rm -f /usr/sbin/policy-rc.d
  trap - EXIT
}

# 0. Node: the project runs on Node 22 LTS or newer (package.json's engines). When the machine's
#    node is older, a pinned Node 22 from npm, cached outside the work tree (scripts/node-lts.sh);
#    and a pinned Node 24 and 20 too, for the unit tests on each (scripts/unit-node.sh).
NODE_BIN=$(bash scripts/node-lts.sh)
for major in 20 24; do bash scripts/node-lts.sh "$major" >/dev/null; done
say "Node $("$NODE_BIN" --version) ($NODE_BIN); unit tests also on $(bash scripts/node-lts.sh --version 20) and $(bash scripts/node-lts.sh --version 24)"

# 1. Node dependencies, when missing or older than package-lock.json (installed by the project's Node).
if [ ! -d node_modules ] || ! cmp -s package-lock.json node_modules/.redisforge-lock 2>/dev/null; then
  act "npm ci"
  PATH="$(dirname "$NODE_BIN"):$PATH" npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.redisforge-lock
else
  say "node_modules up to date"
fi

# 2. Redis 7 from Debian.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_install redis-server redis-tools
fi
if [ -x /etc/init.d/redis-server ] && pgrep -x redis-server >/dev/null && redis-cli -p 6379 ping >/dev/null 2>&1; then
  act "stopping the packaged redis-server on port 6379"
  as_root /etc/init.d/redis-server stop >/dev/null 2>&1 || true
fi
say "$(redis-server --version | cut -d' ' -f1-3)"

# 3. The Temporal CLI (dev server and Web UI), pinned, cached outside the work tree.
temporal_ok() {
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^temporal version \([0-9][0-9.]*\).*/\1/p')
  [ -n "$v" ] && [ "$(printf '%s\n1.5.0\n' "$v" | sort -V | head -1)" = "1.5.0" ]
}
TEMPORAL_BIN="$CACHE/temporal-$TEMPORAL_CLI_VERSION/temporal"
if [ -x "$TEMPORAL_BIN" ]; then
  say "temporal CLI $TEMPORAL_CLI_VERSION: $TEMPORAL_BIN"
elif command -v temporal >/dev/null && temporal_ok "$(command -v temporal)"; then
  say "temporal CLI from PATH: $(command -v temporal)"
else
  command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
  act "building the temporal CLI $TEMPORAL_CLI_VERSION with go install (a few minutes, once per machine)"
  start=$(date +%s)
  if ! GOBIN="$CACHE/temporal-$TEMPORAL_CLI_VERSION" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION"; then
    echo "setup: go install of the temporal CLI failed; see the error above" >&2
    exit 1
  fi
  act "temporal CLI built in $(( $(date +%s) - start )) s: $TEMPORAL_BIN"
fi

# 3a. `temporal` on PATH, so README's `temporal workflow execute ...` runs as printed in a new
#     shell: a link to the pinned CLI where this user may write one on PATH, else the line to add.
#     A temporal already on PATH that is new enough is left alone.
# (go install leaves the pinned build's --version at 0.0.0-DEV, so it is known by its path.)
on_path=$(command -v temporal 2>/dev/null || true)
if [ -n "$on_path" ] && { [ "$(readlink -f "$on_path")" = "$(readlink -f "$TEMPORAL_BIN")" ] || temporal_ok "$on_path"; }; then
  say "temporal on PATH: $on_path"
elif [ -x "$TEMPORAL_BIN" ]; then
  linked=
  for dir in /usr/local/bin "$HOME/.local/bin"; do
    case ":$PATH:" in *":$dir:"*) ;; *) continue ;; esac
    if [ -d "$dir" ] && [ -w "$dir" ] && ln -sf "$TEMPORAL_BIN" "$dir/temporal" 2>/dev/null; then
      act "linked $dir/temporal to the temporal CLI $TEMPORAL_CLI_VERSION"
      linked=1
      break
    fi
  done
  [ -n "$linked" ] || echo "setup: the temporal CLI is not on PATH; add it with: export PATH=\"$(dirname "$TEMPORAL_BIN"):\$PATH\"" >&2
fi

# 3b. versitygw, the S3-compatible server the backup store tests run against, pinned and cached
#     like the Temporal CLI (test/harness/s3Server.ts looks for it there).
install_versitygw() {
  local version=1.8.0 bin start
  bin="$CACHE/versitygw-$version/versitygw"
  if [ -x "$bin" ]; then
    say "versitygw $version: $bin"
    return
  fi
  command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
  act "building versitygw $version with go install (about a minute, once per machine)"
  start=$(date +%s)
  if ! GOBIN="$CACHE/versitygw-$version" go install "github.com/versity/versitygw/cmd/versitygw@v$version"; then
    echo "setup: go install of versitygw failed; see the error above" >&2
    exit 1
  fi
  act "versitygw built in $(( $(date +%s) - start )) s: $bin"
}
install_versitygw

# 3b'. Debian's prometheus (and promtool): the metrics suite scrapes the worker and tests the alert rules.
command -v prometheus >/dev/null && command -v promtool >/dev/null || apt_install prometheus

# 3c. Debian's chromium, which the Web UI test drives with playwright-core (no browser download).
command -v chromium >/dev/null || apt_install chromium
say "$(chromium --version 2>/dev/null | head -1)"

# 4. A Docker engine and the Redis node images, for the docker test suite and the docker runtime.
if [ "${REDISFORGE_SKIP_DOCKER:-}" != 1 ]; then
  command -v dockerd >/dev/null || apt_install docker.io
  [ -x /bin/busybox ] || apt_install busybox-static
  command -v debootstrap >/dev/null || apt_install debootstrap
  # A registry on 127.0.0.1 for the image-pull tests (test/docker/registry.test.ts starts its own), and htpasswd for its users.
  command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || apt_install docker-registry apache2-utils
  if ! docker info >/dev/null 2>&1; then
    act "starting dockerd (no bridge, no iptables: containers use host networking)"
    nohup dockerd --bridge=none --iptables=false --ip6tables=false >"$CACHE/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see $CACHE/dockerd.log" >&2; exit 1; }
  fi
  bash scripts/build-images.sh
  say "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), images: $(docker images --format '{{.Repository}}:{{.Tag}}' 'redisforge/*' | sort | tr '\n' ' ')"
fi
