/**
 * Crash matrix: the worker is SIGKILLed (REDISFORGE_KILL_AT, test/harness/faults.ts) in the
 * middle of a batch of slot moves (at the Kth heartbeat: one per MIGRATE, so a slot is open) and
 * right after a batch completed but before Temporal heard of it. A new worker finishes the
 * rebalance: no key lost or duplicated, no slot left open.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessRuntime } from '../../src/runtime';
import type { AddNodeReport } from '../../src/workflows/addNode';
import type { RemoveNodeReport } from '../../src/workflows/removeNode';
import type { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { password, runWorkflow, TestCluster, testClient, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { runThroughKills } from '../helpers/killChain';
import { progressReaches } from '../helpers/waitFor';

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
  ['migrateSlots:2:heartbeat4', { thresholdPercent: 0 }],
  ['migrateSlots:3:after', { weights: { [EXTRA]: 2 }, thresholdPercent: 0 }],
  ['migrateSlots:4:heartbeat10', { drain: [EXTRA], thresholdPercent: 0 }],
];

async function settledDigest(): Promise<DatasetDigest> {
  const health = await cluster.healthUntil((r) => !r.findings.some((f) => ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED', 'NODE_FAILED'].includes(f.code)));
  expect(health.findings.filter((f) => f.code === 'OPEN_SLOT')).toEqual([]);
  expect(health.summary.slotsCovered).toBe(16384);
  return digestDataset(health.shards.map((s) => s.master.address));
}

/** Starts a rebalance on a worker killed at `fault` (REDISFORGE_KILL_AT); a new worker must finish it. */
async function crashCase(fault: string, input: Record<string, unknown>): Promise<void> {
  const client = await testClient();
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_KILL_AT: fault }, `worker-crash-${fault.replace(/:/g, '-')}.log`);
  const exited = new Promise<void>((resolve) => worker!.child.once('exit', () => resolve()));
  const handle = await client.workflow.start('rebalance', {
    taskQueue: QUEUE, workflowId: workflowId('crash'), args: [{ cluster: 'chaos', slotsPerBatch: 16, keysPerMigrate: 10, ...input }],
  });
  // The fault fires: SIGKILL in the middle of a slot move (a workflow that ended first is a failure).
  const outcome = await Promise.race([exited.then(() => 'killed'), handle.result().then(() => 'finished', (e: Error) => `failed: ${(e.cause as Error | undefined)?.message ?? e.message}`)]);
  expect(outcome).toBe('killed');

  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, `worker-crash-${fault.replace(/:/g, '-')}-after.log`);
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
  await progressReaches(handle, 'slots to move', (p) => (p.migration?.slotsDone ?? 0) > 0);
  await cluster.runtime.kill(EXTRA);
  await sleep(1000);
  await cluster.runtime.start(EXTRA);
  const report = (await handle.result()) as RebalanceReport;
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  expect(await settledDigest()).toEqual(before);
});

test.each([drain!])('worker killed at %s while draining the new master: completed, every key intact', crashCase);

/** Runs one operation on workers killed in turn at each point; a last worker without a kill point finishes it. */
async function throughCrashes<T>(type: string, input: Record<string, unknown>, points: string[]): Promise<T> {
  const client = await testClient();
  const chain = await runThroughKills<T>(QUEUE, points, () => client.workflow.start(type, { taskQueue: QUEUE, workflowId: workflowId(`${type}-crashes`), args: [input] }), {}, `worker-${type}`);
  return chain.result;
}

const ADDED = '127.0.0.1:21048';

test('addNode (master, rebalanced) with the worker killed after provisioning, after the gossip wait, after and inside slot batches: completed, every key intact', async () => {
  const report = await throughCrashes<AddNodeReport>('addNode', { cluster: 'chaos', address: ADDED, role: 'master' }, [
    // Inside a batch before after one: a fresh worker's first batch always has MIGRATEs to heartbeat.
    'provisionNode:1:after', 'awaitNodesKnown:1:after', 'migrateSlots:1:heartbeat3', 'migrateSlots:2:after',
  ]);
  expect(report).toMatchObject({ provisioned: true, role: 'master' });
  expect(report.rebalance!.slotsMoved).toBeGreaterThan(0);
  expect(report.after.some((s) => s.master.address === ADDED && s.slotCount > 0)).toBe(true);
  expect(await settledDigest()).toEqual(before);
});

test('removeNode (drain) with the worker killed inside a slot batch, after forget, after reset and after deprovision: completed, every key intact, nothing left of the node', async () => {
  const report = await throughCrashes<RemoveNodeReport>('removeNode', { cluster: 'chaos', node: ADDED }, [
    'migrateSlots:2:heartbeat3', 'forgetNode:1:after', 'resetNode:1:after', 'deprovisionNode:1:after',
  ]);
  expect(report).toMatchObject({ stopped: true, wasAlive: true });
  expect(report.slotsDrained).toBeGreaterThan(0);
  expect(report.after.some((s) => s.master.address === ADDED)).toBe(false);
  expect(existsSync((cluster.runtime as ProcessRuntime).nodeDir(ADDED))).toBe(false);
  expect(await settledDigest()).toEqual(before);
});

const DOWN = '127.0.0.1:21049';

test('the target SIGKILLed mid-rebalance and left down: the rebalance fails at once naming it, no slot left open; back up and repaired, every key intact', async () => {
  await runWorkflow('addNode', { cluster: 'chaos', address: DOWN, role: 'master', rebalance: false });
  const client = await testClient();
  const handle = await client.workflow.start('rebalance', {
    taskQueue: 'redisforge-ops', workflowId: workflowId('target-down'), args: [{ cluster: 'chaos', thresholdPercent: 0, slotsPerBatch: 16, keysPerMigrate: 10 }],
  });
  await progressReaches(handle, 'slots to move', (p) => (p.migration?.slotsDone ?? 0) > 0);
  await cluster.runtime.kill(DOWN);
  const failure = await handle.result().then(() => undefined, (e: WorkflowFailedError) => e.cause as ApplicationFailure);
  expect(failure?.type).toBe('SlotMigrationFailed');
  expect(failure?.message).toContain(`${DOWN} is down`);
  expect(failure?.message).toContain(`${DOWN} did not answer: once it is back (or replaced), run repairCluster`);
  const whileDown = await cluster.healthUntil((r) => !r.findings.some((f) => f.code === 'SLOT_MAP_DISAGREEMENT'));
  expect(whileDown.findings.filter((f) => f.code === 'OPEN_SLOT')).toEqual([]);
  // What the message says to do: the node back (repairCluster would also restart it), then repairCluster.
  await cluster.runtime.start(DOWN);
  await runWorkflow('repairCluster', { cluster: 'chaos' });
  expect(await settledDigest()).toEqual(before);
});
