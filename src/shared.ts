/**
 * The names workflows, activities and clients share: the task queue, search attributes, the
 * messages of a running operation (queries and updates) and those of the per-cluster lock. It
 * sits below all three, so none of them imports upward to reach another's names. Workflow code
 * imports it, so it stays sandbox-safe: no I/O, no environment read at load.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import {
  ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, defineSearchAttributeKey, SearchAttributeType, TerminatedFailure, TimeoutFailure,
} from '@temporalio/common';

/** The task queue the worker polls unless REDISFORGE_TASK_QUEUE names another. */
export const DEFAULT_TASK_QUEUE = 'redisforge-ops';

/**
 * REDISFORGE_TASK_QUEUE, the variable the worker reads, else DEFAULT_TASK_QUEUE. A function, not
 * a constant: the workflow sandbox has no environment to read when this module loads there.
 */
export function taskQueueFromEnv(env: Record<string, string | undefined>): string {
  return env.REDISFORGE_TASK_QUEUE || DEFAULT_TASK_QUEUE;
}

export const redisClusterKey = defineSearchAttributeKey('RedisCluster', SearchAttributeType.KEYWORD);
export const runbookOperationKey = defineSearchAttributeKey('RunbookOperation', SearchAttributeType.KEYWORD);

export interface Progress {
  operation: string;
  cluster?: string;
  step: string;
  stepsDone: number;
  stepsTotal: number;
  state: 'running' | 'succeeded' | 'failed';
  /**
   * The input is valid and every check before the first change passed (the preflight): from here
   * on the operation acts on the cluster, or waits for its approval to. Absent from workers older
   * than this field.
   */
  checked?: boolean;
  detail?: string;
  /** For operations that move slots. */
  migration?: MigrationProgress;
}

export const progressQuery = defineQuery<Progress>('progress');

/** Progress of a long operation that moves slots (rebalance and what uses it). */
export interface MigrationProgress {
  slotsTotal: number;
  slotsDone: number;
  keysMoved: number;
  keysPerSecond: number;
  etaSeconds?: number;
  paused: boolean;
  aborting: boolean;
  maxKeysPerSecond?: number;
}

/**
 * The controls of a running operation are updates, not signals: each has a validator, so a
 * message that does not apply now (resume when nothing is paused, abort after an approval, approve
 * when nothing waits for one) is refused and the caller is told why, instead of vanishing.
 * Each returns what it did, in words.
 */
/** Pauses at the next safe point (between slot batches, between shards). */
export const pauseUpdate = defineUpdate<string>('pause');
export const resumeUpdate = defineUpdate<string>('resume');
/** Stops at the next safe point, leaving no slot open; at an approval gate, declines. */
export const abortUpdate = defineUpdate<string, [{ reason?: string }]>('abort');
/** Limits the keys moved per second; 0 or null lifts the limit. */
export const throttleUpdate = defineUpdate<string, [{ maxKeysPerSecond: number | null }]>('throttle');

export interface Approval {
  /** Who or what approved, recorded in the history. */
  by: string;
  reason?: string;
}

/** Approves a destructive step a workflow is waiting on; returns what was approved. */
export const approveUpdate = defineUpdate<string, [Approval]>('approve');

/** How long an approval gate waits before it declines, unless the input says otherwise. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 86_400;

/*
 * The per-cluster lock (see src/workflows/clusterLock.ts): asked by the acquireClusterLock
 * activity, released by releaseClusterLock, queried by tests and operators.
 */

/** The lock workflow's type: the name of its function in src/workflows/clusterLock.ts. */
export const LOCK_WORKFLOW_TYPE = 'clusterLock';

export function lockWorkflowId(cluster: string): string {
  return `redisforge-lock-${cluster}`;
}

export interface LockHolder {
  workflowId: string;
  runId: string;
  operation: string;
  /** ISO time the grant was made. */
  since: string;
}

export interface LockRequest {
  workflowId: string;
  runId: string;
  operation: string;
  /** A child is granted what its parent holds. */
  parentWorkflowId?: string;
  /** Take the lock from this holder: it has closed without releasing (terminated). */
  staleHolder?: string;
}

export interface LockReply {
  granted: boolean;
  holder: LockHolder;
}

export const acquireLockUpdate = defineUpdate<LockReply, [LockRequest]>('acquire');
export const releaseLockSignal = defineSignal<[{ workflowId: string }]>('release');
export const lockHolderQuery = defineQuery<LockHolder | undefined>('holder');

/**
 * The most specific account of a failure, as an operator needs it at 3 a.m.: through the child
 * workflow and activity wrappers down to what really failed (an activity's own error with its
 * node and Redis's reply, or its timeout with its last heartbeat), prefixed with where:
 * "child rebalance abc-rebalance: migrateSlots: MIGRATE ... ERR ...". Workflows (the drill's
 * report) and clients (every failure line of the CLI) describe failures with it alike.
 */
export function describeFailure(err: unknown): { type: string; message: string } {
  const where: string[] = [];
  let failure = err;
  while (failure instanceof ChildWorkflowFailure && failure.cause) {
    where.push(`child ${failure.workflowType} ${failure.execution.workflowId}: `);
    failure = failure.cause;
  }
  const at = where.join('');
  if (failure instanceof ActivityFailure) {
    const cause = failure.cause;
    if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ActivityFailed', message: `${at}${failure.activityType}: ${cause.message}` };
    if (cause instanceof TimeoutFailure) {
      const beat = cause.lastHeartbeatDetails === undefined ? 'no heartbeat' : `last heartbeat ${JSON.stringify(cause.lastHeartbeatDetails)}`;
      return { type: 'ActivityTimedOut', message: `${at}${failure.activityType} timed out (${cause.timeoutType}); ${beat}` };
    }
    return { type: 'ActivityFailed', message: `${at}${failure.activityType}: ${cause?.message ?? failure.message}` };
  }
  if (failure instanceof ApplicationFailure) return { type: failure.type ?? 'Failed', message: `${at}${failure.message}` };
  if (failure instanceof TerminatedFailure) return { type: 'Terminated', message: `${at}terminated${failure.message ? `: ${failure.message}` : ''}` };
  if (failure instanceof CancelledFailure) return { type: 'Cancelled', message: `${at}cancelled` };
  if (failure instanceof TimeoutFailure) return { type: 'TimedOut', message: `${at}timed out (${String(failure.timeoutType)})` };
  return { type: 'Failed', message: `${at}${(failure as Error | undefined)?.message ?? String(failure)}` };
}
