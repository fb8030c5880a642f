/**
 * Valkey 8.1 (issue #15 item 4): a Redis 7.0.15 cluster migrated to Valkey by upgradeRedis, node
 * by node, while a client writes acknowledged writes; afterwards every node is Valkey by its own
 * account (server_name, valkey_version, not the redis_version:7.2.4 it also reports), no
 * acknowledged write is lost, the data is unchanged, and the other procedures run on it.
 */
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { runWorkflow, TestCluster, withRedis } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { digestDataset } from '../harness/dataset';
import { upgradeWhileWriting, withUpgradeCluster } from '../helpers/upgradeScenario';

const name = 'valkey';
const VALKEY = 'valkey-8.1';
let cluster: TestCluster;
let data: DatasetDigest;

withUpgradeCluster(name, (started, digest) => ((cluster = started), (data = digest)));

/** What a node says it is, in its own INFO server. */
function serverOf(address: string): Promise<{ server_name?: string; valkey_version?: string; redis_version?: string }> {
  return withRedis(address, async (r) => {
    const info = String(await r.call('INFO', 'server'));
    const field = (f: string) => new RegExp(`^${f}:(\\S+)`, 'm').exec(info)?.[1];
    return { server_name: field('server_name'), valkey_version: field('valkey_version'), redis_version: field('redis_version') };
  });
}

test('the dry run plans all six nodes; the report names the engine the nodes run now', async () => {
  const dry = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY, dryRun: true });
  expect(dry.plan.nodesToReplace).toBe(6);
  expect(dry.engines).toEqual(['redis 7.0.15']);
  expect(dry.nodes.map((n) => [n.version, n.engine, n.redisVersion])).toEqual(cluster.nodes.map(() => ['7.0.15', 'redis', '7.0.15']));
});

test('Redis 7.0.15 to Valkey 8.1 while a client writes: every node Valkey, no acknowledged write lost, the data unchanged', async () => {
  const outcome = await upgradeWhileWriting(cluster, () => runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY }));
  const { report, writes, writer } = outcome;
  try {
    expect(report.aborted).toBeUndefined();
    expect(report.replaced.filter((r) => r.changed)).toHaveLength(6);
    expect(report.failovers).toHaveLength(3);
    expect(report.engines).toEqual([expect.stringMatching(/^valkey 8\.1\.\d+$/)]);
    expect(report.nodes.map((n) => [n.address, n.version, n.engine])).toEqual(cluster.nodes.map((a) => [a, VALKEY, 'valkey']));
    // Every node says so itself: Valkey by name, 8.1.x by its own version.
    for (const address of cluster.nodes) {
      expect(await serverOf(address)).toEqual({ server_name: 'valkey', valkey_version: expect.stringMatching(/^8\.1\./), redis_version: '7.2.4' });
    }
    expect(writes.every((w) => w.acknowledged > 0)).toBe(true);
    expect(await writer.missingAcknowledged()).toEqual([]);
    const health = await cluster.healthUntil((r) => r.findings.length === 0);
    expect(health.findings).toEqual([]);
    expect(health.summary.versions).toEqual(report.engines);
    await writer.removeKeys();
    expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(data);
  } finally {
    writer.disconnect();
  }

  // Run again, it changes nothing: every node is on the version already.
  const again = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: VALKEY });
  expect(again.replaced.filter((r) => r.changed)).toEqual([]);
  expect(again.failovers).toEqual([]);
});

test('on Valkey, a failover drill promotes the replica and health comes back clean', async () => {
  const drill = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: name });
  expect(drill.promoted?.id).toBe(drill.replica.id);
  const health = await cluster.healthUntil((r: ClusterHealthResult) => r.findings.length === 0, 60_000);
  expect(health.summary.versions).toEqual([expect.stringMatching(/^valkey 8\.1\.\d+$/)]);
});
