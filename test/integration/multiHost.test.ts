/**
 * Many hosts (issue #13): three "hosts" as Linux network namespaces (test/harness/netns.ts), each
 * with its own address, its own host agent (`worker --host hN`, started inside the namespace)
 * and its own redis-server processes and data directory. The run's worker is the central one:
 * the workflows and the Redis-protocol steps. Every node-local step must run in the agent of the
 * node's host, so a node's process is always found in its own namespace; an agent that is down
 * holds its steps until it is back, within the inventory's bound, and is then named.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { CreateClusterResult } from '../../src/workflows/createCluster';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import type { VerifyBackupReport } from '../../src/workflows/verifyBackup';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import type { RepairReport } from '../../src/workflows/repairCluster';
import { hostOwning, hostTaskQueue, splitAddress } from '../../src/cluster';
import { parseInventory } from '../../src/config';
import { password, runWorkflow, testClient, workflowId } from '../harness/cluster';
import { digestDataset, loadDataset, type DatasetDigest } from '../harness/dataset';
import { INVENTORY_PATH, MULTIHOST_HOSTS, multiHostIp, NODES_DIR, ROOT, STATE_DIR, TASK_QUEUE, testInventory } from '../harness/env';
import { AGENT_TEMPORAL_ADDRESS, createTestHosts, loseHost, pidsIn, testHost, type TestHosts } from '../harness/netns';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { eventually } from '../helpers/waitFor';

const inventory = parseInventory(testInventory());
const A = inventory.clusters.multihost!;
const B = inventory.clusters['multihost-b']!;
const hostMap = (c: typeof A) => Object.fromEntries(Object.entries(c.hosts!).map(([h, e]) => [h, e.nodes]));
const hostOfNode = (c: typeof A, address: string) => hostOwning(hostMap(c), address)!;

let hosts: TestHosts;
const agents = new Map<string, WorkerProcess>();
let before: DatasetDigest;
let backup: BackupReport;

/** Starts (or restarts) the agent of `host` inside its namespace; `env` adds fault injection. */
async function startAgent(host: string, env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  await agents.get(host)?.stop('SIGKILL');
  const agent = await startWorker(password(), { REDISFORGE_HOST: host, TEMPORAL_ADDRESS: AGENT_TEMPORAL_ADDRESS, ...env }, `agent-${host}.log`, { netns: testHost(Number(host.slice(1))).ns });
  agents.set(host, agent);
  return agent;
}

/** The pid in the node's pid file, under its host's runtime directory. */
function nodePid(address: string, cluster = A): number | undefined {
  const dir = join(NODES_DIR, 'multihost', hostOfNode(cluster, address), String(splitAddress(address).port));
  const file = join(dir, 'redis.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined;
}

/** Every node's process is in the namespace of the host the inventory puts it on. */
async function expectEachNodeOnItsHost(cluster: typeof A, nodes = cluster.nodes): Promise<void> {
  for (const address of nodes) {
    const host = hostOfNode(cluster, address);
    const pid = nodePid(address, cluster);
    expect({ address, host, inItsNamespace: pid !== undefined && (await pidsIn(testHost(Number(host.slice(1))))).includes(pid) }).toEqual({ address, host, inItsNamespace: true });
  }
}

/** Where each activity of a workflow was sent: activity type -> task queues. */
async function queuesOf(id: string): Promise<Record<string, string[]>> {
  const history = await (await testClient()).workflow.getHandle(id).fetchHistory();
  const out: Record<string, string[]> = {};
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) continue;
    const type = a.activityType!.name!;
    out[type] = [...new Set([...(out[type] ?? []), a.taskQueue!.name!])].sort();
  }
  return out;
}

const masterAddresses = async (cluster: string) =>
  (await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster, diagnose: false })).shards.map((s) => s.master.address);

async function healthy(cluster: string, timeoutMs = 60_000): Promise<ClusterHealthResult> {
  return eventually(`${cluster} to be healthy`, () => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster, diagnose: false }), (r) => r.healthy, { timeoutMs, everyMs: 500 });
}

beforeAll(async () => {
  hosts = await createTestHosts(MULTIHOST_HOSTS.length);
  // What an earlier run's nodes left (their processes went with its namespaces).
  rmSync(join(NODES_DIR, 'multihost'), { recursive: true, force: true });
  for (const host of MULTIHOST_HOSTS) await startAgent(host);
}, 120_000);

afterAll(async () => {
  for (const agent of agents.values()) await agent.stop('SIGKILL');
  await hosts?.remove();
});

test('an agent for a host the inventory does not have stops at once with exit code 2, naming the hosts it has', () => {
  const run = spawnSync(process.execPath, [join(ROOT, 'bin', 'redisforge.js'), 'worker', '--host', 'h9'], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, REDISFORGE_INVENTORY: INVENTORY_PATH, TEMPORAL_ADDRESS: '127.0.0.1:1' },
  });
  expect({ status: run.status, stderr: run.stderr.trim() }).toEqual({
    status: 2,
    stderr: expect.stringContaining('--host (REDISFORGE_HOST): no cluster of the inventory has a host "h9" (clusters.<name>.hosts has: h1, h2, h3)'),
  });
});

