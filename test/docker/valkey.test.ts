/**
 * Valkey on containers, pulled from a registry (issue #15 items 4 and 6). The run's registry
 * (Debian's docker-registry on 127.0.0.1, with a user) holds redisforge/valkey:8.1, pushed there
 * and then removed from the engine; the runtime's `images` maps the version name "valkey-8.1" to
 * that reference and its `registryAuth` names the worker's variables with the credentials.
 * A refused pull (wrong password) or an image the registry lacks fails the upgrade before any node
 * is touched; then upgradeRedis pulls the image and moves a redisforge/redis:7.0.15 cluster to it
 * while a client writes acknowledged writes, each container recreated on the Valkey image with its
 * volumes (same node id); addNode then provisions a container of the image the masters run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerRuntime } from '../../src/runtime';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { password, runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { runThroughKills } from '../helpers/killChain';
import type { DatasetDigest } from '../harness/dataset';
import { REGISTRY, REGISTRY_PASSWORD, REGISTRY_PASSWORD_ENV, REGISTRY_PORT, REGISTRY_USER, runInfo, STATE_DIR } from '../harness/env';
import { startRegistry, type Registry } from '../harness/registry';
import { startWorker } from '../harness/worker';
import { expectOnValkey, serverOf, upgradeWhileWriting, withUpgradeCluster } from '../helpers/upgradeScenario';

const describeWithDocker = runInfo().dockerAvailable ? describe : describe.skip;
const name = 'docker-valkey';
const VALKEY = 'valkey-8.1';
const LOCAL_IMAGE = 'redisforge/valkey:8.1';
const PULLED = `${REGISTRY}/redisforge/valkey:8.1`;
const docker = new Docker();
const auth = { username: REGISTRY_USER, password: REGISTRY_PASSWORD, serveraddress: REGISTRY };

/** Follows a push or pull to its end; fails with the engine's error. */
function finished(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
      const error = err?.message ?? events.find((e) => e.error)?.error;
      if (error) reject(new Error(error));
      else resolve();
    });
  });
}

const hasImage = (image: string) => docker.getImage(image).inspect().then(() => true, () => false);

