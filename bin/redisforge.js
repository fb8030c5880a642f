#!/usr/bin/env node
// The redisforge CLI. Installed from the package, it runs the compiled JavaScript (dist/, built by
// `npm run build`). In a source checkout it runs the TypeScript itself through tsx (a dev
// dependency), so no build stands between an edit and a run.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const source = join(__dirname, '..', 'src', 'client', 'cli', 'main.ts');
if (existsSync(source)) {
  require('tsx/cjs');
  require(source);
} else {
  require('../dist/client/cli/main.js');
}
