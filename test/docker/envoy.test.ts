/**
 * upgradeEnvoy against a real Docker engine. Envoy's image cannot be pulled here, so a stand-in
 * takes the proxy role: a redis-server answering PING on the proxy port (readiness without an
 * admin URL). A good image goes ready and the container keeps everything but its image; a bad
 * one (its entrypoint exits at start) is rolled back and the proxy answers again on the old image.
 * The test runs its own worker, whose inventory has the stand-in under "proxies".
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import Docker from 'dockerode';
import { checkProxyReady } from '../../src/activities/proxies';
import { containerNamed, replacedContainers } from '../../src/runtime/containers';
import { awaitPort } from '../../src/util/ports';
import type { UpgradeEnvoyReport } from '../../src/workflows/upgradeEnvoy';
import { password, testClient, workflowId } from '../harness/cluster';
import { ROOT, runInfo, STATE_DIR, TEMPORAL_ADDRESS, TEST_INSTANCE, testInventory } from '../harness/env';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { runThroughKills } from '../helpers/killChain';

const describeWithDocker = runInfo().dockerAvailable ? describe : describe.skip;
const QUEUE = 'redisforge-ops-envoy';
const ADDRESS = '127.0.0.1:23001';
const ADMIN_PORT = 23002;
const CONTAINER = `redisforge-test${TEST_INSTANCE}-proxy`;
const OLD = 'redisforge/redis:7.0.15';
const GOOD = 'redisforge/proxy-standin:good';
const BAD = 'redisforge/proxy-standin:bad';
const docker = new Docker();

async function removeProxy(): Promise<void> {
  for (const c of [await containerNamed(docker, CONTAINER), ...(await replacedContainers(docker, CONTAINER)).map((i) => docker.getContainer(i.Id))]) await c?.remove({ force: true });
  await docker.getVolume(`${CONTAINER}-data`).remove().catch(() => undefined);
}

function buildImage(tag: string, dockerfile: string): void {
  // The classic builder uses the local base image; nothing is pulled.
  execFileSync('docker', ['build', '-q', '-t', tag, '-'], { input: dockerfile, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'pipe'] });
}

async function upgrade(input: Record<string, unknown>): Promise<UpgradeEnvoyReport> {
  const client = await testClient();
  return client.workflow.execute<(i: unknown) => Promise<UpgradeEnvoyReport>>('upgradeEnvoy', { taskQueue: QUEUE, workflowId: workflowId('upgradeEnvoy'), args: [input] });
}

async function upgradeFailure(input: Record<string, unknown>): Promise<Error & { type?: string; details?: unknown[] }> {
  try {
    await upgrade(input);
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause) return err.cause as Error & { type?: string; details?: unknown[] };
    throw err;
  }
  throw new Error('upgradeEnvoy succeeded, expected a failure');
}

describeWithDocker('upgradeEnvoy with a stand-in proxy', () => {
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    buildImage(GOOD, `FROM ${OLD}\nLABEL redisforge.standin=good\n`);
    buildImage(BAD, `FROM ${OLD}\nLABEL redisforge.standin=bad\nENTRYPOINT ["/bin/sh", "-c", "echo stand-in: refusing to start >&2; exit 3"]\n`);
    await removeProxy();
    const proxy = await docker.createContainer({
      name: CONTAINER,
      Image: OLD,
      Cmd: ['--port', ADDRESS.split(':')[1]!, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      Env: ['STANDIN_ROLE=proxy'],
      Labels: { 'redisforge.proxy': 'standin' },
      HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: 'unless-stopped' }, Mounts: [{ Type: 'volume', Source: `${CONTAINER}-data`, Target: '/data' }] },
    });
    await proxy.start();
    await awaitPort(ADDRESS, 30_000, () => `see docker logs ${CONTAINER}`);

    const base = testInventory();
    const inventory = {
      ...base,
      runtimes: { ...base.runtimes, 'proxy-engine': { type: 'docker' } },
      proxies: { standin: { runtime: 'proxy-engine', container: CONTAINER, address: ADDRESS } },
    };
    const file = join(STATE_DIR, 'inventory-envoy.json');
    writeFileSync(file, JSON.stringify(inventory, null, 2));
    worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_INVENTORY: file }, 'worker-envoy.log');
  });
  afterAll(async () => {
    await worker?.stop();
    await removeProxy();
    for (const tag of [GOOD, BAD]) await docker.getImage(tag).remove().catch(() => undefined);
  });

  test('a good image: recreated keeping name, labels, command, mounts, env, host networking and restart policy; ready', async () => {
    const before = await (await containerNamed(docker, CONTAINER))!.inspect();
    const report = await upgrade({ proxy: 'standin', image: GOOD });
    expect(report).toMatchObject({ proxy: 'standin', container: CONTAINER, oldImage: OLD, newImage: GOOD, changed: true, ready: true, rolledBack: false });
    expect(report.readyMs).toBeGreaterThanOrEqual(0);
    expect(report.readiness).toBe(`PING ${ADDRESS}: +PONG`);

    const after = await (await containerNamed(docker, CONTAINER))!.inspect();
    expect(after.Id).not.toBe(before.Id);
    expect(after.Config.Image).toBe(GOOD);
    expect(after.Config.Labels).toMatchObject({ 'redisforge.proxy': 'standin', 'redisforge.standin': 'good' });
    expect(after.Config.Cmd).toEqual(before.Config.Cmd);
    expect(after.Config.Env).toContain('STANDIN_ROLE=proxy');
    expect(after.HostConfig.NetworkMode).toBe('host');
    expect(after.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    expect(after.Mounts.map((m) => [m.Name, m.Destination])).toEqual([[`${CONTAINER}-data`, '/data']]);
    expect(await replacedContainers(docker, CONTAINER)).toEqual([]);

    // Again: nothing to do.
    expect(await upgrade({ proxy: 'standin', image: GOOD })).toMatchObject({ oldImage: GOOD, changed: false, ready: true });
    expect((await (await containerNamed(docker, CONTAINER))!.inspect()).Id).toBe(after.Id);
  });

  test('a bad image does not get ready: rolled back, the proxy answers again on the previous image', async () => {
    const failure = await upgradeFailure({ proxy: 'standin', image: BAD, timeoutSeconds: 5 });
    expect(failure.type).toBe('ProxyRolledBack');
    expect(failure.message).toContain(`${CONTAINER}: ${BAD} did not get ready within 5 s`);
    expect(failure.message).toContain(`rolled back to ${GOOD}, which is ready again`);
    expect(failure.details?.[0]).toMatchObject({ oldImage: GOOD, newImage: BAD, changed: true, ready: false, rolledBack: true });
    expect((failure.details?.[0] as UpgradeEnvoyReport).readiness).toMatch(/container (restarting|exited)/);

    const current = await (await containerNamed(docker, CONTAINER))!.inspect();
    expect(current.Config.Image).toBe(GOOD);
    expect(current.State.Running).toBe(true);
    expect(await checkProxyReady({ address: ADDRESS })).toEqual({ ready: true, status: `PING ${ADDRESS}: +PONG` });
    expect(await replacedContainers(docker, CONTAINER)).toEqual([]);
    const all = await docker.listContainers({ all: true, filters: { label: ['redisforge.proxy=standin'] } });
    expect(all).toHaveLength(1);
  });

  test("with an admin URL, ready means Envoy's GET /ready answers 200 LIVE", async () => {
    let state = { code: 503, body: 'PRE_INITIALIZING' };
    const admin = createServer((req, res) => {
      res.writeHead(req.url === '/ready' ? state.code : 404).end(req.url === '/ready' ? `${state.body}\n` : 'not found');
    });
    await new Promise<void>((resolve) => admin.listen(ADMIN_PORT, '127.0.0.1', resolve));
    try {
      const proxy = { address: ADDRESS, adminUrl: `http://127.0.0.1:${ADMIN_PORT}/` };
      expect(await checkProxyReady(proxy)).toEqual({ ready: false, status: `GET http://127.0.0.1:${ADMIN_PORT}/ready: 503 PRE_INITIALIZING` });
      state = { code: 200, body: 'LIVE' };
      expect(await checkProxyReady(proxy)).toEqual({ ready: true, status: `GET http://127.0.0.1:${ADMIN_PORT}/ready: 200 LIVE` });
    } finally {
      await new Promise((resolve) => admin.close(resolve));
    }
    expect((await checkProxyReady({ address: ADDRESS, adminUrl: `http://127.0.0.1:${ADMIN_PORT}` })).ready).toBe(false);
  });

  test('bad input: an unknown proxy, an image that is not there', async () => {
    const unknown = await upgradeFailure({ proxy: 'nope', image: GOOD });
    expect(unknown.type).toBe('InvalidInput');
    expect(unknown.message).toContain('proxy: unknown proxy "nope"; the worker\'s inventory has: standin');
    const missing = await upgradeFailure({ proxy: 'standin', image: 'redisforge/proxy-standin:missing' });
    expect(missing.type).toBe('InvalidInput');
    expect(missing.message).toContain('image: redisforge/proxy-standin:missing is not on /var/run/docker.sock: build or load it there first');
    const bad = await upgradeFailure({ proxy: 'standin', image: 'Not An Image', timeoutSeconds: 1 });
    expect(bad.message).toContain('image: expected an image reference');
    expect(bad.message).toContain('timeoutSeconds:');
  });

  test('./scripts/deploy.sh envoy --image ... --proxy ... runs the workflow and follows it to the end', async () => {
    // execFile rejects on a non-zero exit: the workflow succeeded.
    const { stdout } = await promisify(execFile)('bash', [join(ROOT, 'scripts', 'deploy.sh'), 'envoy', '--image', OLD, '--proxy', 'standin'], {
      cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS, REDISFORGE_TASK_QUEUE: QUEUE },
    });
    expect(stdout).toMatch(/^upgradeEnvoy: step \d\/5 /m);
    expect(stdout).toContain(`${GOOD} -> ${OLD}`);
    expect((await (await containerNamed(docker, CONTAINER))!.inspect()).Config.Image).toBe(OLD);
  });

  test('the worker SIGKILLed right after the container was replaced: a new worker finishes the upgrade, the previous container removed', async () => {
    await worker?.stop();
    worker = undefined;
    const client = await testClient();
    const env = { REDISFORGE_INVENTORY: join(STATE_DIR, 'inventory-envoy.json') };
    try {
      const { result, attempts } = await runThroughKills<UpgradeEnvoyReport>(QUEUE, ['replaceProxyContainer:1:after'], () =>
        client.workflow.start('upgradeEnvoy', { taskQueue: QUEUE, workflowId: workflowId('upgradeEnvoy-crash'), args: [{ proxy: 'standin', image: GOOD }] }), env, 'worker-envoy-crash');
      expect(attempts.replaceProxyContainer).toEqual([2]);
      // The retry found the new container there and the previous one aside: the upgrade went on from there.
      expect(result).toMatchObject({ oldImage: OLD, newImage: GOOD, changed: true, ready: true, rolledBack: false });
      const current = await (await containerNamed(docker, CONTAINER))!.inspect();
      expect([current.Config.Image, current.State.Running]).toEqual([GOOD, true]);
      expect(await replacedContainers(docker, CONTAINER)).toEqual([]);
      expect(await docker.listContainers({ all: true, filters: { label: ['redisforge.proxy=standin'] } })).toHaveLength(1);
      expect(await checkProxyReady({ address: ADDRESS })).toEqual({ ready: true, status: `PING ${ADDRESS}: +PONG` });
    } finally {
      worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, ...env }, 'worker-envoy.log');
    }
  });
});
