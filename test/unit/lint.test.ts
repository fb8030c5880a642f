/**
 * The house's floors are enforced by lint: each layer's import rule refuses an import from a floor
 * above it and lets a legitimate one through. Probes are linted as text under virtual paths in
 * src/<layer>/ with the project's own ESLint config, so nothing is written into the tree.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const RULE = '@typescript-eslint/no-restricted-imports';

interface Probe {
  /** Where the probe pretends to live: which layer's rule applies. */
  file: string;
  code: string;
  /** The message the import is refused with; none when it is allowed. */
  refused?: RegExp;
}

const WORKFLOW = /Workflow/;
const PROBES: Record<string, Probe> = {
  // Workflows: the sandbox (no I/O), activities by type only, nothing of the client's.
  ioredis: { file: 'src/workflows/probe.ts', code: "import Redis from 'ioredis';\nexport const x = Redis;\n", refused: WORKFLOW },
  nodeFs: { file: 'src/workflows/probe.ts', code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", refused: WORKFLOW },
  awsSdk: { file: 'src/workflows/probe.ts', code: "import { S3Client } from '@aws-sdk/client-s3';\nexport const x = S3Client;\n", refused: WORKFLOW },
  dockerode: { file: 'src/workflows/probe.ts', code: "import Docker from 'dockerode';\nexport const x = Docker;\n", refused: WORKFLOW },
  activities: { file: 'src/workflows/probe.ts', code: "import { createActivities } from '../activities';\nexport const x = createActivities;\n", refused: WORKFLOW },
  typeOnly: { file: 'src/workflows/probe.ts', code: "import type { Activities } from '../activities';\nexport type A = Activities;\n" },
  workflowClient: { file: 'src/workflows/probe.ts', code: "import { connectClient } from '../client/connection';\nexport const x = connectClient;\n", refused: /Workflows sit below the client/ },
  workflowShared: { file: 'src/workflows/probe.ts', code: "import { progressQuery } from '../shared';\nexport const x = progressQuery;\n" },
  // src/cluster: the pure bottom floor.
  clusterRuntime: { file: 'src/cluster/probe.ts', code: "import { createRuntime } from '../runtime';\nexport const x = createRuntime;\n", refused: /src\/cluster is the bottom floor/ },
  clusterIo: { file: 'src/cluster/probe.ts', code: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", refused: /src\/cluster is the pure Redis Cluster model/ },
  clusterValidation: { file: 'src/cluster/probe.ts', code: "import { formatIssues } from '../validation';\nexport const x = formatIssues;\n" },
  // src/shared: names only, safe in the sandbox.
  sharedOurs: { file: 'src/shared.ts', code: "import { TASK_QUEUE } from './client/connection';\nexport const x = TASK_QUEUE;\n", refused: /src\/shared holds the names/ },
  sharedIo: { file: 'src/shared.ts', code: "import { env } from 'node:process';\nexport const x = env;\n", refused: /src\/shared is loaded into the workflow sandbox/ },
  sharedTemporal: { file: 'src/shared.ts', code: "import { defineQuery } from '@temporalio/workflow';\nexport const x = defineQuery;\n" },
  // config, credentials, runtime, storage, codec, util: below the activities.
  runtimeActivities: { file: 'src/runtime/probe.ts', code: "import { createActivities } from '../activities';\nexport const x = createActivities;\n", refused: /sit below the activities/ },
  storageShared: { file: 'src/storage/probe.ts', code: "import { progressQuery } from '../shared';\nexport const x = progressQuery;\n", refused: /sit below the activities/ },
  configWorkflows: { file: 'src/config.ts', code: "import { clusterLock } from './workflows';\nexport const x = clusterLock;\n", refused: /sit below the activities/ },
  runtimeConfig: { file: 'src/runtime/probe.ts', code: "import type { ClusterConfig } from '../config';\nexport type C = ClusterConfig;\n" },
  // Activities: below workflows and the client.
  activitiesWorkflows: { file: 'src/activities/probe.ts', code: "import { clusterLock } from '../workflows/clusterLock';\nexport const x = clusterLock;\n", refused: /Activities sit below workflows and the client/ },
  activitiesClient: { file: 'src/activities/redis/probe.ts', code: "import { connectClient } from '../../client/connection';\nexport const x = connectClient;\n", refused: /Activities sit below workflows and the client/ },
  activitiesShared: { file: 'src/activities/probe.ts', code: "import { lockWorkflowId } from '../shared';\nexport const x = lockWorkflowId;\n" },
  // "@temporalio/client" is a package, not our src/client.
  activitiesTemporalClient: { file: 'src/activities/probe.ts', code: "import { Client } from '@temporalio/client';\nexport const x = Client;\n" },
  // The client: workflows and shared names, never the worker's side effects.
  clientActivities: { file: 'src/client/probe.ts', code: "import { createActivities } from '../activities';\nexport const x = createActivities;\n", refused: /The client starts and reads workflows/ },
  clientStorage: { file: 'src/client/cli/probe.ts', code: "import { createStore } from '../../storage';\nexport const x = createStore;\n", refused: /The client starts and reads workflows/ },
  clientActivityTypes: { file: 'src/client/probe.ts', code: "import type { ClusterSpec } from '../activities';\nexport type S = ClusterSpec;\n" },
  clientWorkflows: { file: 'src/client/probe.ts', code: "import { progressQuery } from '../shared';\nimport { clusterHealthInput } from '../workflows/inputs';\nexport const x = [progressQuery, clusterHealthInput];\n" },
};

/**
 * Run in a child process: ESLint loads its flat config (an ES module) by dynamic import, which
 * Jest's module sandbox does not provide. Type-aware parsing is off for probes that are not on
 * disk; the import rule needs no types.
 */
const LINTER = `
const { ESLint } = require('eslint');
const probes = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === ${JSON.stringify(RULE)},
});
(async () => {
  const out = {};
  for (const [name, { file, code }] of Object.entries(probes)) {
    const [result] = await eslint.lintText(code, { filePath: file });
    out[name] = result.messages.map((m) => (m.ruleId ? m.message : 'not linted: ' + m.message));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

let messages: Record<string, string[]>;

beforeAll(() => {
  const run = spawnSync(process.execPath, ['-e', LINTER], { cwd: ROOT, input: JSON.stringify(PROBES), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`eslint probe run failed: ${run.stderr}`);
  messages = JSON.parse(run.stdout) as Record<string, string[]>;
}, 60_000);

const refused = Object.entries(PROBES).filter(([, p]) => p.refused);
const allowed = Object.entries(PROBES).filter(([, p]) => !p.refused);

test.each(refused)('%s: the import is refused by its layer rule', (name, probe) => {
  expect(messages[name]).toHaveLength(1);
  expect(messages[name]![0]).toMatch(probe.refused!);
});

test.each(allowed)('%s: the import is allowed', (name) => {
  expect(messages[name]).toEqual([]);
});
