#!/usr/bin/env bash
# npm test: setup, then lint, typecheck, the unit tests on Node 20 and 24, and every suite (unit and
# servers) on the project's Node (22 LTS unless the machine's node is 22 or newer; see
# scripts/node-lts.sh). Extra arguments go to the last jest run, e.g. `npm test -- test/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --quiet
node=$(bash scripts/node-lts.sh)
# Everything below (npx, the tools' `#!/usr/bin/env node`, the workers the tests spawn) runs on it.
export REDISFORGE_MACHINE_PATH="${REDISFORGE_MACHINE_PATH:-$PATH}"
export PATH="$(dirname "$node"):$PATH"
echo "test: Node $(node --version) ($node)"

npx eslint .
npx tsc --noEmit
bash scripts/unit-node.sh 20 24
npx jest --runInBand --forceExit "$@"
