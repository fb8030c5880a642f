/**
 * Process and file hygiene of the process runtime, on real nodes this file starts itself with
 * ProcessRuntime on 21039 and 21038 (spare ports of the `failover` cluster): redis-server gets
 * none of the worker's environment, and nothing in a node directory is readable by anyone but
 * its owner, whether Redis wrote it or a restore extracted it.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { ProcessRuntime } from '../../src/runtime';
import { password } from '../harness/cluster';
import { NODE_TIMEOUT_MS, NODES_DIR, REDIS_8_BINARY } from '../harness/env';
import { eventually } from '../helpers/waitFor';
import { leakedIn, runSecrets, type NamedSecret } from '../harness/secrets';

const BASE = join(NODES_DIR, 'hygiene');
const SPY_DIR = join(BASE, 'spy');
const ENV_FILE = join(SPY_DIR, 'environment');
const NODE = '127.0.0.1:21039';
const RESTORED = '127.0.0.1:21038';

/** A "redis-server" that writes the environment and umask it was started with, then runs the real one. */
const SPY = `#!/bin/sh
{ env; echo "umask=$(umask)"; } > "${ENV_FILE}"
exec redis-server "$@"
`;

/** Secrets in the parent's environment as a worker has them: the run's own and one of each kind a real worker holds. */
const PARENT_ENV: Record<string, string> = {
  TEMPORAL_API_KEY: 'rf-hygiene-temporal-api-key-0123456789',
  REDISFORGE_HYGIENE_TOKEN: 'rf-hygiene-token-9876543210',
};
let secrets: NamedSecret[];
let runtime: ProcessRuntime;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  rmSync(BASE, { recursive: true, force: true });
  mkdirSync(SPY_DIR, { recursive: true });
  writeFileSync(join(SPY_DIR, 'redis-server'), SPY, { mode: 0o755 });
  secrets = [...runSecrets(), ...Object.entries(PARENT_ENV).map(([name, value]) => ({ name, value }))];
  const env: Record<string, string> = { ...PARENT_ENV, REDIS_REQUIREPASS: password(), AWS_SECRET_ACCESS_KEY: secrets[1]!.value };
  secrets.forEach((s, i) => (env[`REDISFORGE_HYGIENE_SECRET_${i}`] = s.value));
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  runtime = new ProcessRuntime(
    { type: 'process', baseDir: BASE, versions: { spy: join(SPY_DIR, 'redis-server'), '8.0.2': REDIS_8_BINARY }, defaultVersion: 'spy', nodeTimeoutMs: NODE_TIMEOUT_MS, extraConfig: {} },
    { password: password() },
  );
  // A node directory and redis.conf left loose by an older release: the start tightens both.
  mkdirSync(runtime.nodeDir(NODE), { recursive: true, mode: 0o755 });
  chmodSync(runtime.nodeDir(NODE), 0o755);
  writeFileSync(join(runtime.nodeDir(NODE), 'redis.conf'), '# stale\n', { mode: 0o644 });
  await runtime.provision(NODE);
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await runtime?.deprovision(NODE);
  await runtime?.deprovision(RESTORED);
  rmSync(BASE, { recursive: true, force: true });
});

const pidOf = (address: string) => Number(readFileSync(join(runtime.nodeDir(address), 'redis.pid'), 'utf8'));
const mode = (path: string) => statSync(path).mode & 0o777;

