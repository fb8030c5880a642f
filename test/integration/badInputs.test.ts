/**
 * A table of bad inputs across every workflow, on a live cluster: each is refused at once as
 * InvalidInput (non-retryable) naming the field, and the whole table leaves the cluster as it
 * was: the same CLUSTER NODES on every node (ids, roles, masters, slots), the same keys, the same
 * processes, nothing started on any address a row named, and the cluster not held.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSlotRanges, parseClusterNodes } from '../../src/cluster';
import type { ProcessRuntime } from '../../src/runtime';
import { acceptsConnections } from '../../src/util/ports';
import { lockHolderQuery, lockWorkflowId } from '../../src/shared';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { loadDataset } from '../harness/dataset';
import { NODES_DIR, TASK_QUEUE } from '../harness/env';

let cluster: TestCluster;
/** The `health` cluster's spareNodes in the test inventory (the three ports after its nodes). */
const SPARE = ['127.0.0.1:21007', '127.0.0.1:21008', '127.0.0.1:21009'];
/** Just past the spare range: outside the inventory, nothing runs there. */
const OUTSIDE = '127.0.0.1:21010';
const OTHER_HOST = '127.0.0.2:21007';
const LISTENER = '127.0.0.3:7390';
const STATE = {
  plan: { moves: [], slotsToMove: 0, targets: {} },
  masters: ['127.0.0.1:21001'], remaining: [], slotsDone: 0, keysMoved: 0, keysReplaced: 0, movingMs: 0, runs: 1,
};

interface Row {
  type: string;
  input: unknown;
  /** The field the refusal must name. */
  field: string;
  /** More arguments after the input (a second argument only continued runs may carry). */
  extraArgs?: unknown[];
}

beforeAll(async () => {
  cluster = await TestCluster.start('health');
  await loadDataset(cluster.nodes[0]!, 2_000, 2, 100);
});
afterAll(async () => {
  await cluster?.destroy();
});

interface Snapshot {
  views: Record<string, string[]>;
  keys: Record<string, number>;
  processes: Record<string, string>;
  nodeDirs: string[];
}

async function snapshot(): Promise<Snapshot> {
  const views: Record<string, string[]> = {};
  const keys: Record<string, number> = {};
  const processes: Record<string, string> = {};
  for (const node of cluster.nodes) {
    await withRedis(node, async (r) => {
      const view = parseClusterNodes(String(await r.call('CLUSTER', 'NODES')));
      views[node] = view.map((n) => `${n.id} ${n.address} ${n.role} ${n.masterId ?? '-'} ${formatSlotRanges(n.slots)}`).sort();
      keys[node] = await r.dbsize();
    });
  }
  const runtime = cluster.runtime as ProcessRuntime;
  for (const node of [...cluster.nodes, ...SPARE]) {
    const pidFile = join(runtime.nodeDir(node), 'redis.pid');
    processes[node] = `${await runtime.status(node)} ${existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '-'}`;
  }
  const dir = join(NODES_DIR, 'health');
  return { views, keys, processes, nodeDirs: existsSync(dir) ? readdirSync(dir).sort() : [] };
}

