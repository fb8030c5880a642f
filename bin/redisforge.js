#!/usr/bin/env node
// The redisforge CLI: runs its TypeScript source through tsx (a dependency), no build step.
'use strict';
require('tsx/cjs');
require('../src/client/cli/main.ts');
