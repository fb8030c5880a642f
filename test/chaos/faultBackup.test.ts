/**
 * The fault matrix for backupCluster and verifyBackup on the `fault-backup` cluster (production
 * default timeouts): a backup cancelled or terminated in the middle of its AOF rewrite, a backupId
 * used twice, a cluster busy with another operation (directly and through the nightly Schedule),
 * a verifyBackup drill cancelled with its scratch servers up, a source node killed mid-backup.
 * Referee: the rewrite setting on every node, what the store lists as complete, keys and values.
 */
import { existsSync, readdirSync } from 'node:fs';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { deleteBackupSchedule, upsertBackupSchedule, describeBackupSchedule } from '../../src/client/schedules';
import { claimKey, manifestKey, shardObjectKey, type BackupManifest } from '../../src/cluster';
import { parseInventory } from '../../src/config';
import { createStore } from '../../src/storage';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { password, runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { SCRATCH_BASE_PORT, SCRATCH_DIR, TASK_QUEUE, testInventory } from '../harness/env';
import { startWorker } from '../harness/worker';
import { eventually, progressReaches } from '../helpers/waitFor';

const CLUSTER = 'fault-backup';
/** The operator's setting, not Redis's default, so a "restored" default would show. */
const ORIGINAL = '150';
const store = createStore(parseInventory(testInventory()).stores.local!);
let cluster: TestCluster;
let before: DatasetDigest;

beforeAll(async () => {
  cluster = await TestCluster.start(CLUSTER);
  await loadDataset(cluster.nodes[0]!, 20_000, 3, 500);
  before = await digestDataset((await cluster.healthUntil((r) => r.healthy)).shards.map((s) => s.master.address));
  for (const node of cluster.nodes) await withRedis(node, (r) => r.config('SET', 'auto-aof-rewrite-percentage', ORIGINAL));
});
afterAll(async () => {
  await cluster?.destroy();
});

const rewriteSetting = (node: string) => withRedis(node, async (r) => ((await r.config('GET', 'auto-aof-rewrite-percentage')) as string[])[1]!);
const settings = () => Promise.all(cluster.nodes.map(rewriteSetting));
/** Each rewrite takes seconds: about 7000 keys per shard at 1 ms each. */
const slowRewrites = (on: boolean, except?: string) =>
  Promise.all(cluster.nodes.filter((n) => n !== except).map((n) => withRedis(n, (r) => r.config('SET', 'rdb-key-save-delay', on ? '1000' : '0'))));

async function start(type: string, input: Record<string, unknown>, id = workflowId(type)): Promise<WorkflowHandle> {
  return (await testClient()).workflow.start(type, { taskQueue: TASK_QUEUE, workflowId: id, args: [input] });
}

/** Waits until some node has its rewrite setting held by a running backup: the backup is in the middle of a shard. */
async function heldNode(): Promise<string> {
  const isHeld = (v: string) => Number(v) >= 2_000_000_000;
  const seen = await eventually('a node with its rewrite setting held by the backup', settings, (values) => values.some(isHeld), { timeoutMs: 30_000, everyMs: 50, fatal: () => true });
  return cluster.nodes[seen.findIndex(isHeld)]!;
}

async function failureOf(handle: WorkflowHandle): Promise<Error> {
  try {
    await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause) return err.cause;
    throw err;
  }
  throw new Error(`${handle.workflowId} completed, expected a failure`);
}

test('a backup cancelled in the middle of its AOF rewrites: cancelled, the setting back everywhere, nothing of it left in the store', async () => {
  await slowRewrites(true);
  try {
    const handle = await start('backupCluster', { cluster: CLUSTER, backupId: 'cancelled-mid-rewrite' });
    await heldNode();
    await handle.cancel();
    expect(await failureOf(handle)).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await settings()).toEqual(cluster.nodes.map(() => ORIGINAL));
    expect(await store.list(`${CLUSTER}/cancelled-mid-rewrite/`)).toEqual([]);
  } finally {
    await slowRewrites(false);
  }
});

