/**
 * The crash matrix of backupCluster (directory store and S3), restoreCluster and verifyBackup:
 * the worker SIGKILLed (REDISFORGE_KILL_AT) after each step that writes, and in the middle of a
 * shard upload; new workers finish each operation. Referee: one complete backup with one object
 * per shard, the rewrite setting back on every node, every key and value restored.
 */
import { manifestKey, type BackupManifest } from '../../src/cluster';
import { parseInventory } from '../../src/config';
import { createStore } from '../../src/storage';
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import type { VerifyBackupReport } from '../../src/workflows/verifyBackup';
import { TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { runInfo, SCRATCH_BASE_PORT, testInventory } from '../harness/env';
import { runThroughKills } from '../helpers/killChain';

const QUEUE = 'redisforge-ops-backup-crash';
const inventory = parseInventory(testInventory());
let source: TestCluster;
let target: TestCluster;
let before: DatasetDigest;
let fsBackup: BackupReport;

beforeAll(async () => {
  [source, target] = await Promise.all([TestCluster.start('backup'), TestCluster.start('restored', { form: false })]);
  await loadDataset(source.nodes[0]!, 30_000, 3, 2_000);
  before = await digestDataset((await source.healthUntil((r) => r.healthy)).shards.map((s) => s.master.address));
});
afterAll(async () => {
  await Promise.all([source?.destroy(), target?.destroy()]);
});

async function run<T>(type: string, input: Record<string, unknown>, points: string[]) {
  const client = await testClient();
  return runThroughKills<T>(QUEUE, points, () => client.workflow.start(type, { taskQueue: QUEUE, workflowId: workflowId(`crash-${type}`), args: [input] }));
}

async function expectCompleteBackup(store: 'local' | 's3', report: BackupReport, shardNames: string[]): Promise<void> {
  expect(report.keys).toBe(before.keys);
  const s = createStore(inventory.stores[store]!);
  const objects = (await s.list(`backup/${report.backupId}/`)).map((o) => o.key.split('/').pop());
  expect(objects.sort()).toEqual(['claim.json', 'manifest.json', ...shardNames].sort());
  expect((await s.getJson<BackupManifest>(manifestKey('backup', report.backupId)))!.keys).toBe(before.keys);
  for (const node of source.nodes) expect(await withRedis(node, (r) => r.config('GET', 'auto-aof-rewrite-percentage'))).toEqual(['auto-aof-rewrite-percentage', '100']);
}

test('backupCluster to the directory store: killed after claiming the id, mid-upload, after the manifest; completes with one object per shard', async () => {
  const { result, attempts } = await run<BackupReport>('backupCluster', { cluster: 'backup' }, ['claimBackupId:1:after', 'backupShard:1:heartbeat3', 'writeBackupManifest:1:after']);
  for (const step of ['claimBackupId', 'backupShard', 'writeBackupManifest']) expect(Math.max(...attempts[step]!)).toBeGreaterThanOrEqual(2);
  await expectCompleteBackup('local', result, ['shard-0.tar', 'shard-1.tar', 'shard-2.tar']);
  fsBackup = result;
});

test('backupCluster to S3 (gzip): killed after a shard upload and after the manifest; completes', async () => {
  if (!runInfo().s3Available) return;
  const { result } = await run<BackupReport>('backupCluster', { cluster: 'backup', store: 's3', compression: 'gzip' }, ['backupShard:1:after', 'writeBackupManifest:1:after']);
  await expectCompleteBackup('s3', result, ['shard-0.tar.gz', 'shard-1.tar.gz', 'shard-2.tar.gz']);
});

test('restoreCluster onto other nodes: killed in the middle of loading a node, then after a node was loaded; every key restored', async () => {
  const { result } = await run<RestoreReport>(
    'restoreCluster',
    { cluster: 'restored', from: 'backup', store: 'local', backupId: fsBackup.backupId, approve: true },
    ['restoreNodeData:1:heartbeat3', 'restoreNodeData:2:after'],
  );
  expect(result.keys.map((k) => k.restored)).toEqual(result.keys.map((k) => k.expected));
  const health = await target.healthUntil((r) => r.healthy, 60_000);
  expect(health.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(before);
});

test('verifyBackup: killed after loading a scratch node; the drill completes and its scratch cluster is gone', async () => {
  const { result } = await run<VerifyBackupReport>('verifyBackup', { cluster: 'backup', store: 'local', backupId: fsBackup.backupId, basePort: SCRATCH_BASE_PORT }, ['restoreNodeData:1:after']);
  expect(result.keys.reduce((n, k) => n + k.restored, 0)).toBe(before.keys);
  for (const node of result.scratchNodes) expect(await withRedis(node, (r) => r.ping()).catch(() => 'down')).toBe('down');
});
