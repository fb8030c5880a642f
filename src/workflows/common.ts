/**
 * What every workflow shares: input validation, the progress query, the Web UI details and
 * the search attributes RedisCluster and RunbookOperation.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  patched,
  sleep,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { z } from 'zod';
import type { Activities, ClusterSpec } from '../activities';
import { addressInInventory } from '../cluster';
import { formatIssues } from '../validation';
import { progressQuery, redisClusterKey, runbookOperationKey, type MigrationProgress, type Progress } from './definitions';

export { progressQuery, type Progress } from './definitions';

const NON_RETRYABLE = ['InvalidInput', 'ClusterAlreadyFormed', 'WaitTimedOut', 'PreflightFailed', 'LargeKeys', 'ClusterBusy'];

/**
 * Every activity option set waits for a cancelled activity to stop before the workflow goes on,
 * so cleanup (closing slots, restarting a node, releasing the cluster) never races the activity
 * it cleans up after.
 */
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** Short Redis calls. */
export const quick = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  cancellationType,
  retry: { initialInterval: '500 ms', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Steps that create, reset or remove a node (provisionNode, resetNode, deprovisionNode): they
 * heartbeat, so a worker that died in one is noticed within seconds rather than at a timeout.
 */
export const nodeSteps = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType,
  retry: { initialInterval: '500 ms', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Slot migration batches: long, heartbeating every second, retried until they succeed. */
export const migrating = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType,
  // A batch resumes where it stopped, so retrying is safe; a failure that outlasts ten tries
  // (several minutes) ends the workflow with its message rather than retrying out of sight.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE, 'TopologyChanged'] },
});

/** Activities that poll until Redis reaches a state; they heartbeat every round. */
export function waiting(timeoutSeconds: number): Activities {
  const options: ActivityOptions = {
    startToCloseTimeout: `${timeoutSeconds + 60} seconds`,
    // Short, so a worker that died mid-wait is noticed within seconds and the wait resumes elsewhere.
    heartbeatTimeout: '5 seconds',
    cancellationType,
    retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
  };
  return proxyActivities<Activities>(options);
}

/** How often an operation that may wait for a busy cluster asks again. */
const LOCK_RETRY_MS = 15_000;

export function invalidInput(problems: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'InvalidInput',
    nonRetryable: true,
    message: `invalid input: ${problems.join('; ')}`,
    details: [{ problems }],
  });
}

/**
 * Problems with addresses an input names for new members (addNode's address, createCluster's
 * nodes): each must be a node of the cluster in the inventory or fall in its spareNodes, since the
 * worker would connect there with the cluster's credentials.
 */
export function addressesOutsideInventory(named: Record<string, string>, spec: Pick<ClusterSpec, 'name' | 'nodes' | 'spareNodes'>): string[] {
  // Specs recorded before spareNodes existed (old histories) have none.
  const spare = (spec.spareNodes as string[] | undefined) ?? [];
  return Object.entries(named)
    .filter(([, address]) => !addressInInventory(address, spec.nodes, spare))
    .map(([field, address]) => `${field}: "${address}" is not a node of cluster ${spec.name} in the worker's inventory, nor in its spareNodes (${spare.join(', ') || 'none'}); add it to clusters.${spec.name}.spareNodes (or clusters.${spec.name}.nodes) first`);
}

/** Validates a workflow's one JSON input; a bad one fails the workflow at once, naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) throw invalidInput(formatIssues(result.error));
  return result.data;
}

/** An activity's non-retryable ApplicationFailure becomes the workflow's own failure, unwrapped. */
export function surfaceActivityFailure(err: unknown): never {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
    throw ApplicationFailure.create({ type: err.cause.type ?? undefined, nonRetryable: true, message: err.cause.message, details: err.cause.details as unknown[] });
  }
  throw err;
}

/** Tracks the runbook steps of one operation for the progress query and the Web UI. */
export class Operation {
  private progress: Progress;
  /** The cluster this operation holds (see lock()), released when it ends. */
  private locked?: string;

