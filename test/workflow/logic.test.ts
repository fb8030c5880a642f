/**
 * Workflow logic on the real dev server, with stub activities in place of Redis: the one-operation
 * guard across continue-as-new, controls that are refused rather than dropped, approvals that time
 * out, and a cancellation that releases the cluster only once its activity has stopped. The real
 * workflows and the real lock activities run; only what would touch Redis is stubbed. Seconds each.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { ClusterSpec } from '../../src/activities';
import { attachRunbookWorkflow } from '../../src/client/sdk';
import { createLockActivities } from '../../src/activities/locks';
import type { MigrateBatch } from '../../src/activities/redis/migrate';
import type { SlotRange } from '../../src/cluster';
import type { MasterLoad } from '../../src/cluster/capacity';
import { abortUpdate, approveUpdate, lockHolderQuery, lockWorkflowId, pauseUpdate, progressQuery, resumeUpdate, throttleUpdate } from '../../src/shared';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { testClient, workflowId } from '../harness/cluster';
import { testDataConverter } from '../harness/codec';
import { BUNDLE_PATH, TEMPORAL_ADDRESS } from '../harness/env';
import { healthyObservations, sampleManifest } from '../helpers/topology';
import { eventually } from '../helpers/waitFor';

const QUEUE = `redisforge-logic-${process.pid}`;
const NODES = healthyObservations().map((o) => o.address);
const DRAINED = '127.0.0.1:30002';

/** What the stubs do, per cluster name (each test uses its own cluster, so their locks never meet). */
const behaviour = {
  preflightMs: new Map<string, number>(),
  migrateMs: 150,
  /** How long a cancelled migration takes to stop (a MIGRATE in flight finishes first). */
  stopAfterCancelMs: 1500,
  migrations: new Map<string, number>(),
  stoppedAt: new Map<string, number>(),
  stopNodeHold: new Map<string, Promise<void>>(),
};

const stubs = {
  async loadClusterSpec(name: string): Promise<ClusterSpec> {
    return { name, nodes: NODES, masters: 3, replicasPerMaster: 1, tlsInsecure: false, spareNodes: [], runtime: 'process' };
  },
  async collectClusterState(cluster: string) {
    await sleep(behaviour.preflightMs.get(cluster) ?? 0);
    return healthyObservations();
  },
  async findLargeKeys() {
    return [];
  },
  /** No memory limit anywhere: the headroom check has nothing to refuse. */
  async collectSlotLoads(_cluster: string, masters: { id: string; address: string; slots: SlotRange[] }[]): Promise<MasterLoad[]> {
    return masters.map((m) => ({ ...m, usedBytes: 0, maxmemory: 0, slotBytes: [] }));
  },
  async migrateSlots(cluster: string, batch: MigrateBatch) {
    const ctx = Context.current();
    behaviour.migrations.set(cluster, (behaviour.migrations.get(cluster) ?? 0) + 1);
    const until = Date.now() + behaviour.migrateMs;
    while (Date.now() < until || cluster.endsWith('-cancel')) {
      ctx.heartbeat();
      if (ctx.cancellationSignal.aborted) {
        await sleep(behaviour.stopAfterCancelMs);
        behaviour.stoppedAt.set(cluster, Date.now());
        throw ctx.cancellationSignal.reason;
      }
      await sleep(25);
    }
    return { slots: batch.slots, keysMoved: batch.slots.length, keysReplaced: 0, slotsResumed: 0 };
  },
  /** What a cancelled move finds open afterwards: nothing (the stub opens no slot). */
  async inspectOpenSlots(_cluster: string, _masters: string[], slots: number[]) {
    return slots.map((slot) => ({ slot, holders: [] }));
  },
  async awaitClusterHealthy() {
    return { healthy: true, shards: [], findings: [] };
  },
  async describeStore() {
    return { name: 'local', description: 'stub' };
  },
  async readBackupManifest(cluster: string) {
    return sampleManifest(cluster);
  },
  async verifyBackupObjects() {
    return { bytes: 3 };
  },
  async stopNode(cluster: string) {
    await behaviour.stopNodeHold.get(cluster);
    return { stoppedAt: Date.now() };
  },
};

