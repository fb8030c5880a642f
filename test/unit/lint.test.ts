/** The sandbox rule is enforced by lint: workflow code that imports I/O modules fails `npm run lint`. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const PROBES = {
  ioredis: "import Redis from 'ioredis';\nexport const x = Redis;\n",
  nodeFs: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
  awsSdk: "import { S3Client } from '@aws-sdk/client-s3';\nexport const x = S3Client;\n",
  dockerode: "import Docker from 'dockerode';\nexport const x = Docker;\n",
  activities: "import { createActivities } from '../../activities';\nexport const x = createActivities;\n",
  typeOnly: "import type { Activities } from '../../activities';\nexport type A = Activities;\n",
};

let messages: Record<string, string[]>;

beforeAll(() => {
  // Real files under src/workflows, linted in one run of the project's own ESLint config.
  const dir = join(ROOT, 'src', 'workflows', `__lintprobe${process.pid}__`);
  mkdirSync(dir, { recursive: true });
  try {
    for (const [name, code] of Object.entries(PROBES)) writeFileSync(join(dir, `${name}.ts`), code);
    const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'eslint'), ['--format', 'json', dir], { cwd: ROOT, encoding: 'utf8' });
    const results = JSON.parse(run.stdout) as { filePath: string; messages: { ruleId: string; message: string }[] }[];
    messages = Object.fromEntries(
      results.map((r) => [r.filePath.replace(/^.*\//, '').replace(/\.ts$/, ''), r.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message)]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test.each(['ioredis', 'nodeFs', 'awsSdk', 'dockerode', 'activities'])('importing %s in a workflow file fails lint', (probe) => {
  expect(messages[probe]).toHaveLength(1);
  expect(messages[probe]![0]).toMatch(/Workflow/);
});

test('type-only imports of activities are allowed', () => {
  expect(messages.typeOnly).toEqual([]);
});
