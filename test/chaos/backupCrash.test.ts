/**
 * The worker SIGKILLs itself (REDISFORGE_FAULT) in the middle of a shard upload and in the
 * middle of a restore (after one node's data was written). A new worker completes both: one
 * complete backup with no stray objects, automatic AOF rewrites back on, every key restored.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { manifestKey, type BackupManifest } from '../../src/cluster';
import { parseInventory } from '../../src/config';
import { createStore } from '../../src/storage';
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import { password, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { STATE_DIR, testInventory } from '../harness/env';
import { startWorker, type WorkerProcess } from '../harness/worker';

const QUEUE = 'redisforge-ops-backup-crash';
const store = createStore(parseInventory(testInventory()).stores.local!);
let source: TestCluster;
let target: TestCluster;
let before: DatasetDigest;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  [source, target] = await Promise.all([TestCluster.start('backup'), TestCluster.start('restored', { form: false })]);
  await loadDataset(source.nodes[0]!, 30_000, 3, 2_000);
  before = await digestDataset((await source.health()).shards.map((s) => s.master.address));
});
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await Promise.all([source?.destroy(), target?.destroy()]);
});

/** Starts `type` on a worker that kills itself at `fault`; a second worker finishes it. */
async function crashAndResume<T>(fault: string, type: string, input: Record<string, unknown>): Promise<T> {
  const client = await testClient();
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_FAULT: fault }, `worker-crash-${fault}.log`);
  const exited = new Promise<void>((resolve) => worker!.child.once('exit', () => resolve()));
  const handle = await client.workflow.start(type, { taskQueue: QUEUE, workflowId: workflowId(`crash-${type}`), args: [input] });
  const outcome = await Promise.race([exited.then(() => 'killed'), handle.result().then(() => 'finished', (e: Error) => `failed: ${e.message}`)]);
  expect(outcome).toBe('killed');
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, `worker-crash-${fault}-after.log`);
  const result = (await handle.result()) as T;
  await worker.stop();
  worker = undefined;
  return result;
}

test('worker killed mid-upload: the backup completes on a new worker, one object per shard, auto rewrite back on', async () => {
  const report = await crashAndResume<BackupReport>('mid-upload:3', 'backupCluster', { cluster: 'backup' });
  expect(report.keys).toBe(before.keys);
  const objects = (await store.list(`backup/${report.backupId}/`)).map((o) => o.key.split('/').pop());
  expect(objects.sort()).toEqual(['manifest.json', 'shard-0.tar', 'shard-1.tar', 'shard-2.tar']);
  // What the killed upload left is a temp file, never listed as an object, removed by retention after a day.
  const leftovers = readdirSync(join(STATE_DIR, 'backups', 'backup', report.backupId)).filter((f) => !objects.includes(f));
  expect(leftovers.every((f) => f.startsWith('.rf-partial-'))).toBe(true);
  const manifest = (await store.getJson<BackupManifest>(manifestKey('backup', report.backupId)))!;
  expect(manifest.keys).toBe(before.keys);
  for (const node of source.nodes) expect(await withRedis(node, (r) => r.config('GET', 'auto-aof-rewrite-percentage'))).toEqual(['auto-aof-rewrite-percentage', '100']);

  const restored = await crashAndResume<RestoreReport>('mid-restore:2', 'restoreCluster', { cluster: 'restored', from: 'backup', store: 'local', backupId: report.backupId, approve: true });
  expect(restored.keys.map((k) => k.restored)).toEqual(restored.keys.map((k) => k.expected));
  const health = await target.healthUntil((r) => r.healthy, 60_000);
  expect(health.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(before);
});
