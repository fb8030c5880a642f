/**
 * The runbook's Scaling section on a real cluster with data: add a master (rebalanced), add a
 * replica, remove the master (drained), remove the replica. Every key and its DUMP survive.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { canaryKeys } from '../../src/cluster';
import { ROOT, TEMPORAL_ADDRESS } from '../harness/env';
import type { AddNodeReport } from '../../src/workflows/addNode';
import type { RemoveNodeReport } from '../../src/workflows/removeNode';
import { runWorkflow, runWorkflowFailure, TestCluster, withRedis } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { eventually } from '../helpers/waitFor';

let cluster: TestCluster;
let before: DatasetDigest;
const NEW_MASTER = '127.0.0.1:21057';
const NEW_REPLICA = '127.0.0.1:21058';
const SPARE = '127.0.0.1:21059';
// The inventory's spareNodes are 21057-21059: the last test reuses the master removed (and deprovisioned) before it.
const DOOMED = NEW_MASTER;

beforeAll(async () => {
  cluster = await TestCluster.start('scaling');
  await loadDataset(cluster.nodes[0]!);
  before = await digestDataset((await cluster.health()).shards.map((s) => s.master.address));
});
afterAll(async () => {
  await cluster?.destroy();
});

async function digestNow(): Promise<DatasetDigest> {
  const masters = (await cluster.healthUntil((r) => !r.findings.some((f) => f.code === 'OPEN_SLOT' || f.code === 'SLOT_MAP_DISAGREEMENT'))).shards.map((s) => s.master.address);
  return digestDataset(masters);
}

test('addNode master: a new process joins and receives a quarter of the slots with their keys', async () => {
  expect(before.keys).toBe(20_015);
  const report = await runWorkflow<AddNodeReport>('addNode', { cluster: 'scaling', address: NEW_MASTER, role: 'master' });
  expect(report).toMatchObject({ role: 'master', provisioned: true, alreadyMember: false });
  expect(report.rebalance!.slotsMoved).toBe(4096);
  expect(report.rebalance!.keysMoved).toBeGreaterThan(4000);
  expect(report.after.map((s) => s.slotCount).sort()).toEqual([4096, 4096, 4096, 4096]);
  expect(report.after.find((s) => s.master.address === NEW_MASTER)).toBeDefined();
  expect(report.notes.join('\n')).toContain(`add "${NEW_MASTER}" to clusters.scaling.nodes`);
  const after = await digestNow();
  expect(after.keys).toBe(before.keys);
  expect(after.digest).toBe(before.digest);
});

test('./scripts/scale.sh add <ip>:<port> --role replica --replica-of <master-id>: attached, link up', async () => {
  const masterId = await withRedis(NEW_MASTER, async (r) => String(await r.call('CLUSTER', 'MYID')));
  const run = scale('add', NEW_REPLICA, '--role', 'replica', '--replica-of', masterId, '--cluster', 'scaling', '--json');
  expect(run.status).toBe(0);
  expect(run.stderr).toMatch(/^addNode scaling: step \d\/6 /m); // progress lines while it runs (stderr with --json)
  expect(JSON.parse(run.stdout)).toMatchObject({ type: 'addNode', status: 'succeeded', result: { address: NEW_REPLICA, role: 'replica', masterAddress: NEW_MASTER } });
  const role = await withRedis(NEW_REPLICA, async (r) => (await r.call('ROLE')) as unknown[]);
  expect(role.slice(0, 4)).toEqual(['slave', '127.0.0.1', 21057, 'connected']);
});

test('scale.sh: bad usage exits 2 with the usage', () => {
  const run = scale('add', NEW_REPLICA, '--cluster', 'scaling');
  expect(run.status).toBe(2);
  expect(run.stderr).toContain("required option '--role <role>' not specified");
});

test('addNode refuses a node that holds keys, naming the fix', async () => {
  // A standalone node with a slot of its own and a key in it.
  await cluster.runtime.provision(SPARE);
  const key = canaryKeys([{ start: 0, end: 0 }], 1, 'spare')[0]!;
  await withRedis(SPARE, async (r) => {
    await r.call('CLUSTER', 'ADDSLOTS', '0');
    await r.call('CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
    await eventually(`a key written in slot 0 of ${SPARE}`, () => r.set(key, 'x'), (reply) => reply === 'OK', { timeoutMs: 10_000, everyMs: 100 });
  });
  const failure = await runWorkflowFailure('addNode', { cluster: 'scaling', address: SPARE, role: 'master' });
  expect(failure.type).toBe('NodeNotEmpty');
  expect(failure.message).toBe(`${SPARE} holds 1 keys and 1 slots; a node joins empty (FLUSHALL and CLUSTER RESET it, or pick another)`);
  await cluster.runtime.kill(SPARE);
});

test('removeNode master: drained onto the others, its replica re-pointed, forgotten everywhere, stopped', async () => {
  const report = await runWorkflow<RemoveNodeReport>('removeNode', { cluster: 'scaling', node: NEW_MASTER });
  expect(report.node).toMatchObject({ address: NEW_MASTER, role: 'master' });
  expect(report.slotsDrained).toBe(4096);
  expect(report.replicasRepointed.map((r) => r.address)).toEqual([NEW_REPLICA]);
  expect(report.stopped).toBe(true);
  expect(report.after.map((s) => s.slotCount).reduce((a, b) => a + b, 0)).toBe(16384);
  expect(report.after.some((s) => s.master.address === NEW_MASTER)).toBe(false);
  expect(await cluster.runtime.status(NEW_MASTER)).toBe('stopped');
  for (const node of cluster.nodes) {
    const nodes = await withRedis(node, async (r) => String(await r.call('CLUSTER', 'NODES')));
    expect(nodes).not.toContain(report.node.id);
  }
  const after = await digestNow();
  expect(after.digest).toBe(before.digest);
});

test('./scripts/scale.sh remove <node-id> (the replica), then the cluster is exactly healthy again with every key', async () => {
  const replicaId = await withRedis(NEW_REPLICA, async (r) => String(await r.call('CLUSTER', 'MYID')));
  const run = scale('remove', replicaId, '--cluster', 'scaling', '--json');
  expect(run.status).toBe(0);
  const report = (JSON.parse(run.stdout) as { result: RemoveNodeReport }).result;
  expect(report.node).toMatchObject({ id: replicaId, role: 'replica' });
  expect(report.slotsDrained).toBe(0);
  const health = await cluster.healthUntil((r) => r.healthy);
  expect(health.findings).toEqual([]);
  expect(health.summary).toMatchObject({ masters: 3, replicas: 3, nodesObserved: 6 });
  const after = await digestNow();
  expect(after).toEqual(before);
});

function scale(...args: string[]) {
  return spawnSync('bash', [join(ROOT, 'scripts', 'scale.sh'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS }, timeout: 120_000 });
}

test('removeNode of a dead replica: every other node forgets it, the cluster is healthy', async () => {
  await runWorkflow<AddNodeReport>('addNode', { cluster: 'scaling', address: DOOMED, role: 'replica' });
  const id = await withRedis(DOOMED, async (r) => String(await r.call('CLUSTER', 'MYID')));
  await cluster.runtime.kill(DOOMED);
  await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'NODE_FAILED' && f.nodeId === id));
  const report = await runWorkflow<RemoveNodeReport>('removeNode', { cluster: 'scaling', node: id });
  expect(report).toMatchObject({ wasAlive: false, slotsDrained: 0, slotsTakenOver: 0 });
  for (const node of cluster.nodes) {
    expect(await withRedis(node, async (r) => String(await r.call('CLUSTER', 'NODES')))).not.toContain(id);
  }
  expect((await cluster.healthUntil((r) => r.healthy)).findings).toEqual([]);
});