test('a backup whose worker died mid-rewrite, then terminated: the setting stays held; the next backup puts the original back, not its own value', async () => {
  await slowRewrites(true);
  let held: string;
  const queue = 'redisforge-ops-fault-backup-kill';
  let worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: queue, REDISFORGE_KILL_AT: 'backupShard:1:heartbeat3' }, 'worker-fault-backup-terminated.log');
  let report: BackupReport;
  try {
    const exited = new Promise((resolve) => worker.child.once('exit', resolve));
    const client = await testClient();
    const handle = await client.workflow.start('backupCluster', { taskQueue: queue, workflowId: workflowId('terminated'), args: [{ cluster: CLUSTER, backupId: 'terminated-mid-rewrite' }] });
    const outcome = await Promise.race([exited.then(() => 'killed'), handle.result().then(() => 'finished', (e: Error) => `failed: ${e.message}`)]);
    expect(outcome).toBe('killed');
    held = await heldNode();
    await handle.terminate('its worker died; the operator gives up on it');
    await slowRewrites(false);
    expect(Number(await rewriteSetting(held))).toBe(2_000_000_000 + Number(ORIGINAL));
    // The cluster's lock workflow runs on this queue (the dead worker started it): the next backup runs here too.
    worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: queue }, 'worker-fault-backup-terminated-2.log');
    report = await client.workflow.execute('backupCluster', { taskQueue: queue, workflowId: workflowId('after-terminated'), args: [{ cluster: CLUSTER }] });
  } finally {
    await worker.stop('SIGKILL');
    await slowRewrites(false);
  }
  expect(report.keys).toBe(before.keys);
  expect(await settings()).toEqual(cluster.nodes.map(() => ORIGINAL));
  const terminated = (await store.list(`${CLUSTER}/terminated-mid-rewrite/`)).map((o) => o.key);
  expect(terminated).not.toContain(manifestKey(CLUSTER, 'terminated-mid-rewrite'));
});

test('a backupId already used is refused before anything is written; the workflow that owns an unfinished one finishes it', async () => {
  const first = await runWorkflow<BackupReport>('backupCluster', { cluster: CLUSTER, backupId: 'fixed-id' });
  const listed = await store.list(`${CLUSTER}/fixed-id/`);
  const manifest = await store.getJson<BackupManifest>(manifestKey(CLUSTER, 'fixed-id'));
  const again = await runWorkflowFailure('backupCluster', { cluster: CLUSTER, backupId: 'fixed-id' });
  expect(again.type).toBe('BackupIdTaken');
  expect(again.message).toContain('backupId: fixed-id is a complete backup of cluster fault-backup, which is never overwritten');
  expect(await store.list(`${CLUSTER}/fixed-id/`)).toEqual(listed);
  expect(await store.getJson<BackupManifest>(manifestKey(CLUSTER, 'fixed-id'))).toEqual(manifest);
  expect(first.keys).toBe(before.keys);

  // What a run killed mid-way left: its claim and one shard.
  const owner = workflowId('backup-owner');
  await store.putJson(claimKey(CLUSTER, 'unfinished-id'), { workflowId: owner });
  await store.putJson(shardObjectKey(CLUSTER, 'unfinished-id', 0, 'none'), { partial: true });
  const stranger = await runWorkflowFailure('backupCluster', { cluster: CLUSTER, backupId: 'unfinished-id' });
  expect(stranger.message).toContain(`backupId: unfinished-id holds objects of an unfinished backup written by workflow ${owner}`);
  const resumed = await runWorkflow<BackupReport>('backupCluster', { cluster: CLUSTER, backupId: 'unfinished-id' }, owner);
  expect(resumed.keys).toBe(before.keys);
  expect((await store.getJson<BackupManifest>(manifestKey(CLUSTER, 'unfinished-id')))?.workflowId).toBe(owner);
});