describeWithDocker('Valkey on containers, pulled from a registry', () => {
  let cluster: TestCluster;
  let data: DatasetDigest;
  let registry: Registry | undefined;
  let dir: string;

  withUpgradeCluster(name, (started, digest) => ((cluster = started), (data = digest)));

  beforeAll(async () => {
    dir = mkdtempSync(join(STATE_DIR, 'registry-'));
    registry = await startRegistry({ port: REGISTRY_PORT, dir, username: REGISTRY_USER, password: REGISTRY_PASSWORD });
    await docker.getImage(LOCAL_IMAGE).tag({ repo: `${REGISTRY}/redisforge/valkey`, tag: '8.1' });
    await finished(await docker.getImage(PULLED).push({ authconfig: auth }));
    // Off the engine, both names: the upgrade's pull has to fetch the image whole.
    for (const image of [PULLED, LOCAL_IMAGE]) await docker.getImage(image).remove({ force: true });
    expect(await hasImage(PULLED)).toBe(false);
  });

  afterAll(async () => {
    // The image setup.sh built stays on the engine for the next run, pulled back if need be.
    if (registry && !(await hasImage(PULLED)) && !(await hasImage(LOCAL_IMAGE))) await finished(await docker.pull(PULLED, { authconfig: auth }));
    if (!(await hasImage(LOCAL_IMAGE)) && (await hasImage(PULLED))) await docker.getImage(PULLED).tag({ repo: 'redisforge/valkey', tag: '8.1' });
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const images = async () => (await docker.listContainers({ all: true, filters: { label: [`redisforge.cluster=${name}`] } })).map((c) => c.Image).sort();

  test('a pull the registry refuses (the worker has a wrong password), or an image it does not have, fails the upgrade before any node is touched', async () => {
    const queue = 'redisforge-ops-registry-wrong-password';
    const worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: queue, [REGISTRY_PASSWORD_ENV]: 'not-the-registry-password' }, 'worker-registry-wrong-password.log');
    try {
      const client = await testClient();
      const handle = await client.workflow.start('upgradeRedis', { taskQueue: queue, workflowId: workflowId('upgrade-registry-refused'), args: [{ cluster: name, version: VALKEY }] });
      const refused = await handle.result().then(() => undefined, (err: Error & { cause?: Error & { type?: string } }) => err.cause);
      expect(refused).toMatchObject({ type: 'PreflightFailed', message: expect.stringContaining(`pulling ${PULLED} onto /var/run/docker.sock failed`) });
      expect(refused!.message).toMatch(/unauthorized|authentication required/i);
      expect(refused!.message).toContain('nothing was changed');
    } finally {
      await worker.stop();
    }

    const missing = await runWorkflowFailure('upgradeRedis', { cluster: name, version: 'valkey-9.0' });
    expect(missing).toMatchObject({ type: 'PreflightFailed', message: expect.stringContaining(`pulling ${REGISTRY}/redisforge/valkey:9.0 onto /var/run/docker.sock failed`) });
    expect(missing.message).toMatch(/not found|manifest unknown/i);
    // Asked without pulling, a dry run says the same of the missing image, and that the other can be pulled.
    const dryMissing = await runWorkflowFailure('upgradeRedis', { cluster: name, version: 'valkey-9.0', dryRun: true });
    expect(dryMissing).toMatchObject({ type: 'InvalidInput', message: expect.stringContaining('its registry does not give it') });
    const dry = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY, dryRun: true });
    expect(dry.plan.nodesToReplace).toBe(6);
    expect(dry.pulledFor).toBeUndefined();

    expect(await hasImage(PULLED)).toBe(false);
    expect(await images()).toEqual(Array(6).fill('redisforge/redis:7.0.15'));
    expect((await cluster.health()).findings).toEqual([]);
  });

  test('7.0.15 -> valkey-8.1 while a client writes, the worker SIGKILLed right after the pull: the pull is not repeated, every container on the image, same node ids, every acknowledged write kept', async () => {
    const myId = (n: string) => withRedis(n, async (r) => String(await r.call('CLUSTER', 'MYID')));
    const ids = await Promise.all(cluster.nodes.map(myId));
    const runtime = cluster.runtime as DockerRuntime;
    expect(await runtime.version(cluster.nodes[0]!)).toBe('7.0.15');

    const client = await testClient();
    const queue = 'redisforge-ops-docker-valkey-pull-crash';
    let attempts: Record<string, number[]> = {};
    const outcome = await upgradeWhileWriting(cluster, async () => {
      const chain = await runThroughKills<UpgradeRedisReport>(queue, ['describeNodeVersions:1:after'], () =>
        client.workflow.start('upgradeRedis', { taskQueue: queue, workflowId: workflowId('docker-valkey-pull-crash'), args: [{ cluster: name, version: VALKEY }] }));
      attempts = chain.attempts;
      return chain.result;
    });
    // The attempt that pulled died before reporting; the next found the image there (nothing to
    // pull, so pulledFor is absent) and the upgrade went on from the same place.
    expect(attempts.describeNodeVersions).toContain(2);
    expect(outcome.report.pulledFor).toBeUndefined();
    await expectOnValkey(cluster, outcome, VALKEY, data);
    expect(await Promise.all(cluster.nodes.map(myId))).toEqual(ids);
    expect(await images()).toEqual(Array(6).fill(PULLED));
    expect(await Promise.all(cluster.nodes.map((n) => runtime.version(n)))).toEqual(Array(6).fill(VALKEY));
  });

  test('addNode on the Valkey cluster provisions a container of the pulled Valkey image; removeNode removes it and its volumes', async () => {
    const spare = '127.0.0.1:22037';
    const runtime = cluster.runtime as DockerRuntime;
    await runWorkflow('addNode', { cluster: name, address: spare, role: 'replica' });
    try {
      const info = await runtime.docker(spare).getContainer(runtime.containerName(spare)).inspect();
      expect(info.Config.Image).toBe(PULLED);
      expect((await serverOf(spare)).server_name).toBe('valkey');
      await cluster.healthUntil((r) => r.summary.replicas === 4 && r.findings.every((f) => f.code === 'KNOWN_NODES_MISMATCH'));
    } finally {
      await runWorkflow('removeNode', { cluster: name, node: spare });
    }
    expect(await runtime.docker(spare).listContainers({ all: true, filters: { label: [`redisforge.cluster=${name}`, 'redisforge.port=22037'] } })).toEqual([]);
    const health = await cluster.healthUntil((r) => r.findings.length === 0);
    expect(health.summary).toMatchObject({ masters: 3, replicas: 3 });
  });
});
