/**
 * upgradeRedis survives its worker: SIGKILLed (REDISFORGE_FAULT) right after a replica was
 * replaced, then again just after a failover, while a client writes acknowledged writes. The
 * third worker completes the upgrade: every node on 8.0.2, every acknowledged write there.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { password, TestCluster, testClient, workflowId } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { expectUpgraded, loadUpgradeData, upgradeWhileWriting } from '../helpers/upgradeScenario';

const QUEUE = 'redisforge-ops-upgrade-crash';
let cluster: TestCluster;
let data: DatasetDigest;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start('upgrade');
  data = await loadUpgradeData(cluster);
});
afterAll(async () => {
  await worker?.stop('SIGKILL');
  await cluster?.destroy();
});

/** Starts a worker that kills itself at `fault` and waits until it did (a workflow that ended first is a failure). */
async function crashAt(fault: string, handle: () => WorkflowHandle | undefined, start?: () => Promise<WorkflowHandle>): Promise<WorkflowHandle> {
  worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE, REDISFORGE_FAULT: fault }, `worker-upgrade-crash-${fault}.log`);
  const exited = new Promise<string>((resolve) => worker!.child.once('exit', () => resolve('killed')));
  const h = handle() ?? (await start!());
  const outcome = await Promise.race([exited, h.result().then(() => 'finished', (e: Error) => `failed: ${(e.cause as Error | undefined)?.message ?? e.message}`)]);
  expect(outcome).toBe('killed');
  return h;
}

test('the worker killed after a replica was replaced and again just after a failover: the upgrade completes, no acknowledged write lost', async () => {
  const client = await testClient();
  let handle: WorkflowHandle | undefined;
  const outcome = await upgradeWhileWriting(cluster, async () => {
    handle = await crashAt('upgrade-replica-replaced:1', () => undefined, () =>
      client.workflow.start('upgradeRedis', { taskQueue: QUEUE, workflowId: workflowId('upgrade-crash'), args: [{ cluster: 'upgrade', version: '8.0.2' }] }));
    await crashAt('upgrade-after-failover:1', () => handle);
    worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: QUEUE }, 'worker-upgrade-crash-after.log');
    return (await handle.result()) as UpgradeRedisReport;
  });
  await expectUpgraded(cluster, outcome, '8.0.2', data);
  expect(outcome.report.failovers).toHaveLength(3);

  // The replace in flight at the first kill ran again (a no-op then), and so did the wait at the second.
  const history = await handle!.fetchHistory();
  const scheduled = new Map<number, string>();
  const attempts: Record<string, number[]> = {};
  for (const e of history.events!) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(Number(e.eventId), s.activityType!.name!);
    const started = e.activityTaskStartedEventAttributes;
    if (started) (attempts[scheduled.get(Number(started.scheduledEventId))!] ??= []).push(started.attempt!);
  }
  // History records the last attempt of each: six replaces, one of them retried.
  expect(attempts.replaceNodeVersion!.sort()).toEqual([1, 1, 1, 1, 1, 2]);
  expect(attempts.awaitRolesSwapped!.sort()).toEqual([1, 1, 2]);
  expect(outcome.report.replaced.filter((r) => !r.changed)).toHaveLength(1);
  await worker!.stop();
  worker = undefined;
});
