/**
 * Faults around addNode, removeNode and rebalance on a cluster running Redis 8.0.2, with the
 * production default timeouts: a MIGRATE that cannot succeed (an older node), a cancelled
 * rebalance, a refused addNode, removeNode then addNode on the same address with a writer
 * running, and removeNode of a hung master. The referee: keys and values, topology, open slots.
 */
import { existsSync } from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import { ProcessRuntime } from '../../src/runtime';
import type { AddNodeReport } from '../../src/workflows/addNode';
import type { RemoveNodeReport } from '../../src/workflows/removeNode';
import { runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { TASK_QUEUE } from '../harness/env';
import { AckedWriter, describeWrites } from '../helpers/ackedWriter';
import { progressReaches } from '../helpers/waitFor';

const CLUSTER = 'fault-scaling';
const NEW = '127.0.0.1:21207';
const OLD_VERSION = '127.0.0.1:21208';
const SPARE = '127.0.0.1:21209';
let cluster: TestCluster;
let before: DatasetDigest;

beforeAll(async () => {
  cluster = await TestCluster.start(CLUSTER, { version: '8.0.2' });
  await loadDataset(cluster.nodes[0]!, 5_000, 0, 0);
  before = await digestDataset((await cluster.health()).shards.map((s) => s.master.address));
});
afterAll(async () => {
  await cluster?.destroy();
});

/** The cluster once gossip settled: no open slot, one slot map; its masters' keys digested. */
async function settled(): Promise<{ digest: DatasetDigest; openSlots: unknown[] }> {
  const report = await cluster.healthUntil((r) => !r.findings.some((f) => ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED'].includes(f.code)));
  return { digest: await digestDataset(report.shards.map((s) => s.master.address)), openSlots: report.findings.filter((f) => f.code === 'OPEN_SLOT') };
}

const redisVersion = (address: string) => withRedis(address, async (r) => /redis_version:(\S+)/.exec(String(await r.call('INFO', 'server')))![1]);

test('addNode provisions the version the cluster runs (8.0.2, not the runtime default)', async () => {
  const report = await runWorkflow<AddNodeReport>('addNode', { cluster: CLUSTER, address: NEW, role: 'master', rebalance: false });
  expect(report).toMatchObject({ provisioned: true, role: 'master' });
  expect(await redisVersion(NEW)).toBe('8.0.2');
});

test('a refused addNode (unknown replicaOf) starts nothing', async () => {
  const failure = await runWorkflowFailure('addNode', { cluster: CLUSTER, address: SPARE, role: 'replica', replicaOf: '127.0.0.1:1' });
  expect(failure.type).toBe('InvalidInput');
  expect(await cluster.runtime.status(SPARE)).toBe('stopped');
  expect(existsSync((cluster.runtime as ProcessRuntime).nodeDir(SPARE))).toBe(false);
});

test('a cancelled rebalance closes every slot it opened; every key intact', async () => {
  const client = await testClient();
  const handle = await client.workflow.start('rebalance', {
    taskQueue: TASK_QUEUE, workflowId: workflowId('cancel'), args: [{ cluster: CLUSTER, slotsPerBatch: 16, keysPerMigrate: 1, maxKeysPerSecond: 200 }],
  });
  const progress = await progressReaches(handle, 'slots to move', (p) => p.state !== 'running' || (p.migration?.slotsDone ?? 0) > 0);
  expect(progress.state).toBe('running');
  expect(progress.migration?.slotsDone ?? 0).toBeGreaterThan(0);
  await handle.cancel();
  const outcome = await handle.result().then(() => 'completed', (e: Error) => (e instanceof WorkflowFailedError ? e.cause?.name : e.name));
  expect(outcome).toBe('CancelledFailure');
  const after = await settled();
  expect(after.openSlots).toEqual([]);
  expect(after.digest).toEqual(before);
});

test('MIGRATE from 8.0.2 onto a 7.0.15 master fails at once, naming node, slot and command, and leaves no slot open', async () => {
  // addNode refuses the older node before it joins...
  await cluster.runtime.provision(OLD_VERSION, '7.0.15');
  const refused = await runWorkflowFailure('addNode', { cluster: CLUSTER, address: OLD_VERSION, role: 'master', rebalance: false });
  expect(refused.type).toBe('PreflightFailed');
  expect(refused.message).toContain('older than the cluster');
  // ...so it joins by hand, as an operator might, and the rebalance meets the error.
  await withRedis(OLD_VERSION, (r) => r.call('CLUSTER', 'MEET', '127.0.0.1', String(21201)));
  await cluster.healthUntil((r) => r.summary.nodesObserved === 8 && !r.findings.some((f) => f.code === 'SLOT_MAP_DISAGREEMENT' || f.code === 'CLUSTER_STATE_FAIL'));
  const id = workflowId('rebalance-old');
  const failure = await runWorkflowFailure('rebalance', { cluster: CLUSTER, thresholdPercent: 0 }, id);
  expect(`${failure.type}: ${failure.message}`).toMatch(/^SlotMigrationFailed: MIGRATE of slot \d+ from \S+ to 127.0.0.1:21208: .*DUMP payload version or checksum are wrong/);
  expect(failure.details![0]).toMatchObject({ node: OLD_VERSION, command: 'MIGRATE' });
  expect(typeof (failure.details![0] as { slot: number }).slot).toBe('number');
  // Not retried: every migrateSlots ran once.
  const history = await (await testClient()).workflow.getHandle(id).fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt!);
  expect(Math.max(...attempts)).toBe(1);
  const after = await settled();
  expect(after.openSlots).toEqual([]);
  expect(after.digest).toEqual(before);
  const removed = await runWorkflow<RemoveNodeReport>('removeNode', { cluster: CLUSTER, node: OLD_VERSION });
  // Slots without keys did move to it before the first key failed: they are drained back.
  expect(removed.stopped).toBe(true);
  expect((await settled()).digest).toEqual(before);
});

test('removeNode (drain) then addNode on the same address (rebalanced, then given a replica), a writer running: it joins empty, 0 acknowledged writes lost', async () => {
  const shards = (await cluster.health()).shards.map((s) => s.slots);
  const writer = AckedWriter.start(cluster.nodes[0]!, shards, 'scaling');
  try {
    const removed = await runWorkflow<RemoveNodeReport>('removeNode', { cluster: CLUSTER, node: NEW });
    expect(removed.stopped).toBe(true);
    expect(existsSync((cluster.runtime as ProcessRuntime).nodeDir(NEW))).toBe(false);
    const added = await runWorkflow<AddNodeReport>('addNode', { cluster: CLUSTER, address: NEW, role: 'master' });
    expect(added).toMatchObject({ provisioned: true, alreadyMember: false });
    expect(added.id).not.toBe(removed.node.id);
    expect(added.rebalance!.slotsMoved).toBe(4096);
    // The writer's WAIT 1 on the new master returns once it has a replica.
    await runWorkflow<AddNodeReport>('addNode', { cluster: CLUSTER, address: SPARE, role: 'replica', replicaOf: NEW });
    const writes = await writer.stop();
    console.log(describeWrites(writes));
    expect(writes.reduce((n, w) => n + w.acknowledged, 0)).toBeGreaterThan(0);
    expect(await writer.missingAcknowledged()).toEqual([]);
    await writer.removeKeys();
  } finally {
    writer.disconnect();
  }
  const after = await settled();
  expect(after.openSlots).toEqual([]);
  expect(after.digest).toEqual(before);
});

test('removeNode of a hung master (SIGSTOP), approve: true: refused, its slots not given away', async () => {
  const nodeTimeout = async (ms: number) => {
    for (const n of [...cluster.nodes, NEW, SPARE]) await withRedis(n, (r) => r.call('CONFIG', 'SET', 'cluster-node-timeout', String(ms)));
  };
  // Production's node timeout, so the hang lasts less than it (a hang the cluster has not judged yet).
  await nodeTimeout(15_000);
  const pid = cluster.pid(NEW);
  const slotsBefore = (await cluster.health()).shards.find((s) => s.master.address === NEW)!.slots;
  process.kill(pid, 'SIGSTOP');
  try {
    const failure = await runWorkflowFailure('removeNode', { cluster: CLUSTER, node: NEW, approve: true });
    expect(failure.type).toBe('NodeNotConfirmedDead');
    expect(failure.message).toContain(NEW);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await nodeTimeout(2_000);
  const after = await settled();
  expect(after.openSlots).toEqual([]);
  expect((await cluster.health()).shards.find((s) => s.master.address === NEW)!.slots).toBe(slotsBefore);
  expect(after.digest).toEqual(before);
});