let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  // The in-process worker's lifecycle lines are not the test's business (install fails if a runtime exists).
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // another suite in this process installed it first
  }
  const client = await testClient();
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  worker = await Worker.create({
    connection,
    dataConverter: testDataConverter(),
    taskQueue: QUEUE,
    workflowBundle: { codePath: BUNDLE_PATH },
    activities: { ...stubs, ...createLockActivities(async () => client, () => QUEUE) },
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
});

async function start(type: string, input: Record<string, unknown>): Promise<WorkflowHandle> {
  const client = await testClient();
  return client.workflow.start(type, { taskQueue: QUEUE, workflowId: workflowId(`logic-${type}`), args: [input] });
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause as ApplicationFailure;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

const drain = (cluster: string, extra: Record<string, unknown> = {}) => ({ cluster, drain: [DRAINED], thresholdPercent: 0, slotsPerBatch: 1024, ...extra });

test('the guard follows a rebalance across continue-as-new: no second operation while it runs, and the cluster is free after', async () => {
  const cluster = 'logic-guard';
  const holder = await start('rebalance', drain(cluster, { batchesPerRun: 1 }));
  const firstRun = (await holder.describe()).runId;
  // Several runs later the holder's first run id is closed; its workflow id still runs.
  await eventually('the rebalance to continue as new twice', () => holder.query(progressQuery), () => (behaviour.migrations.get(cluster) ?? 0) >= 3);
  expect((await holder.describe()).runId).not.toBe(firstRun);

  const refused: string[] = [];
  for (const type of ['rebalance', 'restoreCluster']) {
    const other = await start(type, type === 'rebalance' ? drain(cluster) : { cluster, backupId: 'b1', approve: true });
    const failure = await failureOf(other.result());
    expect(failure.type).toBe('ClusterBusy');
    expect(failure.message).toContain(holder.workflowId);
    refused.push(type);
  }
  expect(refused).toEqual(['rebalance', 'restoreCluster']);

  const report = (await holder.result()) as RebalanceReport;
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  expect(report.runs).toBeGreaterThan(2);
  const client = await testClient();
  await eventually('the lock to be free', () => client.workflow.getHandle(lockWorkflowId(cluster)).describe(), (d) => d.status.name !== 'RUNNING');
});

test('abort and throttle sent while the preflight runs are kept, not dropped', async () => {
  const cluster = 'logic-early';
  behaviour.preflightMs.set(cluster, 1500);
  const handle = await start('rebalance', drain(cluster));
  await eventually('the preflight to start', () => handle.query(progressQuery), (p) => p.step === 'Check the cluster is healthy');
  expect(await handle.executeUpdate(throttleUpdate, { args: [{ maxKeysPerSecond: 500 }] })).toBe('at most 500 keys per second');
  expect(await handle.executeUpdate(abortUpdate, { args: [{ reason: 'changed my mind' }] })).toMatch(/stops at its next safe point/);
  const report = (await handle.result()) as RebalanceReport;
  expect(report.aborted).toBe('changed my mind');
  expect(report.slotsMoved).toBe(0);
  expect(behaviour.migrations.get(cluster) ?? 0).toBe(0);
});

test('controls that do not apply now are refused with the reason; the same control twice is answered', async () => {
  const cluster = 'logic-controls';
  const handle = await start('rebalance', drain(cluster, { slotsPerBatch: 256 }));
  await eventually('slots to move', () => handle.query(progressQuery), (p) => (p.migration?.slotsDone ?? 0) > 0);
  expect(await refusal(handle.executeUpdate(resumeUpdate))).toMatch(/not paused: nothing to resume/);
  // The SDK handle the CLI uses gets the same answers.
  const sdk = await attachRunbookWorkflow(await testClient(), handle.workflowId);
  await expect(sdk.resume()).rejects.toThrow(WorkflowUpdateFailedError);
  expect(await sdk.throttle(800)).toBe('at most 800 keys per second');
  expect(await refusal(handle.executeUpdate(throttleUpdate, { args: [{ maxKeysPerSecond: -5 }] }))).toMatch(/maxKeysPerSecond must be a whole number/);
  expect(await handle.executeUpdate(pauseUpdate)).toMatch(/pauses at its next safe point/);
  expect(await handle.executeUpdate(pauseUpdate)).toBe('rebalance is already paused');
  const paused = await eventually('the pause to hold', () => handle.query(progressQuery), (p) => p.migration?.paused === true);
  await sleep(500);
  expect((await handle.query(progressQuery)).migration?.slotsDone).toBe(paused.migration?.slotsDone);
  expect(await handle.executeUpdate(resumeUpdate)).toBe('rebalance resumed');
  const report = (await handle.result()) as RebalanceReport;
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  // Once it has ended, the server refuses a control outright: it cannot vanish into a closed run.
  await expect(handle.executeUpdate(abortUpdate, { args: [{}] })).rejects.toBeInstanceOf(WorkflowNotFoundError);
});

test('a cancelled rebalance releases the cluster only after its migration has stopped', async () => {
  const cluster = 'logic-cancel';
  const handle = await start('rebalance', drain(cluster));
  await eventually('a migration to run', async () => behaviour.migrations.get(cluster) ?? 0, (n) => n > 0);
  const client = await testClient();
  const lock = client.workflow.getHandle(lockWorkflowId(cluster));
  expect((await lock.query(lockHolderQuery))?.workflowId).toBe(handle.workflowId);
  await handle.cancel();
  const failure = await handle.result().then(() => undefined, (e: unknown) => e);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const closedAt = Date.now();
  const stoppedAt = behaviour.stoppedAt.get(cluster);
  expect(stoppedAt).toBeDefined();
  expect(stoppedAt!).toBeLessThanOrEqual(closedAt);
  const history = await lock.fetchHistory();
  const released = history.events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'release');
  expect(released).toBeDefined();
  expect(Number(released!.eventTime!.seconds) * 1000 + Math.floor((released!.eventTime!.nanos ?? 0) / 1e6)).toBeGreaterThanOrEqual(stoppedAt! - 1000);
  expect(await lock.query(lockHolderQuery).catch(() => undefined)).toBeUndefined();
});