test('createCluster starts every node on its own host, through its agent, and puts each replica on another host than its master', async () => {
  const id = workflowId('createCluster-multihost');
  const result = await runWorkflow<CreateClusterResult>('createCluster', { cluster: 'multihost', provision: true }, id);
  expect(result.report?.healthy).toBe(true);
  await expectEachNodeOnItsHost(A);
  // Node-local steps went to the agents' queues, the Redis-protocol ones stayed with the central worker.
  const queues = await queuesOf(id);
  expect(queues.provisionNode).toEqual(MULTIHOST_HOSTS.map(hostTaskQueue));
  expect(queues.assignSlots).toEqual([TASK_QUEUE]);
  for (const r of result.layout.replicas) expect(hostOfNode(A, r.address)).not.toBe(hostOfNode(A, r.masterAddress));
  await loadDataset(A.nodes[0]!, 3_000, 3, 200);
  before = await digestDataset(await masterAddresses('multihost'));
  expect(before.keys).toBe(3_009);
});

test('failoverTest stops a master on its host and starts it again there', async () => {
  const id = workflowId('failoverTest-multihost');
  const report = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: 'multihost', mode: 'stop', failback: true }, id);
  expect(report.healthyAfter).toBe(true);
  expect(report.canaries?.lost).toBe(0);
  const host = hostOfNode(A, report.master.address);
  expect((await queuesOf(id)).stopNode).toEqual([hostTaskQueue(host)]);
  await expectEachNodeOnItsHost(A);
});

test('addNode provisions a replica on its host; removeNode takes it away there', async () => {
  const spare = `${multiHostIp('h1')}:21503`;
  await runWorkflow('addNode', { cluster: 'multihost', address: spare, role: 'replica' });
  await expectEachNodeOnItsHost(A, [spare]);
  // Seven nodes where the inventory expects six: healthy but for the count.
  await eventually(
    `${spare} to be a replica with its link up`,
    () => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'multihost', diagnose: false }),
    (r) => r.shards.some((s) => s.replicas.some((x) => x.address === spare)) && r.findings.every((f) => f.code === 'KNOWN_NODES_MISMATCH'),
    { timeoutMs: 60_000, everyMs: 500 },
  );
  await runWorkflow('removeNode', { cluster: 'multihost', node: spare });
  expect(existsSync(join(NODES_DIR, 'multihost', 'h1', '21503'))).toBe(false);
  expect((await healthy('multihost')).shards.flatMap((s) => [s.master.address, ...s.replicas.map((r) => r.address)]).sort()).toEqual([...A.nodes].sort());
});

test('backupCluster reads each shard on its host and streams it to the store from there', async () => {
  const id = workflowId('backupCluster-multihost');
  backup = await runWorkflow<BackupReport>('backupCluster', { cluster: 'multihost' }, id);
  expect(backup.keys).toBe(before.keys);
  const queues = (await queuesOf(id)).backupShard!;
  expect(queues.every((q) => q.startsWith('redisforge-host-'))).toBe(true);
});

test('verifyBackup restores into a scratch cluster on its scratchHost (h3) only, and removes it', async () => {
  const id = workflowId('verifyBackup-multihost');
  const report = await runWorkflow<VerifyBackupReport>('verifyBackup', { cluster: 'multihost', backupId: backup.backupId, basePort: 21591 }, id);
  expect(report.keys.every((k) => k.restored === k.expected)).toBe(true);
  expect(report.scratchNodes.every((a) => a.startsWith('127.0.0.1:'))).toBe(true);
  // Every step of the drill ran in h3's agent, whose loopback the scratch nodes listened on (the
  // cluster lock, a Temporal workflow, is taken and released by the central worker).
  const restoreQueues = Object.entries(await queuesOf(`${id}-restore`));
  expect(restoreQueues.filter(([type]) => /ClusterLock$/.test(type)).map(([, q]) => q)).toEqual([[TASK_QUEUE], [TASK_QUEUE]]);
  expect([...new Set(restoreQueues.filter(([type]) => !/ClusterLock$/.test(type)).flatMap(([, q]) => q))]).toEqual([hostTaskQueue('h3')]);
  expect((await queuesOf(id)).allocateScratchCluster).toEqual([hostTaskQueue('h3')]);
  expect(existsSync(report.scratchDir)).toBe(false);
  // Nothing of the drill is left on h3: only its agent and its two nodes.
  expect((await pidsIn(testHost(3))).length).toBe(3);
});

