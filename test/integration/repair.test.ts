/**
 * The runbook's '"MOVED" Errors' (routingCheck) and "CLUSTERDOWN Hash slot not served"
 * (repairCluster) on a real cluster: a shard stopped, slots left open by a killed reshard, a
 * shard destroyed. Non-destructive checks first; the shard is destroyed last.
 */
import { rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { keyHashSlot, parseSlotRange, splitAddress } from '../../src/cluster';
import { ProcessRuntime } from '../../src/runtime';
import { approveUpdate } from '../../src/shared';
import type { RepairReport } from '../../src/workflows/repairCluster';
import type { RoutingCheckReport } from '../../src/workflows/routingCheck';
import { password, recordHistory, runWorkflow, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { clusterClient, digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { TASK_QUEUE, testInventory } from '../harness/env';
import { progressReaches } from '../helpers/waitFor';

/** The `repair` cluster's clientEndpoint in the test inventory, where the tests start a pass-through proxy. */
const PROXY = (testInventory().clusters.repair as { clientEndpoint: string }).clientEndpoint;
let cluster: TestCluster;
let proxy: { server: Server; sockets: Set<Socket> } | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start('repair');
  await loadDataset(cluster.nodes[0]!, 2000, 2, 100);
});
afterAll(async () => {
  if (proxy) {
    proxy.sockets.forEach((s) => s.destroy());
    await new Promise((done) => proxy!.server.close(done));
  }
  await cluster?.destroy();
});

const masters = async () => (await cluster.healthUntil((r) => r.healthy)).shards;
const digestNow = async (): Promise<DatasetDigest> => digestDataset((await masters()).map((s) => s.master.address));

/** A hash tag whose slot lies in `slots` ("0-5460" or "0-100,200-300") and differs from `avoid`. */
function tagIn(slots: string, prefix: string, avoid: number[] = []): { tag: string; slot: number } {
  const ranges = slots.split(',').map(parseSlotRange);
  for (let i = 0; ; i++) {
    const slot = keyHashSlot(`${prefix}${i}`);
    if (ranges.some((r) => slot >= r.start && slot <= r.end) && !avoid.includes(slot)) return { tag: `${prefix}${i}`, slot };
  }
}

const keysOf = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `{${tag}}:${i}`);
const call = (address: string, ...args: string[]) => withRedis(address, (r) => r.call(args[0]!, ...args.slice(1)));

async function migrateKeys(from: string, to: string, keys: string[]): Promise<void> {
  const { host, port } = splitAddress(to);
  await call(from, 'MIGRATE', host, String(port), '', '0', '5000', 'AUTH', password(), 'KEYS', ...keys);
}

/** Probe keys left behind on any master. */
async function leftoverProbeKeys(): Promise<number> {
  let n = 0;
  for (const s of await masters()) n += ((await call(s.master.address, 'KEYS', 'redisforge:canary:routing-*')) as string[]).length;
  return n;
}

