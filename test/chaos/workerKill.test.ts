/**
 * Durability: the worker is SIGKILLed right after it stopped a master. A new worker picks the
 * drill up where it was and finishes it correctly; the history shows the retried wait.
 */
import type { CreateClusterResult } from '../../src/workflows/createCluster';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import { password, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { activityAttempts } from '../helpers/killChain';
import { eventually, progressReaches } from '../helpers/waitFor';

const QUEUE = 'redisforge-ops-chaos';
let cluster: TestCluster;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start('chaos');
});
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await cluster?.destroy();
});

test('a worker killed after stopping the master: a new worker finishes the drill, no canary lost', async () => {
  const client = await testClient();
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, 'worker-chaos-1.log');
  const handle = await client.workflow.start('failoverTest', { taskQueue: QUEUE, workflowId: workflowId('chaos'), args: [{ cluster: 'chaos', mode: 'kill' }] });

  const progress = await progressReaches(handle, 'the drill to await the promotion', (p) => p.step === "Await a replica's promotion", 20_000);
  expect(progress.step).toBe("Await a replica's promotion");
  expect(await worker.stop('SIGKILL')).toBeNull();

  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, 'worker-chaos-2.log');
  const report = (await handle.result()) as FailoverTestReport;
  expect(report.promoted).toEqual(report.replica);
  expect(report.canaries).toMatchObject({ acknowledged: true, lost: 0 });
  expect(report.failedBack).toBe(true);
  expect(report.healthyAfter).toBe(true);
  expect(report.after!.map((s) => s.master.id)).toEqual(report.before.map((s) => s.master.id));

  // The stop ran once; the wait that was in flight when the worker died ran again.
  const attempts = await activityAttempts(handle);
  expect(attempts.stopNode).toEqual([1]);
  expect(Math.max(...attempts.awaitPromotion!)).toBeGreaterThanOrEqual(2);
});

test('createCluster with provision: a worker killed after starting a node; a new worker starts the rest and forms the cluster, each node one process', async () => {
  await cluster.destroy();
  const client = await testClient();
  await worker?.stop('SIGKILL');
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_KILL_AT: 'provisionNode:3:after' }, 'worker-chaos-3.log');
  const handle = await client.workflow.start('createCluster', { taskQueue: QUEUE, workflowId: workflowId('chaos-provision'), args: [{ cluster: 'chaos', provision: true }] });
  const dead = worker;
  await eventually('the worker to die after its third provisionNode', () => dead.child.exitCode ?? dead.child.signalCode, (s) => s !== null, { timeoutMs: 60_000 });
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, 'worker-chaos-4.log');
  const result = (await handle.result()) as CreateClusterResult;
  expect(result.report?.healthy).toBe(true);
  // The node started by the attempt that died is not started twice: one redis-server per port.
  for (const address of cluster.nodes) expect(await withRedis(address, async (r) => (await r.info('server')).includes('process_id'))).toBe(true);
  const pids = cluster.nodes.map((a) => cluster.pid(a));
  expect(new Set(pids).size).toBe(cluster.nodes.length);
  expect(Math.max(...(await activityAttempts(handle)).provisionNode!)).toBeGreaterThanOrEqual(2);
});
