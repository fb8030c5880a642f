/**
 * Durability: the worker is SIGKILLed right after it stopped a master. A new worker picks the
 * drill up where it was and finishes it correctly; the history shows the retried wait.
 */
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import { password, TestCluster, testClient, workflowId } from '../harness/cluster';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { activityAttempts } from '../helpers/killChain';
import { progressReaches } from '../helpers/waitFor';

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
