/**
 * Runbook "Backups & Restore" on real clusters and real stores (a directory and versitygw, a
 * real S3 server): back up a loaded 3x1 cluster to both, restore onto the same nodes and onto
 * six other nodes (new addresses: nodes.conf rewritten, node ids kept), under writes and a due
 * automatic AOF rewrite, with a tampered object, with nodes down, with retention.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { runCli } from '../../src/client/cli/program';
import { processIo } from '../../src/client/cli/session';
import { describeBackupSchedule } from '../../src/client/schedules';
import { manifestKey, type BackupManifest } from '../../src/cluster';
import { parseInventory } from '../../src/config';
import { createStore } from '../../src/storage';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { approveUpdate } from '../../src/shared';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import type { VerifyBackupReport } from '../../src/workflows/verifyBackup';
import { recordHistory, runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { testDataConverter } from '../harness/codec';
import { clusterClient, digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { runInfo, SCRATCH_BASE_PORT, STATE_DIR, TASK_QUEUE, TEMPORAL_ADDRESS, testInventory } from '../harness/env';
import { eventually, progressReaches } from '../helpers/waitFor';

const inventory = parseInventory(testInventory());
const fsStore = createStore(inventory.stores.local!);
const s3Store = () => createStore(inventory.stores.s3!);

let source: TestCluster;
let target: TestCluster;
let before: DatasetDigest;
const backups: Record<'local' | 's3', BackupReport | undefined> = { local: undefined, s3: undefined };

async function masters(cluster: TestCluster): Promise<string[]> {
  const health = await cluster.healthUntil((r) => r.healthy, 60_000);
  expect(health.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  return health.shards.map((s) => s.master.address);
}

async function nodeIds(cluster: TestCluster): Promise<string[]> {
  const health = await cluster.health();
  return health.shards.flatMap((s) => [s.master.id, ...s.replicas.map((r) => r.id)]).sort();
}

beforeAll(async () => {
  if (process.env.CI === 'true' && !runInfo().s3Available) throw new Error('CI=true and the run has no S3 server: scripts/setup.sh builds versitygw');
  [source, target] = await Promise.all([TestCluster.start('backup'), TestCluster.start('restored', { form: false })]);
  await loadDataset(source.nodes[0]!, 20_000, 5, 2_000);
  before = await digestDataset(await masters(source));
});
afterAll(async () => {
  await Promise.all([source?.destroy(), target?.destroy()]);
});

test('backupCluster to the directory store and to S3: a manifest per backup, shards read from replicas', async () => {
  for (const store of ['local', 's3'] as const) {
    if (store === 's3' && !runInfo().s3Available) continue;
    const id = workflowId(`backup-${store}`);
    const report = await runWorkflow<BackupReport>('backupCluster', { cluster: 'backup', store, compression: store === 's3' ? 'gzip' : 'none' }, id);
    await recordHistory(id, `backupCluster-${store}`);
    backups[store] = report;
    expect(report.keys).toBe(before.keys);
    expect(report.shards).toHaveLength(3);
    expect(report.shards.every((s) => s.role === 'replica')).toBe(true);
    const s = store === 'local' ? fsStore : s3Store();
    const manifest = (await s.getJson<BackupManifest>(manifestKey('backup', report.backupId)))!;
    expect(manifest.shards.map((x) => x.keys).reduce((a, b) => a + b)).toBe(before.keys);
    expect(manifest.nodes).toHaveLength(6);
    for (const shard of manifest.shards) expect((await s.head(shard.object.key))?.size).toBe(shard.object.size);
  }
  // Every node has its automatic rewrite back on.
  for (const node of source.nodes) expect(await withRedis(node, (r) => r.config('GET', 'auto-aof-rewrite-percentage'))).toEqual(['auto-aof-rewrite-percentage', '100']);
});

test('restoreCluster onto the same nodes, after the data changed: every key and digest as backed up, the same node ids', async () => {
  const ids = await nodeIds(source);
  const cluster = clusterClient(source.nodes[0]!);
  try {
    await cluster.set('str:1', 'changed after the backup');
    await cluster.del('hash:0');
    await cluster.set('new-key', 'x');
  } finally {
    cluster.disconnect();
  }
  const report = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'backup', backupId: backups.local!.backupId, approve: true });
  expect(report.moved).toEqual({});
  expect(report.keys.map((k) => k.restored)).toEqual(report.keys.map((k) => k.expected));
  expect(await digestDataset(await masters(source))).toEqual(before);
  expect(await nodeIds(source)).toEqual(ids);
});

test('restoreCluster onto six other nodes (from S3, gzip): dry run, approval, then nodes.conf rewritten to the new addresses', async () => {
  const backup = backups.s3 ?? backups.local!;
  const store = backups.s3 ? 's3' : 'local';
  const dry = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'restored', from: 'backup', store, backupId: backup.backupId, dryRun: true });
  expect(dry.dryRun).toBe(true);
  expect(Object.keys(dry.moved)).toHaveLength(6);
  expect(dry.plan.filter((a) => a.shard !== undefined).map((a) => a.toAddress)).toEqual(target.nodes.slice(0, 3));

  const client = await testClient();
  const handle = await client.workflow.start('restoreCluster', {
    taskQueue: TASK_QUEUE, workflowId: workflowId('restore-approve'), args: [{ cluster: 'restored', from: 'backup', store, backupId: backup.backupId }],
  });
  // It waits for the approval, showing the plan, and touches nothing meanwhile.
  const progress = await progressReaches(handle, 'the restore to wait for approval', (p) => p.step === 'Wait for approval', 20_000);
  expect(progress.step).toBe('Wait for approval');
  expect(progress.detail).toContain('approval needed');
  expect(progress.detail).toContain('(moved)');
  expect(await handle.executeUpdate(approveUpdate, { args: [{ by: 'test', reason: 'restore drill' }] })).toBe('approved by test');
  const report = (await handle.result()) as RestoreReport;
  await recordHistory(handle.workflowId, 'restoreCluster-new-addresses-approved');
  expect(report.approval).toEqual({ by: 'test', reason: 'restore drill' });

  expect(await digestDataset(await masters(target))).toEqual(before);
  expect(await nodeIds(target)).toEqual(await nodeIds(source));
  const health = await target.health();
  expect(health.shards.map((s) => s.master.address).sort()).toEqual(target.nodes.slice(0, 3));
});

test('restoreCluster onto four nodes (another shape): the slot map rebuilt, masters keep their ids, every key as backed up', async () => {
  const reshape = await TestCluster.start('reshape', { form: false });
  try {
    const report = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'reshape', from: 'backup', store: 'local', backupId: backups.local!.backupId, approve: true });
    expect(report.mode).toBe('new-shape');
    // Two of its three masters have no replica (4 nodes): that is the shape, not a problem to wait out.
    const health = await reshape.healthUntil((r) => !r.findings.some((f) => f.severity === 'critical' && f.code !== 'MASTER_WITHOUT_REPLICA'), 30_000);
    expect(health.shards.map((s) => s.replicas.length).sort()).toEqual([0, 0, 1]);
    expect(health.summary.slotsCovered).toBe(16384);
    expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(before);
    const sourceMasters = (await source.health()).shards.map((s) => s.master.id).sort();
    expect(health.shards.map((s) => s.master.id).sort()).toEqual(sourceMasters);
  } finally {
    await reshape.destroy();
  }
});

test('a tampered object fails the checksum preflight with a clear error, and no node is stopped', async () => {
  const report = await runWorkflow<BackupReport>('backupCluster', { cluster: 'backup' });
  const manifest = (await fsStore.getJson<BackupManifest>(manifestKey('backup', report.backupId)))!;
  const object = join(STATE_DIR, 'backups', manifest.shards[1]!.object.key);
  const bytes = readFileSync(object);
  const at = bytes.length - 2000;
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
  writeFileSync(object, bytes);
  const failure = await runWorkflowFailure('restoreCluster', { cluster: 'backup', backupId: report.backupId, approve: true });
  expect(failure.message).toMatch(new RegExp(`shard-1.tar fails its checksum .*restore another backup`));
  for (const node of source.nodes) expect(await source.runtime.status(node)).toBe('running');

  // A backup without its manifest is incomplete: never restored.
  await fsStore.delete([manifestKey('backup', report.backupId)]);
  const incomplete = await runWorkflowFailure('restoreCluster', { cluster: 'backup', backupId: report.backupId, approve: true });
  expect(incomplete.message).toMatch(/is incomplete .* cannot be restored/);
});

test('a backup while writes go on and an automatic rewrite is due: it restores (verifyBackup) with the manifest key counts', async () => {
  const cluster = clusterClient(source.nodes[0]!);
  let writing = true;
  let written = 0;
  const writer = (async () => {
    // Values of 1 KB: the AOF grows past the 1 MB auto-rewrite threshold within the backup.
    while (writing) {
      await Promise.all(Array.from({ length: 100 }, () => cluster.set(`live:${written++}`, 'w'.repeat(1024))));
    }
  })();
  try {
    await sleep(300);
    const report = await runWorkflow<BackupReport>('backupCluster', { cluster: 'backup' });
    await sleep(300);
    writing = false;
    await writer;
    expect(report.keys).toBeGreaterThan(before.keys);
    expect(report.keys).toBeLessThan(before.keys + written);
    const verified = await runWorkflow<VerifyBackupReport>('verifyBackup', { cluster: 'backup', backupId: report.backupId, basePort: SCRATCH_BASE_PORT });
    expect(verified.keys.reduce((n, k) => n + k.restored, 0)).toBe(report.keys);
    // The scratch cluster is gone, servers and directory.
    expect(await withRedis(verified.scratchNodes[0]!, (r) => r.ping()).catch(() => 'down')).toBe('down');
    expect(existsSync(verified.scratchDir)).toBe(false);
  } finally {
    writing = false;
    await writer;
    cluster.disconnect();
  }
});

test('a replica down: its master is read instead; a whole shard down: the backup fails naming the shard, with no manifest', async () => {
  const health = await target.health();
  const shard = health.shards[0]!;
  await target.runtime.stop(shard.replicas[0]!.address);
  const report = await runWorkflow<BackupReport>('backupCluster', { cluster: 'restored', store: 'local' });
  expect(report.shards.find((s) => s.source === shard.master.address)?.role).toBe('master');

  // Master and replica of one shard down (the replica was never promoted): nothing can be read.
  await target.runtime.stop(shard.master.address);
  const failure = await runWorkflowFailure('backupCluster', { cluster: 'restored', store: 'local' });
  expect(failure.message).toMatch(new RegExp(`shard 0 \\(slots ${shard.slots.split(',')[0]}.*no node to read it from`));
  const stored = await fsStore.list('restored/');
  expect(stored.filter((o) => o.key.endsWith('manifest.json'))).toHaveLength(1);
});

test('retention keeps the newest complete backups', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await runWorkflow<BackupReport>('backupCluster', { cluster: 'backup', retain: { count: 2 } })).backupId);
  const complete = (await fsStore.list('backup/')).filter((o) => o.key.endsWith('/manifest.json')).map((o) => o.key.split('/')[1]);
  expect(complete.sort()).toEqual(ids.slice(1).sort());
});

test('the nightly Schedule: created, updated in place, triggered now (retention keeps only the newest), paused, deleted', async () => {
  const client = await testClient();
  const lines: string[] = [];
  // The command closes its connection: give it its own.
  const connect = async () => new Client({ connection: await Connection.connect({ address: TEMPORAL_ADDRESS }), dataConverter: testDataConverter() });
  // `redisforge schedule ...` in process, on that connection; `list` as JSON, one line per write.
  const io = { ...processIo(), connect, stdout: (text: string) => void lines.push(text.replace(/\n$/, '')) };
  const cli = (...argv: string[]) => runCli(['schedule', ...argv, ...(argv[0] === 'list' ? ['--json'] : [])], io);
  expect(await cli('backup', '--cluster', 'backup', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--retain-count', '1')).toBe(0);
  expect(lines[0]).toBe('created schedule backup-backup');
  expect(await cli('backup', '--cluster', 'backup', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--retain-count', '1')).toBe(0);
  expect(lines.at(-2)).toBe('updated schedule backup-backup');
  const described = await describeBackupSchedule(client, 'backup');
  expect(described).toMatchObject({ scheduleId: 'backup-backup', cluster: 'backup', cron: ['0 3 * * *'], timeZone: 'Europe/Berlin', paused: false });
  // 03:00 in Berlin is 01:00 or 02:00 UTC.
  expect([1, 2]).toContain(new Date(described.nextRuns[0]!).getUTCHours());
  const handle = client.schedule.getHandle('backup-backup');
  const desc = await handle.describe();
  expect(desc.policies).toMatchObject({ overlap: 'SKIP', pauseOnFailure: true });

  expect(await cli('trigger', '--cluster', 'backup')).toBe(0);
  const runs = await eventually('the triggered backup in the schedule', async () => (await handle.describe()).info.recentActions, (r) => r.length > 0, { timeoutMs: 20_000, everyMs: 100, fatal: () => true });
  const action = runs[0]!.action as { workflow: { workflowId: string } };
  const report = (await client.workflow.getHandle(action.workflow.workflowId).result()) as BackupReport;
  const complete = (await fsStore.list('backup/')).filter((o) => o.key.endsWith('/manifest.json')).map((o) => o.key.split('/')[1]);
  expect(complete).toEqual([report.backupId]);
  expect(report.pruned.length).toBeGreaterThanOrEqual(2);

  expect(await cli('pause', '--cluster', 'backup', '--note', 'maintenance')).toBe(0);
  expect((await describeBackupSchedule(client, 'backup')).paused).toBe(true);
  expect(await cli('list')).toBe(0);
  expect(JSON.parse(lines.at(-1)!)).toEqual([expect.objectContaining({ scheduleId: 'backup-backup', paused: true, note: 'maintenance' })]);
  expect(await cli('delete', '--cluster', 'backup')).toBe(0);
  expect(await cli('trigger', '--cluster', 'backup')).toBe(1);
  expect(await cli('backup', '--cluster', 'backup', '--cron', 'every night')).toBe(2);
  expect(await cli('pause')).toBe(2);
});
