/**
 * One runbook operation as it runs: its steps for the progress query and the Web UI, and the
 * cluster it holds (one mutating operation per cluster), released when it ends.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, ContinueAsNew, isCancellation, log, patched, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import { redisCallsWithinAMinute } from './activityOptions';
import { progressQuery, type MigrationProgress, type Progress } from '../shared';
import { surfaceActivityFailure } from './failures';
import { renderProgressDetails } from './progressDetails';
import { operationFinished, operationStarted, type Outcome } from './metrics';
import { tagOperation } from './searchAttributes';

/** How often an operation that may wait for a busy cluster asks again. */
const LOCK_RETRY_MS = 15_000;

/** Tracks the runbook steps of one operation for the progress query and the Web UI. */
export class Operation {
  private progress: Progress;
  /** The cluster this operation holds (see lock()), released when it ends. */
  private locked?: string;

  /**
   * `checks`: how many of the first steps only check and plan (preflight). Once the operation
   * enters a later step (or, with 0, its first), its input was valid and every check passed:
   * the progress says `checked`, and a client that starts it may return.
   */
  constructor(
    operation: string,
    private readonly steps: readonly string[],
    private readonly options: { checks?: number } = {},
  ) {
    this.progress = { operation, step: 'validating input', stepsDone: 0, stepsTotal: steps.length, state: 'running', checked: false };
    setHandler(progressQuery, () => this.progress);
    this.render();
  }

  /** Records the cluster in the progress and the search attributes, so the Web UI can filter by it. */
  recordCluster(cluster: string): void {
    this.progress = { ...this.progress, cluster };
    tagOperation(cluster, this.progress.operation);
    // Counted once per operation: a run continued as new goes on with the one that started it.
    if (!workflowInfo().continuedFromExecutionRunId) operationStarted(cluster);
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
        await redisCallsWithinAMinute.acquireClusterLock(cluster, request);
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
    // The worker's log tells the story too (the workflow logger adds the workflow and run ids,
    // and is quiet on replay): each step as it starts, at info; what changes within it, at debug.
    const entering = step !== this.progress.step;
    log[entering ? 'info' : 'debug'](`${this.subject()}: ${index >= 0 ? `step ${index + 1}/${this.steps.length} ` : ''}${step}${detail ? `: ${detail}` : ''}`);
    const checked = this.progress.checked || index >= (this.options.checks ?? 0);
    this.progress = { ...this.progress, step, stepsDone: Math.max(index, 0), detail, checked };
    this.render();
  }

  /** Records the progress of slot moves, shown by the progress query and in the Web UI. */
  recordMigration(migration: MigrationProgress, detail: string): void {
    this.progress = { ...this.progress, migration, detail };
    this.render();
  }

  finish(state: 'succeeded' | 'failed', detail?: string, outcome: Outcome = state): void {
    log[state === 'failed' ? 'warn' : 'info'](`${this.subject()}: ${state}${detail ? `: ${detail}` : ''}`);
    if (this.progress.cluster && this.progress.state === 'running') operationFinished(this.progress.cluster, outcome, Date.now() - workflowInfo().startTime.getTime());
    const checked = this.progress.checked || state === 'succeeded';
    this.progress = { ...this.progress, step: state, stepsDone: state === 'succeeded' ? this.steps.length : this.progress.stepsDone, state, detail, checked };
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
      if (!continuing) this.finish('failed', isCancellation(err) ? (err as Error).message || 'cancelled' : (err as Error).message, isCancellation(err) ? 'cancelled' : 'failed');
      throw err;
    } finally {
      const cluster = this.locked;
      // Released even when the operation was cancelled; by now its activities have stopped
      // (WAIT_CANCELLATION_COMPLETED), so the next operation cannot overlap them.
      if (cluster && !continuing) await CancellationScope.nonCancellable(() => redisCallsWithinAMinute.releaseClusterLock(cluster, workflowInfo().workflowId));
    }
  }

  /** "restoreCluster main", for the log. */
  private subject(): string {
    return `${this.progress.operation}${this.progress.cluster ? ` ${this.progress.cluster}` : ''}`;
  }

  private render(): void {
    setCurrentDetails(renderProgressDetails(this.progress, this.steps));
  }
}
