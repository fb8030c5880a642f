/**
 * The Temporal server itself SIGKILLed and restarted (same SQLite file) in the middle of a
 * rebalance, a restore and an upgrade: each completes when it is back, with every key and value
 * where it was, no slot open, and every node on the version asked for. A dev server of its own,
 * with a database file, so the run's shared in-memory server is never touched.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/client/devServer';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { password, runWorkflow, TestCluster, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { testDataConverter } from '../harness/codec';
import { STATE_DIR, TEMPORAL_PORT } from '../harness/env';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { eventually, progressReaches } from '../helpers/waitFor';

const PORT = TEMPORAL_PORT + 50;
const ADDRESS = `127.0.0.1:${PORT}`;
const DB = join(STATE_DIR, 'temporal-restart.db');
const QUEUE = 'redisforge-ops-temporal-restart';
const EXTRA = '127.0.0.1:21257';

let cluster: TestCluster;
let server: DevServer | undefined;
let worker: WorkerProcess | undefined;
let client: Client;
let before: DatasetDigest;

async function startServer(): Promise<void> {
  server = await startDevServer({ port: PORT, headless: true, dbFile: DB, logFile: join(STATE_DIR, 'temporal-restart.log') });
}

beforeAll(async () => {
  cluster = await TestCluster.start('fault-core');
  await loadDataset(cluster.nodes[0]!, 5_000, 2, 500);
  before = await digestDataset((await cluster.health()).shards.map((s) => s.master.address));
  await runWorkflow('addNode', { cluster: 'fault-core', address: EXTRA, role: 'master', rebalance: false });
  await startServer();
  worker = await startWorker(password(), { TEMPORAL_ADDRESS: ADDRESS, REDISFORGE_TASK_QUEUE: QUEUE }, 'worker-temporal-restart.log');
  client = new Client({ connection: await Connection.connect({ address: ADDRESS }), dataConverter: testDataConverter() });
});
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await server?.stop();
  await cluster?.destroy();
});

/** SIGKILLs the server, keeps it down a moment (the worker's calls fail meanwhile), starts it again on the same file. */
async function crashServer(handle: WorkflowHandle): Promise<void> {
  // The crash must land in the middle, not after the end.
  expect((await handle.describe()).status.name).toBe('RUNNING');
  const proc = server!.process;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  await gone;
  await sleep(3000);
  await startServer();
}

/** The result once the server is back: the client's long poll may fail while it was down. */
async function resultAfterRestart<T>(handle: WorkflowHandle, timeoutMs = 180_000): Promise<T> {
  const result = await eventually(`the result of ${handle.workflowId}`, () => handle.result(), () => true,
    { timeoutMs, everyMs: 500, fatal: (err) => (err as Error).name === 'WorkflowFailedError' });
  return result as T;
}

async function settled(): Promise<void> {
  const health = await cluster.healthUntil((r) => !r.findings.some((f) => ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED', 'NODE_FAILED'].includes(f.code)));
  expect(health.findings.filter((f) => f.code === 'OPEN_SLOT')).toEqual([]);
  expect(health.summary.slotsCovered).toBe(16384);
  expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(before);
}

const start = (type: string, input: Record<string, unknown>) => client.workflow.start(type, { taskQueue: QUEUE, workflowId: workflowId(`restart-${type}`), args: [input] });

test('the Temporal server killed mid-rebalance: the rebalance completes after its restart, every key intact', async () => {
  const handle = await start('rebalance', { cluster: 'fault-core', thresholdPercent: 0, slotsPerBatch: 16, keysPerMigrate: 10 });
  await progressReaches(handle, 'slots to move', (p) => (p.migration?.slotsDone ?? 0) > 0);
  await crashServer(handle);
  const report = await resultAfterRestart<RebalanceReport>(handle);
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  await settled();
  // Back to the inventory's six nodes for the restore and the upgrade.
  await runWorkflow('removeNode', { cluster: 'fault-core', node: EXTRA });
});

test('the Temporal server killed mid-restore: the restore completes after its restart, every key intact', async () => {
  const backup = await resultAfterRestart<BackupReport>(await start('backupCluster', { cluster: 'fault-core' }));
  const handle = await start('restoreCluster', { cluster: 'fault-core', backupId: backup.backupId, approve: true });
  await progressReaches(handle, "the nodes' data to load", (p) => p.stepsDone >= 4);
  await crashServer(handle);
  const report = await resultAfterRestart<RestoreReport>(handle);
  expect(report.keys.every((k) => k.restored === k.expected)).toBe(true);
  await settled();
});

test('the Temporal server killed mid-upgrade: the upgrade completes after its restart, every node on 8.0.2', async () => {
  const handle = await start('upgradeRedis', { cluster: 'fault-core', version: '8.0.2' });
  await progressReaches(handle, 'the shard upgrades to begin', (p) => p.step === 'Upgrade shard by shard');
  await sleep(500);
  await crashServer(handle);
  const report = await resultAfterRestart<UpgradeRedisReport>(handle);
  expect(report.aborted).toBeUndefined();
  expect(report.nodes.map((n) => n.redisVersion)).toEqual(report.nodes.map(() => '8.0.2'));
  await settled();
});