/** A plain TCP pass-through to one node: a proxy that knows nothing of Redis Cluster. */
async function startPassThrough(listen: string, target: string): Promise<{ server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const to = splitAddress(target);
  const server = createServer((client) => {
    const upstream = connect(to.port, to.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const { host, port } = splitAddress(listen);
  await new Promise<void>((done) => server.listen(port, host, done));
  return { server, sockets };
}

test('routingCheck on one node: MOVED for the ranges other masters own, a cluster-aware client advised; a client endpoint that does not answer is said', async () => {
  const shards = await masters();
  const report = await runWorkflow<RoutingCheckReport>('routingCheck', { cluster: 'repair' });
  // The inventory's clientEndpoint, where nothing listens yet: reported, not retried.
  expect(report.clientEndpoint).toBe(PROXY);
  expect(report.proxy).toMatchObject({ asExpected: false, ranges: [] });
  expect(report.proxy!.advice).toContain(`Cannot reach the client endpoint ${PROXY}`);
  expect(report).toMatchObject({ ranges: 3, keysPerRange: 3 });
  expect(report.direct).toMatchObject({ through: 'node', address: shards[0]!.master.address, asExpected: true, redirectedRanges: [shards[1]!.slots, shards[2]!.slots] });
  expect(report.direct.ranges.map((r) => [r.range, r.ok, r.moved])).toEqual([[shards[0]!.slots, 3, 0], [shards[1]!.slots, 0, 3], [shards[2]!.slots, 0, 3]]);
  expect(report.direct.ranges[1]!.redirectedTo).toBe(shards[1]!.master.address);
  expect(report.direct.advice).toContain('must use a Redis Cluster-aware client');
  expect(await leftoverProbeKeys()).toBe(0);
});

test('routingCheck through a proxy that is not cluster-aware: MOVED reaches the client for the ranges it does not forward to', async () => {
  const shards = await masters();
  proxy = await startPassThrough(PROXY, shards[1]!.master.address);
  const report = await runWorkflow<RoutingCheckReport>('routingCheck', { cluster: 'repair', keysPerRange: 2 });
  expect(report.clientEndpoint).toBe(PROXY);
  expect(report.proxy).toMatchObject({ through: 'proxy', address: PROXY, asExpected: false, redirectedRanges: [shards[0]!.slots, shards[2]!.slots] });
  expect(report.proxy!.ranges.map((r) => [r.ok, r.moved])).toEqual([[0, 2], [2, 0], [0, 2]]);
  expect(report.proxy!.advice).toContain(`MOVED/ASK reached the client through ${PROXY}`);
  expect(report.proxy!.advice).toContain('the proxy is not cluster-aware or misroutes');
  expect(report.direct.asExpected).toBe(true);
  expect(await leftoverProbeKeys()).toBe(0);
});

test('CLUSTERDOWN after a master and its replica stopped: repairCluster restarts both, waits for them, every key is back', async () => {
  const before = await digestNow();
  const shard = (await masters())[1]!;
  const replica = shard.replicas[0]!.address;
  await cluster.runtime.stop(shard.master.address);
  await cluster.runtime.stop(replica);
  await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'NODE_FAILED' && f.node === shard.master.address));

  const id = workflowId('repair-restart');
  const report = await runWorkflow<RepairReport>('repairCluster', { cluster: 'repair' }, id);
  await recordHistory(id, 'repairCluster-restart');
  expect(report.before.nodesDown).toEqual([shard.master.address, replica]);
  expect(report.before.slotsUncovered).toBe(shard.slots);
  expect(report.nodesRestarted).toEqual([shard.master.address, replica]);
  expect(report).toMatchObject({ repaired: true, openSlotsClosed: [], slotsAssigned: [] });
  expect(report.after!.findings).toEqual([]);
  expect((await cluster.healthUntil((r) => r.healthy)).findings).toEqual([]);
  const after = await digestNow();
  expect(after.keys).toBe(before.keys);
  expect(after.digest).toBe(before.digest);
});

/** Slots left open the way a killed reshard leaves them. */
interface Planted { finish: number; undo: number; migratingOnly: number; importingOnly: number }
/** Keys in the finish and undo slots (the dataset may have some there too). */
let inSlot: { finish: number; undo: number; leftOnSource: number };
let planted: Planted;
let beforePlanted: DatasetDigest;

test('dryRun: the plan for slots left open by a killed reshard, and nothing touched', async () => {
  const [m0, m1, m2] = (await masters()).map((s) => ({ ...s.master, slots: s.slots }));
  const finish = tagIn(m0!.slots, 'fin');
  const undo = tagIn(m0!.slots, 'und', [finish.slot]);
  const migratingOnly = tagIn(m1!.slots, 'mig');
  const importingOnly = tagIn(m2!.slots, 'imp');
  for (const [t, owner] of [[finish, m0], [undo, m0], [migratingOnly, m1], [importingOnly, m2]] as const) {
    await withRedis(owner!.address, async (r) => {
      for (const k of keysOf(t.tag, 30)) await r.set(k, `v-${k}`);
    });
  }
  beforePlanted = await digestNow();
  const count = async (address: string, slot: number) => Number(await call(address, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)));
  inSlot = { finish: await count(m0!.address, finish.slot), undo: await count(m0!.address, undo.slot), leftOnSource: 0 };
  // finish: a third of the keys already on the target; undo: none moved yet.
  await call(m1!.address, 'CLUSTER', 'SETSLOT', String(finish.slot), 'IMPORTING', m0!.id);
  await call(m0!.address, 'CLUSTER', 'SETSLOT', String(finish.slot), 'MIGRATING', m1!.id);
  await migrateKeys(m0!.address, m1!.address, keysOf(finish.tag, 10));
  await call(m2!.address, 'CLUSTER', 'SETSLOT', String(undo.slot), 'IMPORTING', m0!.id);
  await call(m0!.address, 'CLUSTER', 'SETSLOT', String(undo.slot), 'MIGRATING', m2!.id);
  // One side only.
  await call(m1!.address, 'CLUSTER', 'SETSLOT', String(migratingOnly.slot), 'MIGRATING', m2!.id);
  await call(m0!.address, 'CLUSTER', 'SETSLOT', String(importingOnly.slot), 'IMPORTING', m2!.id);
  inSlot.leftOnSource = await count(m0!.address, finish.slot);
  expect(inSlot.leftOnSource).toBe(inSlot.finish - 10);
  planted = { finish: finish.slot, undo: undo.slot, migratingOnly: migratingOnly.slot, importingOnly: importingOnly.slot };

  const report = await runWorkflow<RepairReport>('repairCluster', { cluster: 'repair', dryRun: true });
  expect(report.dryRun).toBe(true);
  expect(report.before.openSlots).toEqual(Object.values(planted).sort((a, b) => a - b));
  const plans = Object.fromEntries(report.plan.openSlots.map((p) => [p.slot, p]));
  expect(plans[finish.slot]).toMatchObject({ action: 'finish', owner: { id: m1!.id }, keysToMove: inSlot.leftOnSource });
  expect(plans[undo.slot]).toMatchObject({ action: 'undo', owner: { id: m0!.id }, keysToMove: 0 });
  expect(plans[migratingOnly.slot]).toMatchObject({ action: 'close', owner: { id: m1!.id } });
  expect(plans[importingOnly.slot]).toMatchObject({ action: 'close', owner: { id: m2!.id } });
  expect(report).toMatchObject({ nodesRestarted: [], openSlotsClosed: [], slotsAssigned: [], plan: { restart: [], assign: [] } });
  // Untouched: still open, keys where they were.
  expect(String(await call(m0!.address, 'CLUSTER', 'NODES'))).toContain(`[${finish.slot}->-${m1!.id}]`);
  expect(await call(m1!.address, 'CLUSTER', 'COUNTKEYSINSLOT', String(finish.slot))).toBe(10);
});

