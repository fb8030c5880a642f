/**
 * Crash matrix: the worker SIGKILLs itself (REDISFORGE_FAULT) at points of a slot move: right
 * after SETSLOT IMPORTING/MIGRATING, between MIGRATE batches, and after SETSLOT NODE on the
 * target and source but before the other masters. A new worker finishes the rebalance: no key
 * lost or duplicated, no slot left open.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { progressQuery } from '../../src/workflows/definitions';
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

// Onto the new master, then more onto it (weight 2; then weight 3 while it is killed), then all
// off it (a drained master turns itself into a replica, so that case comes last).
const CASES: [string, Record<string, unknown>][] = [
  ['after-open:3', { thresholdPercent: 0 }],
  ['before-others:3', { weights: { [EXTRA]: 2 }, thresholdPercent: 0 }],
  ['mid-migrate:40', { drain: [EXTRA], thresholdPercent: 0 }],
];

async function settledDigest(): Promise<DatasetDigest> {
  const health = await cluster.healthUntil((r) => !r.findings.some((f) => ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED', 'NODE_FAILED'].includes(f.code)));
  expect(health.findings.filter((f) => f.code === 'OPEN_SLOT')).toEqual([]);
  expect(health.summary.slotsCovered).toBe(16384);
  return digestDataset(health.shards.map((s) => s.master.address));
}

/** Starts a rebalance on a worker that kills itself at `fault`; a new worker must finish it. */
async function crashCase(fault: string, input: Record<string, unknown>): Promise<void> {
  const client = await testClient();
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_FAULT: fault }, `worker-crash-${fault}.log`);
  const exited = new Promise<void>((resolve) => worker!.child.once('exit', () => resolve()));
  const handle = await client.workflow.start('rebalance', {
    taskQueue: QUEUE, workflowId: workflowId('crash'), args: [{ cluster: 'chaos', slotsPerBatch: 16, keysPerMigrate: 10, ...input }],
  });
  // The fault fires: SIGKILL in the middle of a slot move (a workflow that ended first is a failure).
  const outcome = await Promise.race([exited.then(() => 'killed'), handle.result().then(() => 'finished', (e: Error) => `failed: ${(e.cause as Error | undefined)?.message ?? e.message}`)]);
  expect(outcome).toBe('killed');

  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, `worker-crash-${fault}-after.log`);
  const report = (await handle.result()) as RebalanceReport;
  expect(report.aborted).toBeUndefined();
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  expect(await settledDigest()).toEqual(before);
  await worker.stop();
  worker = undefined;
}

const [onto, more, drain] = CASES;
test.each([onto!, more!])('worker killed at %s: a new worker completes the rebalance, every key intact', crashCase);

test('the target node SIGKILLed mid-slot and restarted: the rebalance resumes, every key intact', async () => {
  const client = await testClient();
  const handle = await client.workflow.start('rebalance', {
    taskQueue: 'redisforge-ops', workflowId: workflowId('target-kill'), args: [{ cluster: 'chaos', weights: { [EXTRA]: 3 }, thresholdPercent: 0, slotsPerBatch: 16, keysPerMigrate: 10 }],
  });
  for (let i = 0; i < 400 && !((await handle.query(progressQuery)).migration?.slotsDone ?? 0); i++) await sleep(25);
  await cluster.runtime.kill(EXTRA);
  await sleep(1000);
  await cluster.runtime.start(EXTRA);
  const report = (await handle.result()) as RebalanceReport;
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  expect(await settledDigest()).toEqual(before);
});

test.each([drain!])('worker killed at %s while draining the new master: completed, every key intact', crashCase);