  constructor(
    operation: string,
    private readonly steps: readonly string[],
  ) {
    this.progress = { operation, step: 'validating input', stepsDone: 0, stepsTotal: steps.length, state: 'running' };
    setHandler(progressQuery, () => this.progress);
    this.render();
  }

  /** Records the cluster in the search attributes, so the Web UI can filter by it. */
  forCluster(cluster: string): void {
    this.progress = { ...this.progress, cluster };
    upsertSearchAttributes([
      { key: redisClusterKey, value: cluster },
      { key: runbookOperationKey, value: this.progress.operation },
    ]);
    this.render();
  }

  /**
   * Takes the cluster for this operation: one mutating operation at a time per cluster. A
   * second one is refused (ClusterBusy) with the name of the one running; read-only checks
   * and dry runs do not call this. With `waitMs`, a busy cluster is asked again every 15 s
   * until that much time has passed.
   */
  async lock(cluster: string, { waitMs = 0 }: { waitMs?: number } = {}): Promise<void> {
    // Runs recorded before the guard existed replay without it.
    if (!patched('one-operation-per-cluster')) return;
    const info = workflowInfo();
    const request = { workflowId: info.workflowId, runId: info.runId, operation: this.progress.operation, parentWorkflowId: info.parent?.workflowId };
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        await quick.acquireClusterLock(cluster, request);
        break;
      } catch (err) {
        const busy = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ClusterBusy';
        if (!busy || Date.now() >= deadline) surfaceActivityFailure(err);
        this.step(this.progress.step, `waiting for the cluster: ${(err as ActivityFailure).cause!.message}`);
        await sleep(Math.min(LOCK_RETRY_MS, Math.max(deadline - Date.now(), 1)));
      }
    }
    this.locked = cluster;
  }

  step(step: string, detail?: string): void {
    const index = this.steps.indexOf(step);
    this.progress = { ...this.progress, step, stepsDone: Math.max(index, 0), detail };
    this.render();
  }

  /** Progress of slot moves, shown by the progress query and in the Web UI. */
  progressOf(migration: MigrationProgress, detail: string): void {
    this.progress = { ...this.progress, migration, detail };
    this.render();
  }

  finish(state: 'succeeded' | 'failed', detail?: string): void {
    this.progress = { ...this.progress, step: state, stepsDone: state === 'succeeded' ? this.steps.length : this.progress.stepsDone, state, detail };
    this.render();
  }

  /** Runs `body`, marking the operation failed in the UI if it throws. */
  async run<T>(body: () => Promise<T>): Promise<T> {
    let continuing = false;
    try {
      return await body();
    } catch (err) {
      // Continuing as new is how a long operation goes on, not a failure; it keeps the cluster.
      continuing = err instanceof ContinueAsNew;
      // A cancellation's own message says what was undone on the way out (e.g. a node restarted).
      if (!continuing) this.finish('failed', isCancellation(err) ? (err as Error).message || 'cancelled' : (err as Error).message);
      throw err;
    } finally {
      const cluster = this.locked;
      // Released even when the operation was cancelled; by now its activities have stopped
      // (WAIT_CANCELLATION_COMPLETED), so the next operation cannot overlap them.
      if (cluster && !continuing) await CancellationScope.nonCancellable(() => quick.releaseClusterLock(cluster, workflowInfo().workflowId));
    }
  }

  private render(): void {
    const p = this.progress;
    const lines = [
      `**${p.operation}**${p.cluster ? ` on cluster \`${p.cluster}\`` : ''}: ${p.state}`,
      '',
      `Step ${Math.min(p.stepsDone + (p.state === 'running' ? 1 : 0), p.stepsTotal)} of ${p.stepsTotal}: ${p.step}`,
      ...(p.detail ? ['', p.detail] : []),
      '',
      ...this.steps.map((s, i) => `${i < p.stepsDone ? '- [x]' : '- [ ]'} ${s}`),
    ];
    setCurrentDetails(lines.join('\n'));
  }
}
