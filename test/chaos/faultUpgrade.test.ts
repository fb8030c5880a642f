/**
 * upgradeRedis under faults, with the production default timeouts (commandTimeoutMs 5000):
 * - a new version that does not start: the node goes back to its old version, the upgrade fails naming it;
 * - the node about to be replaced hangs (SIGSTOP): the upgrade fails naming it and restarts nothing;
 * - a node hung, and later a node killed, in the middle of the upgrade: each is named where the
 *   upgrade stops for a decision, no node the upgrade stopped is left stopped, and once fixed the
 *   upgrade finishes with every acknowledged write kept.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { pauseUpdate, resumeUpdate } from '../../src/shared';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { password, TestCluster, testClient, workflowId } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { digestDataset } from '../harness/dataset';
import { STATE_DIR, testInventory } from '../harness/env';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { expectUpgraded, startWithUpgradeData, upgradeWhileWriting } from '../helpers/upgradeScenario';
import { progressReaches } from '../helpers/waitFor';

const name = 'fault-upgrade';
const QUEUE = 'redisforge-ops-fault-upgrade';
/** A build that exits at start, as a binary for the wrong platform or a bad config would. */
const BROKEN = join(STATE_DIR, 'redis-server-broken');
let cluster: TestCluster;
let data: DatasetDigest;
let worker: WorkerProcess | undefined;
const stopped = new Set<number>();

beforeAll(async () => {
  writeFileSync(BROKEN, '#!/bin/sh\necho "broken build: refusing to start" >&2\nexit 1\n');
  chmodSync(BROKEN, 0o755);
  // The test inventory, plus a version whose binary cannot start, for this suite's own worker.
  const inventory = testInventory();
  const runtime = inventory.runtimes[`nodes-${name}`] as { versions: Record<string, string> };
  runtime.versions = { ...runtime.versions, '8.0.2-broken': BROKEN };
  const file = join(STATE_DIR, 'inventory-fault-upgrade.json');
  writeFileSync(file, JSON.stringify(inventory, null, 2));
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_INVENTORY: file }, 'worker-fault-upgrade.log');
  ({ cluster, data } = await startWithUpgradeData(name));
});
afterEach(() => {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  stopped.clear();
});
afterAll(async () => {
  await worker?.stop();
  await cluster?.destroy();
});

async function start(input: Record<string, unknown>): Promise<WorkflowHandle> {
  const client = await testClient();
  return client.workflow.start('upgradeRedis', { taskQueue: QUEUE, workflowId: workflowId('fault-upgrade'), args: [{ cluster: name, ...input }] });
}

async function allRunning(): Promise<string[]> {
  return Promise.all(cluster.nodes.map(async (n) => `${n} ${await cluster.runtime.status(n)}`));
}

test('a version that does not start: the node goes back to its old version, the upgrade fails naming it, the cluster stays healthy', async () => {
  const first = (await cluster.health()).shards[0]!;
  const node = first.replicas[0]!.address;
  const handle = await start({ version: '8.0.2-broken' });
  const failure = await handle.result().then(
    () => undefined,
    (err: WorkflowFailedError) => err.cause as Error & { type?: string },
  );
  expect(failure?.type).toBe('UpgradeRolledBack');
  expect(failure!.message).toContain(`${node} did not come up on 8.0.2-broken`);
  expect(failure!.message).toContain('it runs 7.0.15 again');
  expect(await cluster.runtime.version(node)).toBe('7.0.15');
  expect(await allRunning()).toEqual(cluster.nodes.map((n) => `${n} running`));
  const health = await cluster.healthUntil((r) => r.healthy && r.findings.length === 0, 60_000);
  expect(health.findings).toEqual([]);
  expect(health.summary.versions).toEqual(['7.0.15']);
  expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(data);
});

