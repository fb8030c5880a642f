/**
 * verifyBackup's scratch clusters cannot reach live nodes (issue #12): they exist only as the
 * worker's allocation inside the inventory's scratchPorts, in a mkdtemp directory (0700) that is
 * gone afterwards; ports in use or taken by the inventory are refused before anything starts; no
 * input names a scratch cluster; a malformed manifest fails at once, holding no lock.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { manifestKey, type BackupManifest } from '../../src/cluster';
import { parseInventory } from '../../src/config';
import { createStore } from '../../src/storage';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { lockHolderQuery, lockWorkflowId } from '../../src/shared';
import type { VerifyBackupReport } from '../../src/workflows/verifyBackup';
import { runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { SCRATCH_BASE_PORT, SCRATCH_DIR, TASK_QUEUE, testInventory } from '../harness/env';

const inventory = parseInventory(testInventory());
const fsStore = createStore(inventory.stores.local!);
let source: TestCluster;
let backup: BackupReport;
let before: DatasetDigest;

const scratchEntries = () => (existsSync(SCRATCH_DIR) ? readdirSync(SCRATCH_DIR) : []);
const runIds = () => Promise.all(source.nodes.map((n) => withRedis(n, async (r) => /run_id:(\w+)/.exec(await r.info('server'))![1])));
const down = (port: number) => withRedis(`127.0.0.1:${port}`, (r) => r.ping()).catch(() => 'down');

async function listener(port: number): Promise<{ server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, connections: () => connections };
}

beforeAll(async () => {
  source = await TestCluster.start('backup');
  await loadDataset(source.nodes[0]!, 3_000, 3, 200);
  before = await digestDataset((await source.healthUntil((r) => r.healthy, 60_000)).shards.map((s) => s.master.address));
  backup = await runWorkflow<BackupReport>('backupCluster', { cluster: 'backup', store: 'local' });
});
afterAll(async () => {
  await source?.destroy();
});

test('a drill restores into a fresh 0700 directory on the reserved ports, checked by node id, and leaves nothing behind', async () => {
  const existing = new Set(scratchEntries());
  // The directory lives from the allocation to the teardown (seconds): watch it while the drill runs.
  const seen = new Map<string, number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const e of scratchEntries().filter((x) => !existing.has(x))) {
        const modes = [join(SCRATCH_DIR, e), ...readdirSync(join(SCRATCH_DIR, e)).filter((n) => /^\d+$/.test(n)).map((n) => join(SCRATCH_DIR, e, n))].map((p) => statSync(p).mode & 0o777);
        seen.set(e, Math.max(seen.get(e) ?? 0, ...modes));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })().catch(() => undefined);
  let report: VerifyBackupReport;
  const id = workflowId('verify-scratch');
  try {
    report = await runWorkflow<VerifyBackupReport>('verifyBackup', { cluster: 'backup', backupId: backup.backupId, basePort: SCRATCH_BASE_PORT }, id);
  } finally {
    watching = false;
    await watcher;
  }
  expect(report.keys.reduce((n, k) => n + k.restored, 0)).toBe(backup.keys);
  expect(report.scratchNodes).toEqual(Array.from({ length: 6 }, (_, i) => `127.0.0.1:${SCRATCH_BASE_PORT + i}`));
  // mkdtemp under the worker's state directory, not a predictable /tmp path; no mode looser than 0700.
  const name = report.scratchDir.slice(SCRATCH_DIR.length + 1);
  expect(report.scratchDir).toBe(join(SCRATCH_DIR, name));
  expect(name).toMatch(/^backup-[A-Za-z0-9]{6}$/);
  expect(Object.fromEntries(seen)).toEqual({ [name]: 0o700 });
  expect(existsSync(report.scratchDir)).toBe(false);
  for (let p = SCRATCH_BASE_PORT; p < SCRATCH_BASE_PORT + 6; p++) expect(await down(p)).toBe('down');
  // The restore checked every scratch node by id once started.
  const history = await (await testClient()).workflow.getHandle(`${id}-restore`).fetchHistory();
  const confirmed = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'confirmScratchNodes');
  expect(confirmed).toHaveLength(1);
});

test('a drill whose port or bus port is in use is refused before anything starts, and the listener is never contacted', async () => {
  for (const port of [SCRATCH_BASE_PORT + 2, SCRATCH_BASE_PORT + 10_004]) {
    const { server, connections } = await listener(port);
    const entries = scratchEntries();
    try {
      const failure = await runWorkflowFailure('verifyBackup', { cluster: 'backup', backupId: backup.backupId, basePort: SCRATCH_BASE_PORT });
      expect(failure.type).toBe('PreflightFailed');
      expect(failure.message).toContain(`scratch port 127.0.0.1:${port}`);
      expect(failure.message).toContain('is in use');
      expect(connections()).toBe(0);
      expect(scratchEntries()).toEqual(entries);
      for (let p = SCRATCH_BASE_PORT; p < SCRATCH_BASE_PORT + 6; p++) if (p !== port) expect(await down(p)).toBe('down');
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  // A port that something else answers after the start is not taken for the node: the check
  // looks for the started redis-server's own socket before any connection (so no AUTH leaks).
  const activities = createActivities(inventory, { ...process.env, REDISFORGE_SCRATCH_DIR: SCRATCH_DIR });
  const allocation = await activities.allocateScratchCluster({ source: 'backup', basePort: SCRATCH_BASE_PORT, masters: 3, replicasPerMaster: 1, workflowId: workflowId('confirm') });
  const { server, connections } = await listener(SCRATCH_BASE_PORT);
  try {
    const expected = Object.fromEntries(allocation.ports.map((p) => [`127.0.0.1:${p}`, 'a'.repeat(40)]));
    await expect(activities.confirmScratchNodes(allocation.name, expected)).rejects.toThrow(`scratch node 127.0.0.1:${SCRATCH_BASE_PORT} is not the node the restore wrote: the redis-server started in`);
    expect(connections()).toBe(0);
  } finally {
    await new Promise((r) => server.close(r));
    expect(await activities.destroyScratchCluster(allocation)).toEqual({ removed: allocation.ports.map((p) => `127.0.0.1:${p}`) });
  }
  expect(existsSync(allocation.dir)).toBe(false);
});

test('a scratch range over live inventory nodes is refused naming the node, which is left untouched; no range at all is refused with the fix', async () => {
  // `scratch-overlap` has backup's nodes and a scratch range starting on them.
  const overlap = await runWorkflow<BackupReport>('backupCluster', { cluster: 'scratch-overlap', store: 'local' });
  const ids = await runIds();
  const failure = await runWorkflowFailure('verifyBackup', { cluster: 'scratch-overlap', backupId: overlap.backupId, basePort: 21071 });
  expect(failure.type).toBe('InvalidInput');
  expect(failure.message).toContain("clusters.scratch-overlap.scratchPorts: scratch port 21071 would collide with cluster backup's node 127.0.0.1:21071");
  expect(await runIds()).toEqual(ids);
  expect(await digestDataset((await source.healthUntil((r) => r.healthy)).shards.map((s) => s.master.address))).toEqual(before);

  const activities = createActivities(inventory, { ...process.env, REDISFORGE_SCRATCH_DIR: SCRATCH_DIR });
  await expect(activities.allocateScratchCluster({ source: 'restored', masters: 3, replicasPerMaster: 1, workflowId: 'test' })).rejects.toThrow(
    /clusters\.restored\.scratchPorts: not set .* add e\.g\. "scratchPorts": "40001-40100"/,
  );
  await expect(activities.allocateScratchCluster({ source: 'backup', basePort: 21095, masters: 3, replicasPerMaster: 1, workflowId: 'test' })).rejects.toThrow(
    'basePort: 21095 does not fit in clusters.backup.scratchPorts (21091-21099) for 6 scratch nodes: pass a basePort from 21091 to 21094',
  );
  // The teardown removes only what this worker allocated, under its own scratch directory.
  const forged = { name: 'scratch:nodes', source: 'backup', workflowId: 'w', masters: 3, replicasPerMaster: 1, ports: [21071, 21072, 21073, 21074, 21075, 21076], dir: join(SCRATCH_DIR, '..', 'nodes') };
  await expect(activities.destroyScratchCluster(forged)).rejects.toThrow(/is not under this worker's scratch directory/);
  expect(await runIds()).toEqual(ids);
});

test('no input names a scratch cluster: restoreCluster "scratch:backup:21071:3x1" and a second argument from outside verifyBackup are refused', async () => {
  const ids = await runIds();
  const named = await runWorkflowFailure('restoreCluster', { cluster: 'scratch:backup:21071:3x1', from: 'backup', store: 'local', backupId: backup.backupId, approve: true });
  expect(named.type).toBe('InvalidInput');
  expect(named.message).toContain('cluster: ');

  const client = await testClient();
  const scratch = { name: 'scratch:backup-abcdef', source: 'backup', workflowId: 'someone', masters: 3, replicasPerMaster: 1, ports: [21071, 21072, 21073, 21074, 21075, 21076], dir: join(SCRATCH_DIR, 'backup-abcdef') };
  const handle = await client.workflow.start('restoreCluster', { taskQueue: TASK_QUEUE, workflowId: workflowId('restore-forged'), args: [{ cluster: 'backup', store: 'local', backupId: backup.backupId, approve: true }, { scratch }] });
  const forged = await handle.result().then(
    () => undefined,
    (err: unknown) => (err instanceof WorkflowFailedError ? (err.cause as Error & { type?: string }) : undefined),
  );
  expect(forged?.type).toBe('InvalidInput');
  expect(forged?.message).toContain('(second argument): internal to verifyBackup');
  expect(await runIds()).toEqual(ids);
});

test('a manifest with a bad field fails restoreCluster and verifyBackup non-retryably, naming the field, with no lock left held', async () => {
  const manifest = (await fsStore.getJson<BackupManifest>(manifestKey('backup', backup.backupId)))!;
  const badId = `${backup.backupId}-bad`;
  await fsStore.putJson(manifestKey('backup', badId), { ...manifest, backupId: badId, shards: manifest.shards.map((s, i) => (i === 1 ? { ...s, object: { ...s.object, sha256: 'not-a-sha' } } : s)) });
  const ids = await runIds();
  const entries = scratchEntries();
  for (const [type, input] of [
    ['restoreCluster', { cluster: 'backup', store: 'local', backupId: badId, approve: true }],
    ['verifyBackup', { cluster: 'backup', store: 'local', backupId: badId, basePort: SCRATCH_BASE_PORT }],
  ] as const) {
    const failure = await runWorkflowFailure(type, input);
    expect(failure.type).toBe('ManifestInvalid');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('shards[1].object.sha256: expected a sha256');
  }
  const lock = (await testClient()).workflow.getHandle(lockWorkflowId('backup'));
  const holder = await lock.describe().then(
    async (d) => (d.status.name === 'RUNNING' ? lock.query(lockHolderQuery) : undefined),
    (err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    },
  );
  expect(holder).toBeUndefined();
  expect(await runIds()).toEqual(ids);
  expect(scratchEntries()).toEqual(entries);
});
