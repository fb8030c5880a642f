/**
 * The fault matrix for createCluster and repairCluster on the `fault-repair` cluster (production
 * default timeouts): the worker SIGKILLed after each side-effecting step, a new worker finishing
 * the operation; and a master stalled (SIGSTOP) where only the worker sees it gone, whose slots
 * must not be given away even with approve: true. The referee: keys and values, topology, open slots.
 */
import { keyHashSlot, parseSlotRange } from '../../src/cluster';
import type { CreateClusterResult } from '../../src/workflows/createCluster';
import type { RepairReport } from '../../src/workflows/repairCluster';
import { runWorkflow, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset } from '../harness/dataset';
import { runThroughKills } from '../helpers/killChain';

const QUEUE = 'redisforge-ops-fault-repair';
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start('fault-repair', { form: false });
});
afterAll(async () => {
  await cluster?.destroy();
});

const call = (address: string, ...args: string[]) => withRedis(address, (r) => r.call(args[0]!, ...args.slice(1)));
const healthy = async () => {
  const report = await cluster.healthUntil((r) => r.healthy, 60_000);
  expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  return report;
};

test('createCluster: the worker killed after assigning slots, after MEET and after REPLICATE; new workers form the planned cluster', async () => {
  const client = await testClient();
  const { result, attempts } = await runThroughKills<CreateClusterResult>(
    QUEUE,
    ['assignSlots:1:after', 'meetNodes:1:after', 'replicateNodes:1:after'],
    () => client.workflow.start('createCluster', { taskQueue: QUEUE, workflowId: workflowId('fault-create'), args: [{ cluster: 'fault-repair' }] }),
  );
  expect(result.alreadyFormed).toBe(false);
  expect(result.report?.healthy).toBe(true);
  // Each killed step ran again on the next worker.
  for (const step of ['assignSlots', 'meetNodes', 'replicateNodes']) expect(Math.max(...attempts[step]!)).toBeGreaterThanOrEqual(2);
  const report = await healthy();
  expect(report.shards.map((s) => [s.master.address, s.slots, s.replicas.length])).toEqual(result.layout.masters.map((m) => [m.address, m.slots, 1]));
  expect(report.summary.slotsCovered).toBe(16384);
});

test('a master stalled (SIGSTOP) that the other masters still see alive: repairCluster with approve gives none of its slots away; after SIGCONT it serves them', async () => {
  await loadDataset(cluster.nodes[0]!, 3000, 2, 200);
  const shards = (await healthy()).shards;
  const before = await digestDataset(shards.map((s) => s.master.address));
  const stalled = shards[2]!.master;
  // The cluster's own failure detector must not fire during the test: only the worker loses the master.
  for (const node of cluster.nodes) await call(node, 'CONFIG', 'SET', 'cluster-node-timeout', '120000');
  process.kill(cluster.pid(stalled.address), 'SIGSTOP');
  let report: RepairReport;
  try {
    report = await runWorkflow<RepairReport>('repairCluster', { cluster: 'fault-repair', assignUncovered: true, approve: true });
  } finally {
    process.kill(cluster.pid(stalled.address), 'SIGCONT');
  }
  expect(report.before.nodesDown).toEqual([stalled.address]);
  expect(report.before.mastersUnconfirmed).toEqual([stalled.address]);
  expect(report.before.slotsUncoveredCount).toBe(0);
  expect(report.slotsAssigned).toEqual([]);
  expect(report.nodesRestarted).toEqual([]);
  expect(report.repaired).toBe(false);
  expect(report.notes.join('\n')).toContain(`${stalled.address} (${stalled.id.slice(0, 8)}) does not answer this worker, but only 0 of the 2 other masters flag it failed`);

  for (const node of cluster.nodes) await call(node, 'CONFIG', 'SET', 'cluster-node-timeout', '2000');
  const after = await healthy();
  expect(after.shards.map((s) => [s.master.id, s.slots])).toEqual(shards.map((s) => [s.master.id, s.slots]));
  expect(await digestDataset(after.shards.map((s) => s.master.address))).toEqual(before);
});

test('repairCluster: the worker killed after closing an open slot and after assigning uncovered slots; a new worker finishes, no key lost', async () => {
  const shards = (await healthy()).shards;
  const before = await digestDataset(shards.map((s) => s.master.address));
  const [m0, m1] = shards.map((s) => ({ ...s.master, range: parseSlotRange(s.slots.split(',')[0]!) }));
  // A slot left open on one side by a killed reshard.
  const open = keyHashSlot('{fault-open}');
  const owner = shards.find((s) => s.slots.split(',').map(parseSlotRange).some((r) => open >= r.start && open <= r.end))!.master;
  const other = shards.find((s) => s.master.id !== owner.id)!.master;
  await call(owner.address, 'CLUSTER', 'SETSLOT', String(open), 'MIGRATING', other.id);
  // Ten slots of m1 that nobody serves any more (their keys stay on m1), and ten of m0.
  const unassign = [
    { start: m0!.range.end - 9, end: m0!.range.end },
    { start: m1!.range.start, end: m1!.range.start + 9 },
  ];
  for (const node of cluster.nodes) for (const r of unassign) await call(node, 'CLUSTER', 'DELSLOTSRANGE', String(r.start), String(r.end));
  await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'SLOTS_UNCOVERED'));

  const client = await testClient();
  const { result, attempts } = await runThroughKills<RepairReport>(
    QUEUE,
    ['closeOpenSlot:1:after', 'assignUncoveredSlots:1:after'],
    () => client.workflow.start('repairCluster', { taskQueue: QUEUE, workflowId: workflowId('fault-repair'), args: [{ cluster: 'fault-repair', assignUncovered: true, approve: true }] }),
  );
  expect(Math.max(...attempts.closeOpenSlot!)).toBeGreaterThanOrEqual(2);
  expect(Math.max(...attempts.assignUncoveredSlots!)).toBeGreaterThanOrEqual(2);
  expect(result.repaired).toBe(true);
  expect(result.openSlotsClosed.map((c) => c.slot)).toEqual([open]);
  expect(result.slotsAssigned.reduce((n, a) => n + a.slotCount, 0)).toBe(20);
  const after = await healthy();
  expect(after.summary.slotsCovered).toBe(16384);
  expect(await digestDataset(after.shards.map((s) => s.master.address))).toEqual(before);
});
