/**
 * clusterHealth on a real 6-node cluster (password set): healthy, then each planted problem
 * found and named, then healthy again once the problem is undone.
 */
import { execFile } from 'node:child_process';
import { findTemporalCli } from '../../src/client/devServer';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import { findingCodes, recordHistory, runWorkflow, TestCluster, withRedis, workflowId } from '../harness/cluster';
import { TEMPORAL_ADDRESS } from '../harness/env';
import { CODEC_URL } from '../harness/codec';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start('health');
});
afterAll(async () => {
  await cluster?.destroy();
});

const health = (input: Record<string, unknown> = {}) => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'health', ...input });

async function masters(): Promise<{ id: string; address: string; epoch: number; slots: string }[]> {
  const report = await health();
  return report.shards.map((s) => ({ id: s.master.id, address: s.master.address, epoch: s.master.configEpoch, slots: s.slots }));
}


test('a freshly created cluster is healthy: 3 masters, 3 replicas, 16384 slots, state ok everywhere', async () => {
  const id = workflowId('health-healthy');
  const report = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'health' }, id);
  await recordHistory(id, 'clusterHealth-healthy');
  expect(report.findings).toEqual([]);
  expect(report.healthy).toBe(true);
  expect(report.summary).toMatchObject({ nodesObserved: 6, nodesReachable: 6, masters: 3, replicas: 3, slotsCovered: 16384, clusterStateOk: 6 });
  expect(report.shards.map((s) => s.slots)).toEqual(['0-5461', '5462-10922', '10923-16383']);
  expect(report.shards.every((s) => s.replicas.length === 1)).toBe(true);
});

test('a slot left MIGRATING/IMPORTING is reported on both nodes', async () => {
  const [a, b] = await masters();
  await withRedis(b!.address, (r) => r.call('CLUSTER', 'SETSLOT', '100', 'IMPORTING', a!.id));
  await withRedis(a!.address, (r) => r.call('CLUSTER', 'SETSLOT', '100', 'MIGRATING', b!.id));
  try {
    const report = await health();
    const open = report.findings.filter((f) => f.code === 'OPEN_SLOT');
    expect(open.map((f) => [f.node, f.slots, f.message])).toEqual([
      [a!.address, '100', `slot 100 is MIGRATING to ${b!.address}`],
      [b!.address, '100', `slot 100 is IMPORTING from ${a!.address}`],
    ]);
    expect(report.healthy).toBe(false);
  } finally {
    await withRedis(a!.address, (r) => r.call('CLUSTER', 'SETSLOT', '100', 'STABLE'));
    await withRedis(b!.address, (r) => r.call('CLUSTER', 'SETSLOT', '100', 'STABLE'));
  }
  expect((await health()).healthy).toBe(true);
});

test('a master without a replica is reported, naming the master', async () => {
  const report = await health();
  const [first, second] = report.shards;
  const moved = first!.replicas[0]!;
  await withRedis(moved.address, (r) => r.call('CLUSTER', 'REPLICATE', second!.master.id));
  try {
    const after = await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'MASTER_WITHOUT_REPLICA'));
    const finding = after.findings.find((f) => f.code === 'MASTER_WITHOUT_REPLICA');
    expect(finding).toMatchObject({ node: first!.master.address, nodeId: first!.master.id, slots: first!.slots, severity: 'critical' });
    expect(finding!.advice).toMatch(/replica/);
  } finally {
    await withRedis(moved.address, (r) => r.call('CLUSTER', 'REPLICATE', first!.master.id));
  }
  expect((await cluster.healthUntil((r) => r.healthy)).healthy).toBe(true);
});

test('a node that disagrees about the slot map is named, with the slots in dispute', async () => {
  // While the owner of a slot is frozen, a third master is told another owns it. Nobody with a
  // higher epoch contradicts it until the owner wakes, so the disagreement holds meanwhile.
  const ms = (await masters()).sort((x, y) => x.epoch - y.epoch);
  const [low, mid, high] = ms;
  const slot = Number(high!.slots.split('-')[0]);
  const pid = cluster.pid(high!.address);
  process.kill(pid, 'SIGSTOP');
  let report: ClusterHealthResult;
  try {
    await withRedis(mid!.address, (r) => r.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', low!.id));
    report = await health();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const finding = report.findings.find((f) => f.code === 'SLOT_MAP_DISAGREEMENT');
  expect(finding).toMatchObject({ node: mid!.address, slots: String(slot) });
  expect(finding!.message).toContain(`it says ${low!.address}, the majority says ${high!.address}`);
  expect(findingCodes(report)).toContain('NODE_UNREACHABLE');
  expect((await cluster.healthUntil((r) => r.healthy)).healthy).toBe(true);
});

test('a wrong password is reported per node as AUTH_FAILED, without the password', async () => {
  const id = workflowId('health-wrongpass');
  const report = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'health-wrongpass' }, id);
  await recordHistory(id, 'clusterHealth-wrong-password');
  expect(report.healthy).toBe(false);
  expect(findingCodes(report)).toEqual(['AUTH_FAILED']);
  expect(report.findings.map((f) => f.node).sort()).toEqual([...cluster.nodes].sort());
  expect(JSON.stringify(report)).not.toContain('not-the-password');
  expect(report.findings[0]!.message).toMatch(/WRONGPASS/);
});

describe('started from the Temporal CLI, as an operator would', () => {
  test('temporal workflow start + temporal workflow result print a healthy report', async () => {
    const cli = findTemporalCli();
    const id = workflowId('cli-health');
    // Payloads are encrypted: the CLI decodes them through the run's codec server, as an operator's would.
    const common = ['--address', TEMPORAL_ADDRESS, '--namespace', 'default', '--codec-endpoint', CODEC_URL];
    const start = await exec(cli, ['workflow', 'start', '--type', 'clusterHealth', '--task-queue', 'redisforge-ops', '--input', '{"cluster":"health"}', '--workflow-id', id, ...common]);
    expect(start.stdout).toContain(id);
    const result = await exec(cli, ['workflow', 'result', '--workflow-id', id, '--output', 'json', ...common]);
    const parsed = JSON.parse(result.stdout) as { status: string; result: ClusterHealthResult };
    expect(parsed.status).toMatch(/COMPLETED/);
    expect(parsed.result).toMatchObject({ cluster: 'health', healthy: true });
    // The CLI prints an empty list as null.
    expect(parsed.result.findings ?? []).toEqual([]);
    expect(parsed.result.summary).toMatchObject({ masters: 3, replicas: 3, slotsCovered: 16384 });
  });
});

function exec(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve({ stdout, stderr }))),
  );
}