test('slots left open by a killed reshard: each closed by where its keys are, no key lost', async () => {
  const [m0, m1, m2] = (await cluster.health()).shards.map((s) => s.master);
  const report = await runWorkflow<RepairReport>('repairCluster', { cluster: 'repair' });
  expect(report.openSlotsClosed.map((c) => [c.slot, c.action, c.keysMoved]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
    [[planted.finish, 'finish', inSlot.leftOnSource], [planted.undo, 'undo', 0], [planted.migratingOnly, 'close', 0], [planted.importingOnly, 'close', 0]].sort((a, b) => Number(a[0]) - Number(b[0])),
  );
  expect(report).toMatchObject({ repaired: true, nodesRestarted: [], slotsAssigned: [] });
  expect(report.after!.openSlots).toEqual([]);
  const count = async (address: string, slot: number) => Number(await call(address, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)));
  expect([await count(m1!.address, planted.finish), await count(m0!.address, planted.finish)]).toEqual([inSlot.finish, 0]);
  expect([await count(m0!.address, planted.undo), await count(m2!.address, planted.undo)]).toEqual([inSlot.undo, 0]);
  const health = await cluster.healthUntil((r) => r.healthy);
  expect(health.findings).toEqual([]);
  const after = await digestDataset(health.shards.map((s) => s.master.address));
  expect(after.keys).toBe(beforePlanted.keys);
  expect(after.digest).toBe(beforePlanted.digest);
});