function rows(masters: string[]): Row[] {
  const health = (extra: Record<string, unknown>) => ({ cluster: 'health', ...extra });
  const six = (first: string) => [first, '127.0.0.1:21002', '127.0.0.1:21003', '127.0.0.1:21004', '127.0.0.1:21005', '127.0.0.1:21006'];
  return [
    { type: 'clusterHealth', input: {}, field: 'cluster' },
    { type: 'clusterHealth', input: { cluster: 'nope' }, field: 'cluster' },
    { type: 'clusterHealth', input: { cluster: 'scratch:main:7001:3x1' }, field: 'cluster' },
    { type: 'clusterHealth', input: { cluster: 5 }, field: 'cluster' },
    { type: 'clusterHealth', input: health({ expectedMasters: 0 }), field: 'expectedMasters' },
    { type: 'clusterHealth', input: health({ expectedReplicasPerMaster: 'one' }), field: 'expectedReplicasPerMaster' },
    { type: 'clusterHealth', input: health({ extra: true }), field: 'extra' },

    { type: 'createCluster', input: health({ nodes: six(OUTSIDE) }), field: 'nodes[0]' },
    { type: 'createCluster', input: health({ nodes: six(OTHER_HOST) }), field: 'nodes[0]' },
    { type: 'createCluster', input: health({ nodes: '127.0.0.1:21001' }), field: 'nodes' },
    { type: 'createCluster', input: health({ replicasPerMaster: 9 }), field: 'replicasPerMaster' },
    { type: 'createCluster', input: health({ timeoutSeconds: 1e12 }), field: 'timeoutSeconds' },
    { type: 'createCluster', input: { cluster: 'health;FLUSHALL' }, field: 'cluster' },

    { type: 'failoverTest', input: health({ master: 'deadbeef' }), field: 'master' },
    { type: 'failoverTest', input: health({ mode: 'explode' }), field: 'mode' },
    { type: 'failoverTest', input: health({ canaries: -1 }), field: 'canaries' },
    { type: 'failoverTest', input: health({ canaries: 1e9 }), field: 'canaries' },
    { type: 'failoverTest', input: { cluster: 'no-runtime', mode: 'stop' }, field: 'mode' },

    { type: 'addNode', input: health({ address: OUTSIDE, role: 'master' }), field: 'address' },
    { type: 'addNode', input: health({ address: OTHER_HOST, role: 'master' }), field: 'address' },
    { type: 'addNode', input: health({ address: LISTENER, role: 'replica' }), field: 'address' },
    { type: 'addNode', input: health({ address: SPARE[0], role: 'replica', replicaOf: 'deadbeef' }), field: 'replicaOf' },
    { type: 'addNode', input: health({ address: SPARE[1], role: 'master', replicaOf: masters[0] }), field: 'replicaOf' },
    { type: 'addNode', input: health({ address: SPARE[1], role: 'leader' }), field: 'role' },
    { type: 'addNode', input: health({ address: 'localhost', role: 'master' }), field: 'address' },
    { type: 'addNode', input: { cluster: 'scratch:health:21007:3x1', address: SPARE[2], role: 'master' }, field: 'cluster' },
    { type: 'addNode', input: health({ address: SPARE[2], role: 'master', timeoutSeconds: 0 }), field: 'timeoutSeconds' },

    { type: 'removeNode', input: health({ node: SPARE[2] }), field: 'node' },
    { type: 'removeNode', input: health({ node: '0123456789abcdef0123456789abcdef01234567' }), field: 'node' },
    { type: 'removeNode', input: health({ node: masters[0] }), field: 'node' },
    { type: 'removeNode', input: health({ node: '' }), field: 'node' },
    { type: 'removeNode', input: health({ node: masters[0], approvalTimeoutSeconds: -5 }), field: 'approvalTimeoutSeconds' },

    { type: 'rebalance', input: health({ resume: {} }), field: 'resume' },
    { type: 'rebalance', input: health({ resume: STATE }), field: 'resume' },
    { type: 'rebalance', input: health({}), extraArgs: [STATE], field: '(second argument)' },
    { type: 'rebalance', input: health({ weights: { [masters[0]!]: -1 } }), field: `weights.${masters[0]}` },
    { type: 'rebalance', input: health({ drain: [OUTSIDE] }), field: 'drain[0]' },
    { type: 'rebalance', input: health({ weights: Object.fromEntries(masters.map((m) => [m, 0])) }), field: 'weights' },
    { type: 'rebalance', input: health({ slotsPerBatch: 0 }), field: 'slotsPerBatch' },
    { type: 'rebalance', input: health({ thresholdPercent: 101 }), field: 'thresholdPercent' },

    { type: 'backupCluster', input: health({ source: 'primary' }), field: 'source' },
    { type: 'backupCluster', input: health({ retain: {} }), field: 'retain' },
    { type: 'backupCluster', input: health({ backupId: '../../etc' }), field: 'backupId' },
    { type: 'backupCluster', input: health({ ifBusy: { waitSeconds: -1 } }), field: 'ifBusy.waitSeconds' },
    { type: 'backupCluster', input: health({ store: 'nope' }), field: 'store' },

    { type: 'restoreCluster', input: health({}), field: 'backupId' },
    { type: 'restoreCluster', input: health({ backupId: 'b1', from: 'scratch:main:7001:3x1' }), field: 'from' },
    { type: 'restoreCluster', input: health({ backupId: 'b1', approvalTimeoutSeconds: 0 }), field: 'approvalTimeoutSeconds' },
    { type: 'restoreCluster', input: { cluster: 'scratch:health:21007:3x1', backupId: 'b1' }, field: 'cluster' },
    { type: 'restoreCluster', input: health({ backupId: 'b1' }), extraArgs: [{ scratch: { ports: SPARE } }], field: '(second argument)' },

    { type: 'verifyBackup', input: { cluster: 'scratch:main:7001:3x1' }, field: 'cluster' },
    { type: 'verifyBackup', input: health({ basePort: 80 }), field: 'basePort' },
    { type: 'verifyBackup', input: health({ backupId: 'a b' }), field: 'backupId' },

    { type: 'repairCluster', input: health({ assignUncovered: 'yes' }), field: 'assignUncovered' },
    { type: 'repairCluster', input: health({ timeoutSeconds: 99_999 }), field: 'timeoutSeconds' },
    { type: 'repairCluster', input: { cluster: ['health'] }, field: 'cluster' },

    { type: 'routingCheck', input: health({ endpoint: LISTENER }), field: 'endpoint' },
    { type: 'routingCheck', input: health({ node: LISTENER }), field: 'node' },
    { type: 'routingCheck', input: health({ node: SPARE[0] }), field: 'node' },
    { type: 'routingCheck', input: health({ keysPerRange: 1000 }), field: 'keysPerRange' },

    { type: 'upgradeRedis', input: health({}), field: 'version' },
    { type: 'upgradeRedis', input: health({ version: 'redis:8.0.2@sha256:00' }), field: 'version' },
    { type: 'upgradeRedis', input: health({ version: '9.9.9' }), field: 'version' },
    { type: 'upgradeRedis', input: { cluster: 'no-runtime', version: '8.0.2' }, field: 'cluster' },
    { type: 'upgradeRedis', input: health({ version: '8.0.2', shardsInParallel: 0 }), field: 'shardsInParallel' },

    { type: 'upgradeEnvoy', input: {}, field: 'proxy' },
    { type: 'upgradeEnvoy', input: { proxy: 'nope', image: 'redisforge/envoy:v1.32.1' }, field: 'proxy' },
    { type: 'upgradeEnvoy', input: { proxy: 'envoy', image: 'Not An Image!' }, field: 'image' },
    { type: 'upgradeEnvoy', input: { proxy: 'envoy', image: 'redisforge/envoy:v1.32.1', timeoutSeconds: 'soon' }, field: 'timeoutSeconds' },
  ];
}

