/**
 * A Redis cluster that speaks TLS only, end to end: the worker with its client certificate,
 * replication and the cluster bus between nodes, nodes added by addNode, a backup restored onto
 * other addresses, and a rolling upgrade. Plaintext is off on every node (port 0).
 */
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import { password, runWorkflow } from '../harness/cluster';
import { plaintextAttempt, removeTlsNodes, startTlsNodes, TLS_CLUSTERS, tlsClusterClient, withTlsNode } from '../harness/tls';
import { eventually } from '../helpers/waitFor';

const { nodes, spare } = TLS_CLUSTERS.tls;
const restoredNodes = TLS_CLUSTERS['tls-restored'].nodes;
const KEYS = 2_000;

const health = (cluster = 'tls') => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster });

function healthy(cluster = 'tls', timeoutMs = 60_000): Promise<ClusterHealthResult> {
  return eventually(`${cluster} to be healthy`, () => health(cluster), (r) => r.healthy, { timeoutMs, everyMs: 250, fatal: () => true });
}

async function keyCount(addresses: readonly string[]): Promise<number> {
  const counts = await Promise.all(addresses.map((a) => withTlsNode(a, password(), (r) => r.dbsize())));
  return counts.reduce((a, b) => a + b, 0);
}

const config = (address: string, name: string) => withTlsNode(address, password(), async (r) => ((await r.config('GET', name)) as string[])[1]);

beforeAll(async () => {
  await Promise.all([startTlsNodes('tls', password()), startTlsNodes('tls-restored', password())]);
});
afterAll(async () => {
  await Promise.all([removeTlsNodes('tls', password()), removeTlsNodes('tls-restored', password())]);
});

test('createCluster and clusterHealth over TLS: 3 masters, 3 replicas, every slot served, no finding', async () => {
  await runWorkflow('createCluster', { cluster: 'tls' });
  const report = await healthy();
  expect(report.findings).toEqual([]);
  expect(report.summary).toMatchObject({ masters: 3, replicas: 3, slotsCovered: 16384 });
  const client = tlsClusterClient(nodes[0]!, password());
  try {
    for (let i = 0; i < KEYS; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => client.set(`tls:${i + j}`, `v${i + j}`)));
  } finally {
    client.disconnect();
  }
  expect(await keyCount(report.shards.map((s) => s.master.address))).toBe(KEYS);
});

test('the nodes refuse plaintext; replication and the cluster bus run over TLS', async () => {
  for (const node of nodes) expect(await plaintextAttempt(node, password())).toMatch(/^refused/);
  expect(await config(nodes[0]!, 'port')).toBe('0');
  expect(await config(nodes[0]!, 'tls-port')).toBe(nodes[0]!.split(':')[1]);
  expect(await config(nodes[0]!, 'tls-replication')).toBe('yes');
  expect(await config(nodes[0]!, 'tls-cluster')).toBe('yes');
  // With plaintext off, a replica whose link is up and a cluster in state ok can only be TLS.
  const report = await health();
  for (const replica of report.shards.flatMap((s) => s.replicas)) {
    const info = await withTlsNode(replica.address, password(), (r) => r.info('replication'));
    expect(info).toContain('master_link_status:up');
  }
  expect(await withTlsNode(nodes[0]!, password(), (r) => r.cluster('INFO'))).toContain('cluster_state:ok');
});

test('without certificate checks (insecure: true) the worker still connects, and clusterHealth reports TLS_UNVERIFIED', async () => {
  const report = await health('tls-unverified');
  expect(report.findings).toEqual([expect.objectContaining({ code: 'TLS_UNVERIFIED', severity: 'warning' })]);
  expect(report.summary).toMatchObject({ masters: 3, replicas: 3, slotsCovered: 16384 });
});

test('failoverTest over TLS: the replica is promoted, no canary lost, the old master rejoins', async () => {
  const report = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: 'tls', mode: 'stop', canaries: 100 });
  expect(report.promoted).toEqual(report.replica);
  expect(report.canaries).toMatchObject({ written: 100, acknowledged: true, lost: 0 });
  expect(report.healthyAfter).toBe(true);
});

test('addNode provisions a TLS-only replica that syncs over TLS', async () => {
  const address = spare[0]!;
  await runWorkflow('addNode', { cluster: 'tls', address, role: 'replica' });
  expect(await plaintextAttempt(address, password())).toMatch(/^refused/);
  expect(await config(address, 'tls-replication')).toBe('yes');
  const info = await withTlsNode(address, password(), (r) => r.info('replication'));
  expect(info).toContain('role:slave');
  expect(info).toContain('master_link_status:up');
  await runWorkflow('removeNode', { cluster: 'tls', node: address });
});

test('backupCluster and restoreCluster onto other TLS nodes: every key, the same node ids', async () => {
  const backup = await runWorkflow<BackupReport>('backupCluster', { cluster: 'tls' });
  const source = await healthy();
  const report = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'tls-restored', from: 'tls', store: 'local', backupId: backup.backupId, approve: true });
  expect(report.dryRun).toBeFalsy();
  const restored = await healthy('tls-restored');
  expect(restored.shards.map((s) => s.master.id).sort()).toEqual(source.shards.map((s) => s.master.id).sort());
  expect(await keyCount(restored.shards.map((s) => s.master.address))).toBe(KEYS);
  for (const node of restoredNodes) expect(await plaintextAttempt(node, password())).toMatch(/^refused/);
});

test('upgradeRedis to 8.0.2 on the TLS cluster: every node on 8.0.2, still TLS only, every key', async () => {
  await runWorkflow('upgradeRedis', { cluster: 'tls', version: '8.0.2' });
  const report = await healthy();
  for (const node of nodes) {
    expect(await withTlsNode(node, password(), (r) => r.info('server'))).toContain('redis_version:8.0.2');
    expect(await plaintextAttempt(node, password())).toMatch(/^refused/);
  }
  expect(await keyCount(report.shards.map((s) => s.master.address))).toBe(KEYS);
});
