/**
 * The main upgradeRedis scenario, the same for every runtime: a 3x1 cluster with data, a client
 * writing acknowledged writes the whole time, and afterwards every node on the new version,
 * every acknowledged write there, the data unchanged and clusterHealth clean.
 */
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import { TestCluster, withRedis } from '../harness/cluster';
import type { TestClusterName } from '../harness/env';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { AckedWriter, describeWrites, type ShardWriteReport } from './ackedWriter';

export interface UpgradeOutcome {
  report: UpgradeRedisReport;
  writes: ShardWriteReport[];
  before: ClusterHealthResult;
}

/** Loads a small data set and returns its digest, to compare after the upgrade. */
export async function loadUpgradeData(cluster: TestCluster): Promise<DatasetDigest> {
  await loadDataset(cluster.nodes[0]!, 5_000, 2, 500);
  return digestDataset((await cluster.health()).shards.map((s) => s.master.address));
}

/** The test cluster `name`, started with the upgrade data set loaded, and that data's digest. */
export async function startWithUpgradeData(name: TestClusterName): Promise<{ cluster: TestCluster; data: DatasetDigest }> {
  const cluster = await TestCluster.start(name);
  return { cluster, data: await loadUpgradeData(cluster) };
}

/**
 * For a suite: before all its tests, starts the test cluster `name` with the upgrade data set and
 * hands it and the data's digest to `use`; after them, destroys it.
 */
export function withUpgradeCluster(name: TestClusterName, use: (cluster: TestCluster, data: DatasetDigest) => void): void {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    const started = await startWithUpgradeData(name);
    cluster = started.cluster;
    use(started.cluster, started.data);
  });
  afterAll(async () => {
    await cluster?.destroy();
  });
}

/** Runs `upgrade` (it starts the workflow and returns its result) while the writer writes. */
export async function upgradeWhileWriting(cluster: TestCluster, upgrade: () => Promise<UpgradeRedisReport>): Promise<UpgradeOutcome & { writer: AckedWriter }> {
  const before = await cluster.health();
  const writer = AckedWriter.start(cluster.nodes[0]!, before.shards.map((s) => s.slots), `acked-${cluster.name}`);
  let writes: ShardWriteReport[] = [];
  let report: UpgradeRedisReport;
  try {
    report = await upgrade();
  } finally {
    writes = await writer.stop();
    console.log(`${cluster.name}: the writer during the upgrade\n${describeWrites(writes)}`);
  }
  return { report, writes, before, writer };
}

/** What must hold after a completed upgrade to `version`; returns the final health report. */
export async function expectUpgraded(cluster: TestCluster, outcome: UpgradeOutcome & { writer: AckedWriter }, version: string, data: DatasetDigest): Promise<ClusterHealthResult> {
  const { report, writes, writer } = outcome;
  try {
    expect(report.aborted).toBeUndefined();
    expect(report.nodes.map((n) => [n.address, n.version, n.redisVersion])).toEqual(cluster.nodes.map((a) => [a, version, version]));
    // Every node says so itself.
    for (const address of cluster.nodes) {
      expect(await withRedis(address, async (r) => /redis_version:(\S+)/.exec(String(await r.call('INFO', 'server')))?.[1])).toBe(version);
    }
    expect(writes.every((w) => w.acknowledged > 0)).toBe(true);
    expect(await writer.missingAcknowledged()).toEqual([]);
    const health = await cluster.healthUntil((r) => r.findings.length === 0);
    expect(health.findings).toEqual([]);
    expect(health.summary.versions).toEqual([version]);
    await writer.removeKeys();
    expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(data);
    return health;
  } finally {
    writer.disconnect();
  }
}

/** What a node says it is, in its own INFO server. */
export function serverOf(address: string): Promise<{ server_name?: string; valkey_version?: string; redis_version?: string }> {
  return withRedis(address, async (r) => {
    const info = String(await r.call('INFO', 'server'));
    const field = (f: string) => new RegExp(`^${f}:(\\S+)`, 'm').exec(info)?.[1];
    return { server_name: field('server_name'), valkey_version: field('valkey_version'), redis_version: field('redis_version') };
  });
}

/**
 * What must hold after a completed migration to Valkey 8.1 (`version`: its version name): every
 * node Valkey by the report and by its own INFO (server_name, valkey_version 8.1.x beside the
 * redis_version:7.2.4 Valkey also reports), every acknowledged write there, the data unchanged,
 * health clean and naming the engine. Returns the final health report.
 */
export async function expectOnValkey(cluster: TestCluster, outcome: UpgradeOutcome & { writer: AckedWriter }, version: string, data: DatasetDigest): Promise<ClusterHealthResult> {
  const { report, writes, writer } = outcome;
  try {
    expect(report.aborted).toBeUndefined();
    expect(report.replaced.filter((r) => r.changed)).toHaveLength(cluster.nodes.length);
    expect(report.engines).toEqual([expect.stringMatching(/^valkey 8\.1\.\d+$/)]);
    expect(report.nodes.map((n) => [n.address, n.version, n.engine])).toEqual(cluster.nodes.map((a) => [a, version, 'valkey']));
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
    return health;
  } finally {
    writer.disconnect();
  }
}