/** Every file and directory below dir, with its mode, for a failure that names them. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = join(rel, e.name);
      out[path] = mode(join(dir, path)).toString(8);
      if (e.isDirectory()) walk(path);
    }
  };
  walk('');
  return out;
}
const loose = (dir: string) => Object.entries(modes(dir)).filter(([, m]) => (parseInt(m, 8) & 0o077) !== 0);

test('redis-server is started with PATH and LANG only, under umask 077: none of the worker\'s secrets reach it', () => {
  const started = readFileSync(ENV_FILE, 'utf8');
  expect(leakedIn(started, secrets)).toEqual([]);
  const names = started.split('\n').filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => l.slice(0, l.indexOf('=')));
  // PWD is the shell's own; `umask` is the spy's line.
  expect(names.filter((n) => !['PATH', 'LANG', 'PWD', 'umask'].includes(n))).toEqual([]);
  expect(started).toContain('LANG=C\n');
  expect(started).toContain('umask=0077\n');
});

test("the running node's argv and environment (/proc) hold no secret", () => {
  const pid = pidOf(NODE);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  expect(cmdline).toContain('redis-server');
  expect(leakedIn(cmdline, secrets)).toEqual([]);
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  expect(leakedIn(environ, secrets)).toEqual([]);
  expect(environ).not.toMatch(/REDIS_REQUIREPASS|AWS_SECRET_ACCESS_KEY|TEMPORAL_API_KEY/);
});

test('node directory 0700, redis.conf 0600 (also when they existed looser); AOF, nodes.conf and redis.log are the owner\'s only', async () => {
  const dir = runtime.nodeDir(NODE);
  // A write makes Redis append to its AOF, as it does in service.
  const redis = new Redis({ host: '127.0.0.1', port: 21039, password: password(), lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  try {
    await redis.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await eventually('cluster_state:ok on the one-node cluster', () => redis.call('CLUSTER', 'INFO') as Promise<string>, (info) => info.includes('cluster_state:ok'));
    await redis.set('hygiene', 'x'.repeat(100));
  } finally {
    redis.disconnect();
  }
  expect(mode(dir).toString(8)).toBe('700');
  expect(mode(join(dir, 'redis.conf')).toString(8)).toBe('600');
  expect(readFileSync(join(dir, 'redis.conf'), 'utf8')).toContain('requirepass');
  const found = modes(dir);
  expect(Object.keys(found)).toEqual(expect.arrayContaining(['appendonlydir', 'nodes.conf', 'redis.log', 'redis.pid']));
  expect(Object.keys(found).filter((p) => p.startsWith('appendonlydir/')).length).toBeGreaterThanOrEqual(2);
  expect(loose(dir)).toEqual([]);
});

test('a data directory extracted into a node (as a restore does) is the owner\'s only, and the node runs from it on the 8.0.2 wrapper', async () => {
  await runtime.stop(NODE);
  // Files of a node from before umask 077: the archive carries their loose modes.
  const source = runtime.nodeDir(NODE);
  for (const path of Object.keys(modes(source))) chmodSync(join(source, path), statSync(join(source, path)).isDirectory() ? 0o755 : 0o644);
  mkdirSync(runtime.nodeDir(RESTORED), { recursive: true, mode: 0o755 });
  chmodSync(runtime.nodeDir(RESTORED), 0o755);
  await runtime.writeDataDir(RESTORED, await runtime.readDataDir(NODE));
  const dir = runtime.nodeDir(RESTORED);
  expect(Object.keys(modes(dir))).toEqual(expect.arrayContaining(['appendonlydir', 'nodes.conf']));
  expect(mode(dir).toString(8)).toBe('700');
  expect(loose(dir)).toEqual([]);

  await runtime.provision(RESTORED, '8.0.2');
  const redis = new Redis({ host: '127.0.0.1', port: 21038, password: password(), lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  try {
    await eventually('cluster_state:ok after the restart', () => redis.call('CLUSTER', 'INFO') as Promise<string>, (info) => info.includes('cluster_state:ok'));
    expect(await redis.get('hygiene')).toBe('x'.repeat(100));
    expect(String(await redis.info('server'))).toMatch(/redis_version:8\.0\.2/);
  } finally {
    redis.disconnect();
  }
  expect(leakedIn(readFileSync(`/proc/${pidOf(RESTORED)}/environ`, 'utf8'), secrets)).toEqual([]);
  expect(loose(dir)).toEqual([]);
});
