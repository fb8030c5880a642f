/**
 * The crash matrix's one scenario: a workflow run by a chain of workers, each SIGKILLed at one
 * point (REDISFORGE_KILL_AT, see test/harness/faults.ts), then finished by a worker without one.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { password } from '../harness/cluster';
import { startWorker, type WorkerProcess } from '../harness/worker';

export interface KillChainResult<T> {
  handle: WorkflowHandle;
  result: T;
  /** Per activity type, the attempt numbers history recorded for its calls. */
  attempts: Record<string, number[]>;
}

/**
 * Starts the workflow with `start` on the first worker; each worker must die at its point (a
 * workflow that ended first fails the test with its outcome). `env` is for every worker.
 */
export async function runThroughKills<T>(
  queue: string,
  points: readonly string[],
  start: () => Promise<WorkflowHandle>,
  env: NodeJS.ProcessEnv = {},
  logPrefix = `worker-${queue}`,
): Promise<KillChainResult<T>> {
  let handle: WorkflowHandle | undefined;
  let worker: WorkerProcess | undefined;
  try {
    for (const point of points) {
      worker = await startWorker(password(), { ...env, REDISFORGE_TASK_QUEUE: queue, REDISFORGE_KILL_AT: point }, `${logPrefix}-${point.replace(/:/g, '-')}.log`);
      const exited = new Promise<string>((resolve) => worker!.child.once('exit', () => resolve('killed')));
      handle ??= await start();
      const outcome = await Promise.race([exited, handle.result().then(() => 'finished', (e: Error) => `failed: ${(e.cause as Error | undefined)?.message ?? e.message}`)]);
      expect(`${point}: ${outcome}`).toBe(`${point}: killed`);
      worker = undefined;
    }
    worker = await startWorker(password(), { ...env, REDISFORGE_TASK_QUEUE: queue }, `${logPrefix}-last.log`);
    const result = (await handle!.result()) as T;
    return { handle: handle!, result, attempts: await activityAttempts(handle!) };
  } finally {
    await worker?.stop('SIGKILL');
  }
}

/** Per activity type, the attempt of each call as history recorded it (the last attempt only). */
export async function activityAttempts(handle: WorkflowHandle): Promise<Record<string, number[]>> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<number, string>();
  const attempts: Record<string, number[]> = {};
  for (const e of history.events!) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(Number(e.eventId), s.activityType!.name!);
    const started = e.activityTaskStartedEventAttributes;
    if (started) (attempts[scheduled.get(Number(started.scheduledEventId))!] ??= []).push(started.attempt!);
  }
  return attempts;
}
