/**
 * rebalance on a loaded cluster: dry run, pause (nothing moves while paused), throttle, abort
 * (no slot left open), continue-as-new, and the large-key refusal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { abortUpdate, pauseUpdate, progressQuery, resumeUpdate, throttleUpdate } from '../../src/shared';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { canaryKeys } from '../../src/cluster';
import { runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { TASK_QUEUE } from '../harness/env';
import { eventually } from '../helpers/waitFor';

let cluster: TestCluster;
let before: DatasetDigest;
const EXTRA = '127.0.0.1:21067';

beforeAll(async () => {
  cluster = await TestCluster.start('reshard');
  await loadDataset(cluster.nodes[0]!, 20_000, 0, 0);
  before = await digestDataset((await cluster.health()).shards.map((s) => s.master.address));
  await runWorkflow('addNode', { cluster: 'reshard', address: EXTRA, role: 'master', rebalance: false });
});
afterAll(async () => {
  await cluster?.destroy();
});

async function startRebalance(input: Record<string, unknown>): Promise<WorkflowHandle> {
  const client = await testClient();
  return client.workflow.start('rebalance', { taskQueue: TASK_QUEUE, workflowId: workflowId('rebalance'), args: [{ cluster: 'reshard', ...input }] });
}

async function settled(): Promise<DatasetDigest> {
  const report = await cluster.healthUntil((r) => !r.findings.some((f) => ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED'].includes(f.code)));
  expect(report.findings.filter((f) => f.code === 'OPEN_SLOT')).toEqual([]);
  return digestDataset(report.shards.map((s) => s.master.address));
}

async function progressOf(handle: WorkflowHandle) {
  return (await handle.query(progressQuery)).migration;
}

test('dryRun returns the plan: a quarter of the slots onto the empty master', async () => {
  const report = await runWorkflow<RebalanceReport>('rebalance', { cluster: 'reshard', dryRun: true });
  expect(report.dryRun).toBe(true);
  expect(report.plan.slotsToMove).toBe(4096);
  expect(new Set(report.plan.moves.map((m) => m.to.address))).toEqual(new Set([EXTRA]));
});

test('pause holds (no key moves while paused), throttle and resume, then abort leaves no slot open', async () => {
  const handle = await startRebalance({ slotsPerBatch: 8, maxKeysPerSecond: 2000 });
  await eventually('slots to move', () => progressOf(handle), (m) => (m?.slotsDone ?? 0) > 0, { timeoutMs: 20_000, everyMs: 50, fatal: () => true });
  await handle.executeUpdate(pauseUpdate);
  await sleep(1500); // the batch in flight finishes
  const paused = await progressOf(handle);
  const keysOnExtra = await withRedis(EXTRA, (r) => r.dbsize());
  await sleep(1500);
  expect(await progressOf(handle)).toMatchObject({ paused: true, slotsDone: paused!.slotsDone, keysMoved: paused!.keysMoved });
  expect(await withRedis(EXTRA, (r) => r.dbsize())).toBe(keysOnExtra);

  await handle.executeUpdate(throttleUpdate, { args: [{ maxKeysPerSecond: 5000 }] });
  await handle.executeUpdate(resumeUpdate);
  await eventually('the resumed rebalance to move more slots', () => progressOf(handle), (m) => m!.slotsDone !== paused!.slotsDone, { timeoutMs: 20_000, everyMs: 50, fatal: () => true });
  const resumed = await progressOf(handle);
  expect(resumed).toMatchObject({ paused: false, maxKeysPerSecond: 5000 });
  expect(resumed!.slotsDone).toBeGreaterThan(paused!.slotsDone);

  await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test' }] });
  const report = (await handle.result()) as RebalanceReport;
  expect(report.aborted).toBe('test');
  expect(report.slotsMoved).toBeGreaterThan(0);
  expect(report.slotsMoved).toBeLessThan(4096);
  const after = await settled();
  expect(after.digest).toBe(before.digest);
});

test('the rest of the rebalance, across several runs (continue-as-new), moves every key once', async () => {
  const report = await runWorkflow<RebalanceReport>('rebalance', { cluster: 'reshard', thresholdPercent: 0, slotsPerBatch: 64, batchesPerRun: 4 });
  expect(report.runs).toBeGreaterThan(1);
  expect(report.after!.map((s) => s.slotCount).sort()).toEqual([4096, 4096, 4096, 4096]);
  expect(report.keysPerSecond).toBeGreaterThan(0);
  const after = await settled();
  expect(after).toEqual(before);
});

test('keys too large to MIGRATE safely are refused, named, unless allowed', async () => {
  const master = (await cluster.health()).shards[0]!.master.address;
  const plan = await runWorkflow<RebalanceReport>('rebalance', { cluster: 'reshard', drain: [master], dryRun: true });
  const firstSlot = plan.plan.moves[0]!.slots[0]!.start;
  const bigKey = canaryKeys([{ start: firstSlot, end: firstSlot }], 1, 'big')[0]!;
  await withRedis(master, (r) => r.set(bigKey, 'x'.repeat(200_000)));
  try {
    const failure = await runWorkflowFailure('rebalance', { cluster: 'reshard', drain: [master], maxKeyBytes: 100_000 });
    expect(failure.type).toBe('LargeKeys');
    expect(failure.message).toContain(`${bigKey} (`);
    expect(failure.message).toContain('set allowLargeKeys to move them anyway');
  } finally {
    await withRedis(master, (r) => r.del(bigKey));
  }
});
