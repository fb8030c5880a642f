/**
 * The runbook's Redis upgrade, whole: `./scripts/deploy.sh redis [VERSION]` reads REDIS_VERSION
 * from .env (or takes VERSION), runs upgradeRedis to the end, and only then writes the version to
 * .env, so docker-compose.yml and the running nodes never disagree. A bad version, a dry run and
 * a failed upgrade leave .env as it was.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, withRedis } from '../harness/cluster';
import { ROOT, STATE_DIR, TEMPORAL_ADDRESS } from '../harness/env';

const ENV_FILE = join(STATE_DIR, 'deploy.env');
let cluster: TestCluster | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start('deploy');
});
afterAll(async () => {
  await cluster?.destroy();
});

function deploy(...args: string[]) {
  return spawnSync('bash', [join(ROOT, 'scripts', 'deploy.sh'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS, REDISFORGE_ENV_FILE: ENV_FILE, REDISFORGE_CLUSTER: undefined }, timeout: 170_000,
  });
}

/** Each node's redis_version, as INFO reports it. */
function versions(): Promise<string[]> {
  return Promise.all(cluster!.nodes.map((a) => withRedis(a, async (r) => /redis_version:(\S+)/.exec(String(await r.call('INFO', 'server')))?.[1] ?? '?')));
}

test('deploy.sh redis: a bad version or a dry run changes nothing; a completed upgrade writes .env; a failed one leaves it', async () => {
  writeFileSync(ENV_FILE, '# the stack\nREDIS_VERSION=7.0.15\nENVOY_VERSION=v1.31.2\n');

  const bad = deploy('redis', '8.0', '--cluster', 'deploy');
  expect({ status: bad.status, stderr: bad.stderr }).toEqual({ status: 2, stderr: expect.stringContaining('VERSION "8.0" is not a Redis version: give major.minor.patch') });

  const dry = deploy('redis', '8.0.2', '--cluster', 'deploy', '--dry-run');
  expect({ status: dry.status, stderr: dry.stderr.slice(-2000) }).toEqual({ status: 0, stderr: expect.any(String) });
  expect(await versions()).toEqual(Array(6).fill('7.0.15'));
  expect(readFileSync(ENV_FILE, 'utf8')).toBe('# the stack\nREDIS_VERSION=7.0.15\nENVOY_VERSION=v1.31.2\n');

  const up = deploy('redis', '8.0.2', '--cluster', 'deploy');
  expect({ status: up.status, output: up.status === 0 ? '' : `${up.stdout}\n${up.stderr}`.slice(-3000) }).toEqual({ status: 0, output: '' });
  expect(up.stdout).toContain(`${ENV_FILE} now says REDIS_VERSION=8.0.2`);
  expect(await versions()).toEqual(Array(6).fill('8.0.2'));
  expect(readFileSync(ENV_FILE, 'utf8')).toBe('# the stack\nREDIS_VERSION=8.0.2\nENVOY_VERSION=v1.31.2\n');

  // Runbook step 1 done by hand (.env already says it): deploy.sh redis reads it; every node is there already.
  const again = deploy('redis', '--cluster', 'deploy');
  expect({ status: again.status, output: again.status === 0 ? '' : `${again.stdout}\n${again.stderr}`.slice(-3000) }).toEqual({ status: 0, output: '' });
  expect(again.stdout).not.toContain('now says');

  // A version the runtime cannot run is refused before any node is touched (bad input: exit 2), .env kept.
  const refused = deploy('redis', '9.9.9', '--cluster', 'deploy');
  expect({ status: refused.status, stderr: refused.stderr }).toEqual({ status: 2, stderr: expect.stringContaining('no binary for version "9.9.9" (versions: 7.0.15, 8.0.2)') });
  expect(refused.stderr).toContain(`the upgrade did not complete; ${ENV_FILE} left as it was (REDIS_VERSION=8.0.2)`);
  expect(await versions()).toEqual(Array(6).fill('8.0.2'));
  expect(readFileSync(ENV_FILE, 'utf8')).toBe('# the stack\nREDIS_VERSION=8.0.2\nENVOY_VERSION=v1.31.2\n');
});