/** Runs one row; returns what is wrong with its outcome ('' when it was refused as it should be). */
async function refusal(row: Row): Promise<string> {
  let failure: Awaited<ReturnType<typeof runWorkflowFailure>>;
  if (row.extraArgs) {
    const client = await testClient();
    const handle = await client.workflow.start(row.type, { taskQueue: TASK_QUEUE, workflowId: workflowId(`bad-${row.type}`), args: [row.input, ...row.extraArgs] });
    failure = await handle.result().then(() => { throw new Error('succeeded'); }, (err: { cause?: typeof failure }) => err.cause!);
  } else {
    failure = await runWorkflowFailure(row.type, row.input, workflowId(`bad-${row.type}`)).catch((err: Error) => err);
  }
  const named = failure.message.includes(`${row.field}:`) || failure.message.includes(`Unrecognized key: "${row.field}"`);
  if (failure.type === 'InvalidInput' && failure.nonRetryable === true && named) return '';
  return `${failure.type ?? failure.name}${failure.nonRetryable ? '' : ' (retryable)'}: ${failure.message}`;
}

test('every bad input is refused by name as InvalidInput, and the whole table changes nothing', async () => {
  const health = await cluster.healthUntil((r) => r.healthy);
  expect(health.healthy).toBe(true);
  const table = rows(health.shards.map((s) => s.master.address));
  expect(table.length).toBeGreaterThanOrEqual(40);
  expect(new Set(table.map((r) => r.type)).size).toBe(13);
  const before = await snapshot();

  const outcomes: Record<string, string> = {};
  for (const [i, row] of table.entries()) outcomes[`${i} ${row.type} ${JSON.stringify(row.input)} -> ${row.field}`] = await refusal(row);
  const wrong = Object.entries(outcomes).filter(([, why]) => why !== '');
  expect(wrong).toEqual([]);

  expect(await snapshot()).toEqual(before);
  // Nothing was started on an address a row named, and nothing listens there.
  for (const address of [...SPARE, OUTSIDE, OTHER_HOST, LISTENER]) {
    expect({ address, listening: await acceptsConnections(address) }).toEqual({ address, listening: false });
  }
  // No refusal left the cluster held (a workflow task retrying with the lock would).
  const lock = (await testClient()).workflow.getHandle(lockWorkflowId('health'));
  const running = await lock.describe().then((d) => d.status.name === 'RUNNING', () => false);
  expect(running ? await lock.query(lockHolderQuery) : undefined).toBeUndefined();
});

test('the state a rebalance carries to its next run passes the same check: a continued rebalance finishes', async () => {
  const masters = (await cluster.healthUntil((r) => r.healthy)).shards.map((s) => s.master.address);
  const report = await runWorkflow<RebalanceReport>('rebalance', { cluster: 'health', weights: { [masters[0]!]: 2 }, slotsPerBatch: 512, batchesPerRun: 1, thresholdPercent: 0 });
  expect(report.runs).toBeGreaterThanOrEqual(3);
  expect(report.aborted).toBeUndefined();
  expect(report.slotsMoved).toBe(report.plan.slotsToMove);
  expect(report.findingsAfter).toEqual([]);
});