test('a shard destroyed: repairCluster waits for an approval, then gives its slots to live masters, keys a live node held first', async () => {
  const [m0, , m2] = (await masters()).map((s) => ({ ...s.master, slots: s.slots, slotCount: s.slotCount, replicas: s.replicas }));
  // A reshard from m2 to m0 was killed after moving one slot's keys: they live on m0 only.
  const rescued = tagIn(m2!.slots, 'res');
  const rescuedKeys = keysOf(rescued.tag, 5);
  await withRedis(m2!.address, async (r) => {
    for (const k of rescuedKeys) await r.set(k, `v-${k}`);
  });
  await call(m0!.address, 'CLUSTER', 'SETSLOT', String(rescued.slot), 'IMPORTING', m2!.id);
  await call(m2!.address, 'CLUSTER', 'SETSLOT', String(rescued.slot), 'MIGRATING', m0!.id);
  await migrateKeys(m2!.address, m0!.address, rescuedKeys);
  // Both nodes of the shard destroyed: processes killed, data directories gone.
  const doomed = [m2!.address, m2!.replicas[0]!.address];
  for (const address of doomed) {
    await cluster.runtime.kill(address);
    rmSync((cluster.runtime as ProcessRuntime).nodeDir(address), { recursive: true, force: true });
  }
  await cluster.healthUntil((r) => r.findings.filter((f) => f.code === 'NODE_FAILED').length === 2);

  const client = await testClient();
  const handle = await client.workflow.start('repairCluster', { taskQueue: TASK_QUEUE, workflowId: workflowId('repair-destroyed'), args: [{ cluster: 'repair', assignUncovered: true }] });
  const { detail } = await progressReaches(handle, 'the approval gate', (p) => (p.detail ?? '').includes('approval needed'), 90_000);
  expect(detail).toContain(`**approval needed**: ${m2!.slotCount} slots (${m2!.slots}) are served by no live master`);
  expect(detail).toContain(`(${m2!.slotCount} slots, 1 holding 5 keys there) to ${m0!.address}`);
  // Nothing assigned before the approval.
  expect(String(await call(m0!.address, 'CLUSTER', 'INFO'))).toContain('cluster_state:fail');
  expect(await handle.executeUpdate(approveUpdate, { args: [{ by: 'jest', reason: 'shard destroyed' }] })).toBe('approved by jest');
  const report = (await handle.result()) as RepairReport;

  expect(report.nodesRestarted).toEqual([]);
  expect(report.plan.restart.map((r) => [r.node.address, r.restart])).toEqual(doomed.map((a) => [a, false]));
  expect(report.plan.restart[0]!.why).toContain('it is lost (its data directory has no nodes.conf)');
  expect(report.openSlotsClosed).toMatchObject([{ slot: rescued.slot, action: 'clear' }]);
  expect(report.slotsAssigned.reduce((n, a) => n + a.slotCount, 0)).toBe(m2!.slotCount);
  expect(report.slotsAssigned.find((a) => a.master.id === m0!.id)).toMatchObject({ slotsWithKeys: 1, keys: 5 });
  expect(report).toMatchObject({ repaired: true, approval: { by: 'jest', reason: 'shard destroyed' } });

  for (const s of (await cluster.health()).shards) expect(String(await call(s.master.address, 'CLUSTER', 'INFO'))).toContain('cluster_state:ok');
  const app = clusterClient(m0!.address);
  try {
    const key = `{${tagIn(m2!.slots, 'new', [rescued.slot]).tag}}:after-repair`;
    expect(await app.set(key, 'served')).toBe('OK');
    expect(await app.get(key)).toBe('served');
    expect(await Promise.all(rescuedKeys.map((k) => app.get(k)))).toEqual(rescuedKeys.map((k) => `v-${k}`));
  } finally {
    app.disconnect();
  }
});
