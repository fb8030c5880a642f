/**
 * Valkey 8.1 (issue #15 item 4): a Redis 7.0.15 cluster backed up, then migrated to Valkey by
 * upgradeRedis, node by node, while a client writes acknowledged writes; afterwards every node is
 * Valkey by its own account (server_name, valkey_version, not the redis_version:7.2.4 it also
 * reports), no acknowledged write is lost, the data is unchanged, and the other procedures run on
 * it: a failover drill, addNode and removeNode, repairCluster, and restoreCluster of the backup
 * taken on Redis 7.0.15 onto the Valkey nodes.
 */
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import type { RepairReport } from '../../src/workflows/repairCluster';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { runWorkflow, runWorkflowFailure, TestCluster, withRedis } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { digestDataset } from '../harness/dataset';
import { expectOnValkey, serverOf, upgradeWhileWriting, withUpgradeCluster } from '../helpers/upgradeScenario';

const name = 'valkey';
const VALKEY = 'valkey-8.1';
const VALKEY_VERSIONS = [expect.stringMatching(/^valkey 8\.1\.\d+$/)];
let cluster: TestCluster;
let data: DatasetDigest;
let onRedis: BackupReport;

withUpgradeCluster(name, (started, digest) => ((cluster = started), (data = digest)));

const masters = async () => (await cluster.health()).shards.map((s) => s.master.address);
const clean = (timeoutMs?: number) => cluster.healthUntil((r: ClusterHealthResult) => r.findings.length === 0, timeoutMs);

test('a backup on Redis 7.0.15, and the dry run plans all six nodes; the report names the engine the nodes run now', async () => {
  onRedis = await runWorkflow<BackupReport>('backupCluster', { cluster: name });
  expect(onRedis.keys).toBe(data.keys);
  const dry = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY, dryRun: true });
  expect(dry.plan.nodesToReplace).toBe(6);
  expect(dry.engines).toEqual(['redis 7.0.15']);
  expect(dry.nodes.map((n) => [n.version, n.engine, n.redisVersion])).toEqual(cluster.nodes.map(() => ['7.0.15', 'redis', '7.0.15']));
});

test('Redis 7.0.15 to Valkey 8.1 while a client writes: every node Valkey, no acknowledged write lost, the data unchanged', async () => {
  const outcome = await upgradeWhileWriting(cluster, () => runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY }));
  expect(outcome.report.failovers).toHaveLength(3);
  await expectOnValkey(cluster, outcome, VALKEY, data);

  // Run again, it changes nothing: every node is on the version already.
  const again = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY });
  expect(again.replaced.filter((r) => r.changed)).toEqual([]);
  expect(again.failovers).toEqual([]);
});

test('back to Redis 7.0.15 by a rolling upgrade is refused before anything: it reads RDB format 10, Valkey 8.1 writes 11', async () => {
  const refused = await runWorkflowFailure('upgradeRedis', { cluster: name, version: '7.0.15' });
  expect(refused).toMatchObject({ type: 'InvalidInput', message: expect.stringContaining('version: "7.0.15" (Redis 7.0.15) reads RDB format 10 at most') });
  expect(refused.message).toContain('run Valkey 8.1.1 (RDB format 11)');
  expect((await cluster.health()).summary.versions).toEqual(VALKEY_VERSIONS);
});

test('on Valkey, a failover drill promotes the replica and health comes back clean', async () => {
  const drill = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: name });
  expect(drill.promoted?.id).toBe(drill.replica.id);
  const health = await clean(60_000);
  expect(health.summary.versions).toEqual(VALKEY_VERSIONS);
});

test('on Valkey, addNode provisions a Valkey replica (the version the masters run) that syncs; a restore refuses while it runs outside the inventory\'s nodes; removeNode takes it out', async () => {
  const spare = '127.0.0.1:21437';
  await runWorkflow('addNode', { cluster: name, address: spare, role: 'replica' });
  try {
    expect(await serverOf(spare)).toEqual({ server_name: 'valkey', valkey_version: expect.stringMatching(/^8\.1\./), redis_version: '7.2.4' });
    expect(await cluster.runtime.version(spare)).toBe(VALKEY);
    // Seven nodes where the inventory lists six: that is all health has to say.
    const joined = await cluster.healthUntil((r) => r.summary.replicas === 4 && r.findings.every((f) => f.code === 'KNOWN_NODES_MISMATCH'));
    expect(joined.summary.versions).toEqual(VALKEY_VERSIONS);
    expect(await withRedis(spare, (r) => r.info('replication'))).toContain('master_link_status:up');

    // Left running, the spare would gossip today's topology back into the restored cluster.
    const refused = await runWorkflowFailure('restoreCluster', { cluster: name, backupId: onRedis.backupId, dryRun: true });
    expect(refused).toMatchObject({ type: 'PreflightFailed', message: expect.stringContaining(`${spare} is a member of valkey but not among its nodes in the inventory`) });
  } finally {
    await runWorkflow('removeNode', { cluster: name, node: spare });
  }
  const after = await clean(60_000);
  expect(after.summary).toMatchObject({ masters: 3, replicas: 3, slotsCovered: 16384 });
});

test('on Valkey, CLUSTERDOWN after a master and its replica stopped: repairCluster restarts both and every key is back', async () => {
  const shard = (await cluster.health()).shards[1]!;
  await cluster.runtime.stop(shard.master.address);
  await cluster.runtime.stop(shard.replicas[0]!.address);
  await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'NODE_FAILED' && f.node === shard.master.address));
  const report = await runWorkflow<RepairReport>('repairCluster', { cluster: name });
  expect(report.nodesRestarted.sort()).toEqual([shard.master.address, shard.replicas[0]!.address].sort());
  expect(report.repaired).toBe(true);
  await clean(60_000);
  expect(await digestDataset(await masters())).toEqual(data);
});

test('the backup taken on Redis 7.0.15 restores onto the Valkey nodes: a flushed shard comes back, every key and digest as backed up', async () => {
  const flushed = (await cluster.health()).shards[0]!.master.address;
  await withRedis(flushed, (r) => r.call('FLUSHALL'));
  expect((await digestDataset(await masters())).keys).toBeLessThan(data.keys);

  const report = await runWorkflow<RestoreReport>('restoreCluster', { cluster: name, backupId: onRedis.backupId, approve: true });
  expect(report.mode).toBe('same-shape');
  expect(report.keys.every((k) => k.restored === k.expected)).toBe(true);
  const health = await clean(60_000);
  expect(health.summary.versions).toEqual(VALKEY_VERSIONS);
  for (const address of cluster.nodes) expect((await serverOf(address)).server_name).toBe('valkey');
  expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(data);
});