test('the node about to be restarted hangs: the upgrade fails at once naming it, and restarts nothing', async () => {
  const first = (await cluster.health()).shards[0]!;
  const node = first.replicas[0]!.address;
  const handle = await start({ version: '8.0.2' });
  await handle.executeUpdate(pauseUpdate);
  await progressReaches(handle, 'the pause to hold', (p) => p.detail?.includes('**Paused**') ?? false, 120_000);
  const pid = cluster.pid(node);
  process.kill(pid, 'SIGSTOP');
  stopped.add(pid);
  await handle.executeUpdate(resumeUpdate);
  const failure = await handle.result().then(
    () => undefined,
    (err: WorkflowFailedError) => err.cause as Error & { type?: string },
  );
  expect(failure?.type).toBe('NodeHung');
  expect(failure!.message).toContain(`${node} runs but does not answer`);
  // Not restarted: still the same process, on the same version.
  expect([cluster.pid(node), await cluster.runtime.version(node)]).toEqual([pid, '7.0.15']);

  process.kill(pid, 'SIGCONT');
  stopped.clear();
  const health = await cluster.healthUntil((r) => r.healthy && r.findings.length === 0, 60_000);
  expect(health.summary.versions).toEqual(['7.0.15']);
});

test('a node hung, then a node killed, in the middle of the upgrade: each is named where it stops, nothing it stopped is left down, the upgrade then finishes', async () => {
  const shards = (await cluster.health()).shards;
  const hung = shards[1]!.replicas[0]!.address;
  const killed = shards[2]!.replicas[0]!.address;
  let handle: WorkflowHandle | undefined;
  // The writer's WAIT blocks while the hung node's shard has no live replica: a step that fails
  // must wake it up first, or the writer never stops and the failure is never reported.
  const outcome = await upgradeWhileWriting(cluster, async () => {
    try {
      return await upgradeThroughFaults();
    } catch (err) {
      for (const pid of stopped) process.kill(pid, 'SIGCONT');
      throw err;
    }
  });
  async function upgradeThroughFaults(): Promise<UpgradeRedisReport> {
    handle = await start({ version: '8.0.2', healthSettleSeconds: 5, timeoutSeconds: 60 });
    await progressReaches(handle, 'the first replica replacement', (p) => p.detail?.includes(`shard ${shards[0]!.slots}: replacing replica`) ?? false, 120_000);
    const pid = cluster.pid(hung);
    process.kill(pid, 'SIGSTOP');
    stopped.add(pid);

    const first = await progressReaches(handle, 'the first decision pause', (p) => p.detail?.includes('Paused for a decision') ?? false, 150_000);
    expect(first.detail).toContain(`after shard ${shards[0]!.slots}`);
    expect(first.detail).toContain(hung);
    // The hung node is not one the upgrade stopped; every node it touched runs.
    expect((await allRunning()).filter((s) => !s.startsWith(`${hung} `))).toEqual(cluster.nodes.filter((n) => n !== hung).map((n) => `${n} running`));

    process.kill(pid, 'SIGCONT');
    stopped.clear();
    await cluster.healthUntil((r) => !r.findings.some((f) => f.node === hung), 60_000);
    await cluster.runtime.kill(killed);
    await handle.executeUpdate(resumeUpdate);

    const second = await progressReaches(handle, `a decision pause about ${killed}`, (p) => (p.detail?.includes('Paused for a decision') && p.detail.includes(killed)) ?? false, 150_000);
    expect(second.detail).toContain(`after shard ${shards[1]!.slots}`);
    await cluster.runtime.start(killed);
    await cluster.healthUntil((r) => !r.findings.some((f) => f.node === killed && f.code !== 'MIXED_VERSIONS'), 60_000);
    await handle.executeUpdate(resumeUpdate);
    return (await handle.result()) as UpgradeRedisReport;
  }
  expect(outcome.report.healthPauses.map((p) => [p.after, p.decision, p.findings.some((f) => f.includes(hung) || f.includes(killed))])).toEqual([
    [`shard ${shards[0]!.slots}`, 'resumed', true],
    [`shard ${shards[1]!.slots}`, 'resumed', true],
  ]);
  await expectUpgraded(cluster, outcome, '8.0.2', data);
  // Two waits for a decision (each a hung or dead node told apart at the production timeouts),
  // a health settle per shard and a writer throughout: about 100 s here, more on a loaded machine.
}, 420_000);
