/**
 * Crash matrix: the worker SIGKILLs itself (REDISFORGE_FAULT) at points of a slot move: right
 * after SETSLOT IMPORTING/MIGRATING, between MIGRATE batches, and after SETSLOT NODE on the
 * target and source but before the other masters. A new worker finishes the rebalance: no key
 * lost or duplicated, no slot left open.
 */
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { password, runWorkflow, TestCluster, testClient, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { startWorker, type WorkerProcess } from '../harness/worker';

const QUEUE = 'redisforge-ops-crash';
const EXTRA = '127.0.0.1:21047';
let cluster: TestCluster;
let before: DatasetDigest;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start('chaos');
  await loadDataset(cluster.nodes[0]!, 20_000, 2, 3_000);
  before = await digestDataset((await cluster.health()).shards.map((s) => s.master.address));
  await runWorkflow('addNode', { cluster: 'chaos', address: EXTRA, role: 'master', rebalance: false });
});
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await cluster?.destroy();
});

// Onto the new master, then more onto it (weight 2), then all off it (a drained master turns
// itself into a replica, so that case comes last).
const CASES: [string, Record<string, unknown>][] = [
  ['after-open:3', { thresholdPercent: 0 }],
  ['before-others:3', { weights: { [EXTRA]: 2 }, thresholdPercent: 0 }],
  ['mid-migrate:40', { drain: [EXTRA], thresholdPercent: 0 }],
];

test.each(CASES)('worker killed at %s: a new worker completes the rebalance, every key intact', async (fault, input) => {
  const client = await testClient();
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_FAULT: fault }, `worker-crash-${fault}.log`);
  const exited = new Promise<void>((resolve) => worker!.child.once('exit', () => resolve()));
  const handle = await client.workflow.start('rebalance', {
    taskQueue: QUEUE, workflowId: workflowId('crash'), args: [{ cluster: 'chaos', slotsPerBatch: 16, keysPerMigrate: 10, ...input }],
  });
  // The fault fires: SIGKILL in the middle of a slot move (a workflow that ended first is a failure).
  const first = await Promise.race([exited.then(() => 'killed'), handle.result().then(() => 'finished', (e: Error) => `failed: ${(e.cause as Error | undefined)?.message ?? e.message}`)]);
  expect(first).toBe('killed');

  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, `worker-crash-${fault}-after.log`);
  const report = (await handle.result()) as RebalanceReport;
  expect(report.aborted).toBeUndefined();
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  const health = await cluster.healthUntil((r) => !r.findings.some((f) => ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED'].includes(f.code)));
  expect(health.findings.filter((f) => f.code === 'OPEN_SLOT')).toEqual([]);
  expect(health.summary.slotsCovered).toBe(16384);
  const after = await digestDataset(health.shards.map((s) => s.master.address));
  expect(after).toEqual(before);
  await worker.stop();
  worker = undefined;
});
