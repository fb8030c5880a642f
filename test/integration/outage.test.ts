/**
 * The runbook's "CLUSTERDOWN Hash slot not served" as clusterHealth sees it: a master stopped
 * together with its replica. Then both come back and the cluster is healthy again.
 */
import { approveUpdate } from '../../src/shared';
import type { RemoveNodeReport } from '../../src/workflows/removeNode';
import { findingCodes, runWorkflow, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { TASK_QUEUE } from '../harness/env';
import { progressReaches } from '../helpers/waitFor';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start('outage');
});
afterAll(async () => {
  await cluster?.destroy();
});

const health = () => cluster.health();


test('a master and its replica stopped: fail flags, unserved slots, cluster_state:fail, each finding named', async () => {
  await withRedis(cluster.nodes[0]!, (r) => r.call('SET', 'before-outage', '1'));
  const shard = (await health()).shards[1]!;
  const replica = shard.replicas[0]!;
  await cluster.runtime.stop(shard.master.address);
  await cluster.runtime.stop(replica.address);

  // Each survivor turns to cluster_state:fail on its own once it learns of the FAIL: wait for all four.
  const report = await cluster.healthUntil((r) => r.findings.filter((f) => f.code === 'NODE_FAILED').length === 2 && r.findings.filter((f) => f.code === 'CLUSTER_STATE_FAIL').length === 4);
  expect(report.healthy).toBe(false);
  expect(findingCodes(report)).toEqual(
    expect.arrayContaining(['CLUSTER_STATE_FAIL', 'NODE_FAILED', 'NODE_UNREACHABLE', 'SLOTS_NOT_OK', 'SLOTS_UNCOVERED']),
  );
  const failed = report.findings.filter((f) => f.code === 'NODE_FAILED');
  expect(failed.map((f) => f.node).sort()).toEqual([shard.master.address, replica.address].sort());
  expect(failed.find((f) => f.node === shard.master.address)).toMatchObject({ slots: shard.slots, severity: 'critical' });
  expect(report.findings.find((f) => f.code === 'SLOTS_UNCOVERED')).toMatchObject({ slots: shard.slots });
  expect(report.findings.filter((f) => f.code === 'NODE_UNREACHABLE').map((f) => f.node).sort()).toEqual(
    [shard.master.address, replica.address].sort(),
  );
  expect(report.findings.filter((f) => f.code === 'CLUSTER_STATE_FAIL')).toHaveLength(4);
  expect(report.summary.slotsCovered).toBe(16384 - shard.slotCount);

  // Runbook: "If a node failed, bring it back up."
  await cluster.runtime.start(shard.master.address);
  await cluster.runtime.start(replica.address);
  const after = await cluster.healthUntil((r) => r.healthy);
  expect(after.findings).toEqual([]);
  expect(after.shards[1]!.master.id).toBe(shard.master.id);
  expect(await withRedis(cluster.nodes[0]!, (r) => r.call('GET', 'before-outage'))).toBe('1');
});

test('removeNode of a dead master that still owns slots waits for an approval, then gives its slots to another master', async () => {
  const dead = '127.0.0.1:21017';
  await runWorkflow('addNode', { cluster: 'outage', address: dead, role: 'master' });
  const id = await withRedis(dead, async (r) => String(await r.call('CLUSTER', 'MYID')));
  await cluster.runtime.kill(dead);
  await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'NODE_FAILED' && f.nodeId === id));

  const client = await testClient();
  const handle = await client.workflow.start('removeNode', { taskQueue: TASK_QUEUE, workflowId: workflowId('remove-dead-master'), args: [{ cluster: 'outage', node: dead }] });
  const { detail } = await progressReaches(handle, 'the approval gate', (p) => (p.detail ?? '').includes('approval needed'), 20_000);
  expect(detail).toContain(`**approval needed**: ${dead} is down and still owns slots`);
  expect(await handle.executeUpdate(approveUpdate, { args: [{ by: 'jest', reason: 'test' }] })).toBe('approved by jest');
  const report = (await handle.result()) as RemoveNodeReport;
  expect(report).toMatchObject({ wasAlive: false, slotsTakenOver: 4096, approval: { by: 'jest', reason: 'test' } });
  const health = await cluster.healthUntil((r) => r.healthy);
  expect(health.summary).toMatchObject({ masters: 3, slotsCovered: 16384 });
  expect(JSON.stringify(health.shards)).not.toContain(id);
});
