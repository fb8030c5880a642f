#!/usr/bin/env bash
# Runs the unit tests on each Node major given (default: 20 22 24), each a pinned release installed
# by scripts/node-lts.sh when the machine has no node of that major. Stops at the first that fails.
#   scripts/unit-node.sh [MAJOR ...]
set -euo pipefail
cd "$(dirname "$0")/.."

for major in "${@:-20 22 24}"; do
  for m in $major; do
    node=$(bash scripts/node-lts.sh "$m")
    echo "unit tests on Node $("$node" --version) ($node)"
    start=$(date +%s)
    if ! "$node" node_modules/jest/bin/jest.js --selectProjects unit --silent; then
      echo "unit-node: the unit tests failed on Node $("$node" --version)" >&2
      exit 1
    fi
    echo "unit tests on Node $("$node" --version): passed in $(($(date +%s) - start)) s"
  done
done