test('restoreCluster onto other hosts resumes after the agent of a target host is SIGKILLed mid-restore', async () => {
  // multihost-b lists its nodes from h2 on: shards land on other hosts than in the backup.
  await runWorkflow('createCluster', { cluster: 'multihost-b', provision: true });
  await startAgent('h2', { REDISFORGE_KILL_AT: 'restoreNodeData:1:after' });
  const client = await testClient();
  const id = workflowId('restoreCluster-multihost-b');
  const handle = await client.workflow.start('restoreCluster', { taskQueue: TASK_QUEUE, workflowId: id, args: [{ cluster: 'multihost-b', from: 'multihost', backupId: backup.backupId, approve: true }] });
  const agent = agents.get('h2')!;
  await eventually('the agent of h2 to die after writing a node\'s data', () => agent.child.exitCode ?? agent.child.signalCode, (s) => s !== null, { timeoutMs: 60_000 });
  await startAgent('h2');
  const report = (await handle.result()) as RestoreReport;
  expect(report.keys.every((k) => k.restored === k.expected)).toBe(true);
  const moved = report.plan.filter((p) => p.fromAddress && hostOfNode(A, p.fromAddress) !== hostOfNode(B, p.toAddress));
  expect(moved.length).toBeGreaterThan(0);
  await expectEachNodeOnItsHost(B);
  expect(await digestDataset(report.keys.map((k) => k.master))).toEqual(before);
  expect(readFileSync(join(STATE_DIR, 'agent-h2.log'), 'utf8')).toContain('killing the worker at restoreNodeData:1:after');
});

test('upgradeRedis replaces every node on its host and resumes after an agent is SIGKILLed mid-replace', async () => {
  await startAgent('h1', { REDISFORGE_KILL_AT: 'replaceNodeVersion:1:after' });
  const client = await testClient();
  const id = workflowId('upgradeRedis-multihost');
  const handle = await client.workflow.start('upgradeRedis', { taskQueue: TASK_QUEUE, workflowId: id, args: [{ cluster: 'multihost', version: '8.0.2', shardsInParallel: 3 }] });
  const agent = agents.get('h1')!;
  await eventually('the agent of h1 to die after replacing a node', () => agent.child.exitCode ?? agent.child.signalCode, (s) => s !== null, { timeoutMs: 120_000 });
  await startAgent('h1');
  const report = (await handle.result()) as UpgradeRedisReport;
  expect(report.nodes.map((n) => n.version)).toEqual(A.nodes.map(() => '8.0.2'));
  const queues = await queuesOf(id);
  expect(queues.replaceNodeVersion).toEqual(MULTIHOST_HOSTS.map(hostTaskQueue));
  await expectEachNodeOnItsHost(A);
  expect(await digestDataset(await masterAddresses('multihost'))).toEqual(before);
});

test('a whole host lost: its masters fail over to the other hosts; repair names the host while it is down and restarts its nodes once it is back', async () => {
  const h2Nodes = A.nodes.filter((a) => hostOfNode(A, a) === 'h2');
  await loseHost(testHost(2));
  agents.delete('h2');
  // Redis promotes the replicas on h1 and h3 on its own: every slot is served again.
  const degraded = await eventually(
    'every slot served without h2',
    () => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'multihost', diagnose: false }),
    (r) => r.shards.length === 3 && r.shards.every((s) => !h2Nodes.includes(s.master.address)) && r.findings.every((f) => f.code !== 'SLOTS_UNCOVERED'),
    { timeoutMs: 60_000, everyMs: 1000 },
  );
  expect(degraded.healthy).toBe(false);
  // While the host is gone: its nodes cannot be started, and the repair says why (after hostAgentWaitSeconds, 15 s).
  const whileDown = await runWorkflow<RepairReport>('repairCluster', { cluster: 'multihost' });
  expect(whileDown.nodesRestarted).toEqual([]);
  expect(whileDown.plan.restart.map((r) => [r.node.address, r.restart, /host h2: no agent took inspectDownNode/.test(r.why)]).sort()).toEqual(h2Nodes.map((a) => [a, false, true]).sort());
  // The host is back (its agent runs again), its redis-servers are not: the repair restarts them there.
  await startAgent('h2');
  const repaired = await runWorkflow<RepairReport>('repairCluster', { cluster: 'multihost' });
  expect(repaired.nodesRestarted.sort()).toEqual([...h2Nodes].sort());
  await healthy('multihost');
  await expectEachNodeOnItsHost(A);
  expect(await digestDataset(await masterAddresses('multihost'))).toEqual(before);
  // The other cluster on these hosts lost its h2 nodes too.
  expect((await runWorkflow<RepairReport>('repairCluster', { cluster: 'multihost-b' })).nodesRestarted.length).toBe(2);
  await healthy('multihost-b');
});

test('nothing of the clusters runs outside its host: each namespace holds its agent and its own nodes only', async () => {
  for (const host of MULTIHOST_HOSTS) {
    const pids = await pidsIn(testHost(Number(host.slice(1))));
    const mine = [A, B].flatMap((c) => c.nodes.filter((a) => hostOfNode(c, a) === host).map((a) => nodePid(a, c)));
    const described = (list: (number | undefined)[]) => list.map((pid) => `${pid} ${pid && existsSync(`/proc/${pid}`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 120) : '(gone)'}`).sort();
    expect({ host, pids: described(pids) }).toEqual({ host, pids: described([agents.get(host)!.child.pid!, ...mine]) });
  }
});