test('a busy cluster: the backup fails with ClusterBusy, or with ifBusy skip completes as "skipped"; the nightly Schedule skips and stays unpaused', async () => {
  // A restore waiting for its approval holds the cluster.
  const holder = await start('restoreCluster', { cluster: CLUSTER, backupId: 'fixed-id' });
  const { step } = await progressReaches(holder, 'the restore to wait for approval', (p) => p.step === 'Wait for approval');
  expect(step).toBe('Wait for approval');
  try {
    const busy = await runWorkflowFailure('backupCluster', { cluster: CLUSTER });
    expect(busy.type).toBe('ClusterBusy');
    const skipped = await runWorkflow<BackupReport>('backupCluster', { cluster: CLUSTER, ifBusy: { waitSeconds: 1, then: 'skip' } });
    expect(skipped.skipped).toMatch(/^skipped: cluster busy \(.*restoreCluster/);
    expect(skipped.skipped).toContain(holder.workflowId);
    expect(skipped.shards).toEqual([]);

    const client = await testClient();
    await upsertBackupSchedule(client, { cluster: CLUSTER, cron: '0 3 * * *', backup: { ifBusy: { waitSeconds: 1, then: 'skip' } } });
    try {
      const schedule = client.schedule.getHandle(`backup-${CLUSTER}`);
      await schedule.trigger();
      const runs = await eventually('the triggered backup in the schedule', async () => (await schedule.describe()).info.recentActions, (r) => r.length > 0, { timeoutMs: 20_000, everyMs: 100, fatal: () => true });
      expect(runs).toHaveLength(1);
      const run = client.workflow.getHandle((runs[0]!.action as { workflow: { workflowId: string } }).workflow.workflowId);
      expect(((await run.result()) as BackupReport).skipped).toContain('cluster busy');
      expect((await run.describe()).status.name).toBe('COMPLETED');
      expect((await describeBackupSchedule(client, CLUSTER)).paused).toBe(false);
    } finally {
      await deleteBackupSchedule(client, CLUSTER);
    }
  } finally {
    await holder.cancel();
    await holder.result().catch(() => undefined);
  }
  // The restore never got its approval: every node still runs, with its data.
  for (const node of cluster.nodes) expect(await cluster.runtime.status(node)).toBe('running');
  expect(await digestDataset((await cluster.healthUntil((r) => r.healthy)).shards.map((s) => s.master.address))).toEqual(before);
});

test('verifyBackup cancelled while its scratch cluster runs: cancelled, and no scratch server or directory is left', async () => {
  const handle = await start('verifyBackup', { cluster: CLUSTER, backupId: 'fixed-id', basePort: SCRATCH_BASE_PORT });
  const child = (await testClient()).workflow.getHandle(`${handle.workflowId}-restore`);
  const { step } = await progressReaches(child, "the drill's restore to start its nodes", (p) => ['Start the nodes', 'Await cluster ok', 'Verify key counts'].includes(p.step));
  expect(['Start the nodes', 'Await cluster ok', 'Verify key counts']).toContain(step);
  await handle.cancel();
  expect(await failureOf(handle)).toBeInstanceOf(CancelledFailure);
  expect((await child.describe()).status.name).not.toBe('RUNNING');
  for (let port = SCRATCH_BASE_PORT; port < SCRATCH_BASE_PORT + 6; port++) {
    expect(await withRedis(`127.0.0.1:${port}`, (r) => r.ping()).catch(() => 'down')).toBe('down');
  }
  // The drill's mkdtemp directory (named after the cluster) is removed with its servers.
  expect(existsSync(SCRATCH_DIR) ? readdirSync(SCRATCH_DIR).filter((e) => e.startsWith(`${CLUSTER}-`)) : []).toEqual([]);
});

test('a source replica SIGKILLed, then another SIGSTOPped, in the middle of their shard: the backup reads those shards from their masters, naming the node', async () => {
  for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
    const shards = (await cluster.healthUntil((r) => r.healthy)).shards;
    await slowRewrites(true);
    let faulty: string;
    let report: BackupReport;
    try {
      const handle = await start('backupCluster', { cluster: CLUSTER });
      faulty = await heldNode();
      if (fault === 'SIGKILL') await cluster.runtime.kill(faulty);
      else process.kill(cluster.pid(faulty), 'SIGSTOP');
      await slowRewrites(false, faulty);
      report = (await handle.result()) as BackupReport;
    } finally {
      if (fault === 'SIGSTOP') process.kill(cluster.pid(faulty!), 'SIGCONT');
      await slowRewrites(false, fault === 'SIGKILL' ? faulty! : undefined);
    }
    expect(report.keys).toBe(before.keys);
    const master = shards.find((s) => s.replicas.some((r) => r.address === faulty))?.master.address;
    expect(report.fallbacks.join('\n')).toContain(`read from ${master} after ${faulty} failed`);
    expect(report.shards.find((s) => s.source === master)?.role).toBe('master');
    for (const node of cluster.nodes.filter((n) => n !== faulty)) expect(await rewriteSetting(node)).toBe(ORIGINAL);
    // The test stopped it, the test starts it again: it rejoins as it was.
    if (fault === 'SIGKILL') {
      await cluster.runtime.start(faulty);
      // A restart reads redis.conf: the operator's CONFIG SET value is set again, as an operator would.
      await withRedis(faulty, (r) => r.config('SET', 'auto-aof-rewrite-percentage', ORIGINAL));
    }
    else expect([ORIGINAL, String(2_000_000_000 + Number(ORIGINAL))]).toContain(await rewriteSetting(faulty));
    const health = await cluster.healthUntil((r) => r.healthy, 60_000);
    expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(before);
  }
});
