/** createCluster against real, empty redis-server processes: plan, form, re-run, refuse. */
import type { CreateClusterResult } from '../../src/workflows/createCluster';
import { parseClusterNodes } from '../../src/cluster';
import { recordHistory, runWorkflowFailure, TestCluster, withRedis, workflowId } from '../harness/cluster';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start('forming', { form: false });
});
afterAll(async () => {
  await cluster?.destroy();
});

const view = (address: string) => withRedis(address, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));

test('dryRun returns the plan and leaves every node untouched', async () => {
  const result: CreateClusterResult = await cluster.form({ dryRun: true });
  expect(result).toMatchObject({ dryRun: true, alreadyFormed: false });
  expect(result.layout.masters.map((m) => [m.address, m.slots])).toEqual([
    ['127.0.0.1:21021', '0-5461'],
    ['127.0.0.1:21022', '5462-10922'],
    ['127.0.0.1:21023', '10923-16383'],
  ]);
  expect(result.layout.replicas).toHaveLength(3);
  for (const node of cluster.nodes) {
    const nodes = await view(node);
    expect(nodes).toHaveLength(1);
    expect(nodes[0]!.slots).toEqual([]);
  }
});

test('forms the planned cluster; every node agrees on masters, replicas and slots', async () => {
  const id = workflowId('createCluster-forming');
  const result = await cluster.form({}, id);
  await recordHistory(id, 'createCluster-six-nodes');
  expect(result.report?.healthy).toBe(true);
  const planned = new Map(result.layout.replicas.map((r) => [r.address, r.masterAddress] as const));
  for (const node of cluster.nodes) {
    const nodes = await view(node);
    expect(nodes).toHaveLength(6);
    const byId = new Map(nodes.map((n) => [n.id, n] as const));
    for (const n of nodes) {
      if (planned.has(n.address)) expect(byId.get(n.masterId!)?.address).toBe(planned.get(n.address));
      else expect(n.role).toBe('master');
    }
  }
  const epochs = (await view(cluster.nodes[0]!)).filter((n) => n.role === 'master').map((n) => n.configEpoch);
  expect(new Set(epochs).size).toBe(3);
});

test('running it again changes nothing and reports the cluster as already formed', async () => {
  const before = await view(cluster.nodes[0]!);
  const result = await cluster.form();
  expect(result.alreadyFormed).toBe(true);
  expect(result.report?.healthy).toBe(true);
  const after = await view(cluster.nodes[0]!);
  expect(after.map((n) => [n.id, n.role, n.slots])).toEqual(before.map((n) => [n.id, n.role, n.slots]));
});

test('refuses nodes that already belong to another cluster, naming each', async () => {
  const failure = await runWorkflowFailure('createCluster', { cluster: 'forming', nodes: cluster.nodes.slice(0, 3), replicasPerMaster: 0 });
  expect(failure.type).toBe('PreflightFailed');
  for (const node of cluster.nodes.slice(0, 3)) expect(failure.message).toContain(`${node}: already belongs to another cluster`);
});