test('an approval gate declines when nobody answers in time, and refuses approve or abort when it is not waiting', async () => {
  const cluster = 'logic-approval';
  const silent = await start('restoreCluster', { cluster, backupId: 'b1', approvalTimeoutSeconds: 2 });
  const declined = await failureOf(silent.result());
  expect(declined.type).toBe('Declined');
  expect(declined.message).toMatch(/declined \(no approval within 2 s \(approvalTimeoutSeconds\)\); no node was touched/);

  let release!: () => void;
  behaviour.stopNodeHold.set(cluster, new Promise<void>((r) => (release = r)));
  const gated = await start('restoreCluster', { cluster, backupId: 'b1' });
  await eventually('the approval gate', () => gated.query(progressQuery), (p) => p.step === 'Wait for approval' || /approval needed/.test(p.detail ?? ''));
  expect(await refusal(gated.executeUpdate(approveUpdate, { args: [{ by: '  ' }] }))).toMatch(/"by" must say who approves/);
  expect(await gated.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'drill' }] })).toBe('approved by alice');
  // The same approval again (a client retry) is answered; an abort after it is refused, not ignored.
  expect(await gated.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] })).toBe('already approved by alice');
  expect(await refusal(gated.executeUpdate(abortUpdate, { args: [{ reason: 'too late' }] }))).toMatch(/approved by alice and has gone on; to stop it now, cancel the workflow/);
  release();
  await gated.cancel();
  await gated.result().catch(() => undefined);
});
