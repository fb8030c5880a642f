/**
 * Nodes that hang (SIGSTOP: the port accepts, nothing answers) or die, at the production default
 * timeouts. clusterHealth comes back, names the node and still judges the others: a hung node
 * costs one connect + command timeout (commandTimeoutMs, 5 s by default), never the whole check.
 * A restore stops a hung node like systemd does (SIGTERM, SIGCONT, SIGKILL after a grace period)
 * and restores every key.
 */
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import { runWorkflow, TestCluster } from '../harness/cluster';
import { digestDataset, loadDataset } from '../harness/dataset';

let cluster: TestCluster;
const stopped: number[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start('fault-core');
});
afterAll(async () => {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  await cluster?.destroy();
});

const unreachable = (r: ClusterHealthResult) => r.findings.filter((f) => f.code === 'NODE_UNREACHABLE').map((f) => f.node);

test('a hung replica: the health report names it and still reads every other node', async () => {
  const report = await cluster.health();
  const replica = report.shards[0]!.replicas[0]!.address;
  const pid = cluster.pid(replica);
  process.kill(pid, 'SIGSTOP');
  stopped.push(pid);
  try {
    const hung = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'fault-core' });
    expect(hung.healthy).toBe(false);
    expect(unreachable(hung)).toEqual([replica]);
    expect(hung.summary.slotsCovered).toBe(16384);
    expect(hung.shards.map((s) => s.master.address).sort()).toEqual(report.shards.map((s) => s.master.address).sort());
  } finally {
    process.kill(pid, 'SIGCONT');
    stopped.pop();
  }
  const back = await cluster.healthUntil((r) => r.healthy);
  expect(back.findings.filter((f) => f.severity !== 'info')).toEqual([]);
});

test('a master killed while the check runs: the report comes back and names it', async () => {
  const report = await cluster.health();
  const master = report.shards[1]!.master.address;
  const check = runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'fault-core' });
  await cluster.runtime.kill(master);
  const during = await check;
  // Killed before or after it was read: either the check saw it down, or it saw a healthy cluster.
  if (!during.healthy) expect(unreachable(during)).toEqual([master]);
  const after = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'fault-core' });
  expect(unreachable(after)).toEqual([master]);
  await cluster.runtime.start(master);
  await cluster.healthUntil((r) => unreachable(r).length === 0, 60_000);
});

test('a replica hung when a restore begins: the restore stops it anyway and brings back every key', async () => {
  const healthy = await cluster.healthUntil((r) => r.healthy, 60_000);
  expect(healthy.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  await loadDataset(cluster.nodes[0]!, 3_000, 2, 200);
  const masters = () => cluster.health().then((r) => r.shards.map((s) => s.master.address));
  const before = await digestDataset(await masters());
  const backup = await runWorkflow<BackupReport>('backupCluster', { cluster: 'fault-core' });
  const replica = healthy.shards[2]!.replicas[0]!.address;
  const pid = cluster.pid(replica);
  process.kill(pid, 'SIGSTOP');
  stopped.push(pid);
  const report = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'fault-core', backupId: backup.backupId, approve: true });
  stopped.pop();
  expect(report.keys.map((k) => k.restored)).toEqual(report.keys.map((k) => k.expected));
  const after = await cluster.healthUntil((r) => r.healthy, 60_000);
  expect(after.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  expect(await digestDataset(await masters())).toEqual(before);
});
