/**
 * The package as a user gets it: `npm pack` (which builds dist/ and the workflow bundle first),
 * then `npm install ./redisforge-ops-x.y.z.tgz` into an empty project outside this tree, where
 * nothing of the source checkout (src/, tsx, yaml) can be found. There the SDK is imported by
 * package name with its types checked by tsc (node16 resolution), internal modules are out of
 * reach, `redisforge` runs from the compiled code, and `redisforge worker` runs a workflow from
 * the package's prebuilt bundle.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEYS_ENV, KEYS_FILE_ENV } from '../../src/codec';
import { password, TestCluster } from '../harness/cluster';
import { runCodecKey } from '../harness/codec';
import { INVENTORY_PATH, ROOT, SCRATCH_DIR, TEMPORAL_ADDRESS } from '../harness/env';
import { version } from '../../package.json';

const QUEUE = 'redisforge-pack-test';
let consumer: string;
let cluster: TestCluster | undefined;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
}

/** Runs and expects exit 0, failing with what the command printed. */
function ok(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = run(command, args, cwd, env);
  expect({ command: `${command} ${args.join(' ')}`, status: r.status, output: r.status === 0 ? '' : `${r.stdout}\n${r.stderr}`.slice(-4000) }).toEqual({ command: `${command} ${args.join(' ')}`, status: 0, output: '' });
  return r.stdout;
}

/** What a workflow needs from the run: its Temporal, inventory, password and payload key. */
function runEnv(): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: 'default',
    REDISFORGE_INVENTORY: INVENTORY_PATH,
    REDISFORGE_SCRATCH_DIR: SCRATCH_DIR,
    REDISFORGE_LOCK_TASK_QUEUE: 'redisforge-ops',
    REDISFORGE_WORKFLOW_BUNDLE: undefined,
    REDIS_REQUIREPASS: password(),
    [KEYS_ENV]: runCodecKey(),
    [KEYS_FILE_ENV]: undefined,
  };
}

beforeAll(async () => {
  cluster = await TestCluster.start('package');
  consumer = mkdtempSync(join(tmpdir(), 'redisforge-consumer-'));
  // prepack builds first (its lines come before the JSON).
  const out = ok('npm', ['pack', '--json', '--pack-destination', consumer, '--loglevel=error'], ROOT);
  const packed = JSON.parse(out.slice(out.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  const { filename, files } = packed[0]!;
  // What ships: the compiled code, its bundle and declarations, the CLI, the README; never the source or the tests.
  expect(files.map((f) => f.path).filter((p) => !/^(dist\/|bin\/redisforge\.js$|README\.md$|package\.json$)/.test(p))).toEqual([]);
  expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['dist/client/index.js', 'dist/client/index.d.ts', 'dist/workflow-bundle.js', 'dist/client/cli/main.js']));
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `./${filename}`, '@types/node@22'], consumer);
}, 420_000);

afterAll(async () => {
  await cluster?.destroy();
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

test('the installed package brings its runtime dependencies, and nothing of the development tools', () => {
  expect(existsSync(join(consumer, 'node_modules', 'redisforge-ops', 'dist', 'workflow-bundle.js'))).toBe(true);
  expect({ tsx: existsSync(join(consumer, 'node_modules', 'tsx')), yaml: existsSync(join(consumer, 'node_modules', 'yaml')), src: existsSync(join(consumer, 'node_modules', 'redisforge-ops', 'src')) })
    .toEqual({ tsx: false, yaml: false, src: false });
  expect(ok(join(consumer, 'node_modules', '.bin', 'redisforge'), ['--version'], consumer).trim()).toBe(version);
});

test('the SDK by package name: types checked by tsc (node16), wrong inputs and deep imports refused', () => {
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, outDir: 'out', types: ['node'], skipLibCheck: true },
    files: ['health.ts'],
  }));
  writeFileSync(join(consumer, 'health.ts'), [
    "import { connectClient, executeClusterHealth, InvalidInputError, type ClusterHealthResult } from 'redisforge-ops';",
    'async function main(): Promise<void> {',
    '  const client = await connectClient();',
    '  try {',
    "    const refused = await executeClusterHealth(client, { cluster: '' }).then(() => 'started', (e: unknown) => (e instanceof InvalidInputError ? e.problems.join('; ') : String(e)));",
    "    const health: ClusterHealthResult = await executeClusterHealth(client, { cluster: process.argv[2]! }, { taskQueue: process.argv[3] });",
    '    console.log(JSON.stringify({ refused, healthy: health.healthy, masters: health.summary.masters, slots: health.summary.slotsCovered }));',
    '  } finally {',
    '    await client.connection.close();',
    '  }',
    '}',
    'main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });',
    '',
  ].join('\n'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  ok(process.execPath, [tsc, '-p', '.'], consumer);

  // A wrong input type and an internal module both fail the consumer's typecheck.
  writeFileSync(join(consumer, 'wrong.ts'), [
    "import { executeClusterHealth, type ClusterHealthInput } from 'redisforge-ops';",
    "import { loadInventory } from 'redisforge-ops/dist/config';",
    'const input: ClusterHealthInput = { cluster: 7 };',
    'export { executeClusterHealth, input, loadInventory };',
    '',
  ].join('\n'));
  const wrong = run(process.execPath, [tsc, '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--strict', '--types', 'node', '--skipLibCheck', 'wrong.ts'], consumer);
  expect(wrong.status).not.toBe(0);
  expect(wrong.stdout).toMatch(/wrong\.ts\(2,\d+\): error TS2307: Cannot find module 'redisforge-ops\/dist\/config'/);
  expect(wrong.stdout).toMatch(/wrong\.ts\(3,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
  const deep = run(process.execPath, ['-e', "require('redisforge-ops/dist/config')"], consumer);
  expect(deep.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
});

test('redisforge worker from the package runs a workflow from its prebuilt bundle, and stops cleanly on SIGINT', async () => {
  const bin = join(consumer, 'node_modules', '.bin', 'redisforge');
  const worker = spawn(bin, ['worker', '--task-queue', QUEUE], { cwd: consumer, env: { ...process.env, ...runEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  worker.stdout!.on('data', (c: Buffer) => void (out += c.toString()));
  worker.stderr!.on('data', (c: Buffer) => void (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  try {
    const started = await Promise.race([
      new Promise<boolean>((resolve) => worker.stdout!.on('data', () => out.includes('redisforge worker: task queue') && resolve(true))),
      exited.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000)),
    ]);
    expect({ started, out }).toEqual({ started: true, out: expect.stringContaining(`workflows from the bundle ${join(consumer, 'node_modules', 'redisforge-ops', 'dist', 'workflow-bundle.js')}`) });

    const health = ok(process.execPath, ['out/health.js', 'package', QUEUE], consumer, runEnv());
    expect(JSON.parse(health)).toEqual({ refused: expect.stringContaining('cluster'), healthy: true, masters: 3, slots: 16384 });
  } finally {
    worker.kill('SIGINT');
  }
  expect({ code: await exited, out }).toEqual({ code: 0, out: expect.stringContaining('redisforge worker: stopped') });
});
