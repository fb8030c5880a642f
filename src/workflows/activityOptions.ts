/**
 * Every activity option set of the workflows, side by side, each named by what it runs and what
 * bounds it. A set decides how long one attempt may take, how soon a dead worker is noticed
 * (the heartbeat timeout) and how often a failure is tried again; none of it is recorded as a
 * command, so changing a set does not change replay.
 */
import { ActivityCancellationType, proxyActivities as proxyOnWorkflowQueue, type ActivityInterfaceFor, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';

/** A set of the activities under one set of options. */
export type ActivitySet = ActivityInterfaceFor<Activities>;

/** Each set's options, so the same set can be sent to a host agent's queue (see onTaskQueue). */
const OPTIONS = new WeakMap<ActivitySet, ActivityOptions>();

function proxyActivities<A extends Activities>(options: ActivityOptions): ActivitySet {
  const set = proxyOnWorkflowQueue<A>(options);
  OPTIONS.set(set, options);
  return set;
}

/**
 * `set` with its options, on another task queue (a host agent's), and bounded in how long an
 * attempt may wait there to be taken: a queue nobody polls fails the activity at that bound
 * (a ScheduleToStart timeout, never retried) rather than leaving it waiting out of sight.
 */
export function onTaskQueue(set: ActivitySet, taskQueue: string, scheduleToStartSeconds: number): ActivitySet {
  const options = OPTIONS.get(set);
  if (!options) throw new Error('onTaskQueue: not an activity set of activityOptions.ts');
  return proxyOnWorkflowQueue<Activities>({ ...options, taskQueue, scheduleToStartTimeout: `${scheduleToStartSeconds} seconds` });
}

/** Failures that another attempt cannot fix: the workflow sees them at once. */
const NON_RETRYABLE = ['InvalidInput', 'ClusterAlreadyFormed', 'WaitTimedOut', 'PreflightFailed', 'LargeKeys', 'ClusterBusy'];

/**
 * The shared sets wait for a cancelled activity to stop before the workflow goes on, so cleanup
 * (closing slots, restarting a node, releasing the cluster) never races the activity it cleans
 * up after.
 */
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** Five attempts half a second apart: for steps that either work at once or fail for a reason another try fixes. */
const FIVE_PROMPT_ATTEMPTS: RetryPolicy = { initialInterval: '500 ms', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE };

/** Single Redis commands and inventory lookups: one minute an attempt, five attempts. */
export const redisCallsWithinAMinute = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  cancellationType,
  retry: FIVE_PROMPT_ATTEMPTS,
});

/**
 * upgradeRedis's reading of every node's version, which first pulls the target's image onto
 * every engine that lacks it: fifteen minutes an attempt (an image over a slow link), heartbeating,
 * three attempts (a refused pull fails at once, PreflightFailed).
 */
export const imagePullsWithinFifteenMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType,
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Creating, resetting or removing a node (provisionNode, resetNode, deprovisionNode), three
 * minutes an attempt: they heartbeat, so a worker that died in one is noticed within seconds
 * rather than at the timeout.
 */
export const nodeLifecycleWithinThreeMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType,
  retry: FIVE_PROMPT_ATTEMPTS,
});

/** Slot migration batches and closing open slots: thirty minutes an attempt, heartbeating. */
export const slotMigrationWithinThirtyMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType,
  // A batch resumes where it stopped, so retrying is safe; a failure that outlasts ten tries
  // (several minutes) ends the workflow with its message rather than retrying out of sight.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE, 'TopologyChanged'] },
});

/**
 * Activities that poll until Redis reaches a state, bounded by the wait they are given
 * (`timeoutSeconds`, usually the input's) plus a minute for the activity's own connects.
 */
export function pollingWithin(timeoutSeconds: number): ActivitySet {
  return proxyActivities<Activities>({
    startToCloseTimeout: `${timeoutSeconds + 60} seconds`,
    // Short, so a worker that died mid-wait is noticed within seconds and the wait resumes elsewhere.
    heartbeatTimeout: '5 seconds',
    cancellationType,
    retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
  });
}

/**
 * createCluster's forming steps, five minutes an attempt: they heartbeat, so a worker that died
 * in one is noticed within seconds and the step runs again (each is idempotent).
 */
export const clusterFormingWithinFiveMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '5 seconds',
  cancellationType,
  retry: { initialInterval: '500 ms', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'ClusterAlreadyFormed'] },
});

/**
 * failoverTest's drill steps (stopping and starting nodes, canary reads and writes), five
 * minutes an attempt: they heartbeat, so a worker that died in the middle is noticed in seconds
 * and the step runs again (each is idempotent).
 */
export const drillStepsWithinFiveMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType,
  retry: { initialInterval: '500 ms', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'WaitTimedOut', 'PreflightFailed', 'ClusterBusy'] },
});

/** Cleanup after a failed drill: three tries of a minute, so a cluster that is down does not hold the failure back. */
export const drillCleanupWithinAMinute = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

/**
 * A backup's data streamed between a node and the store in one activity: six hours an attempt
 * (a large shard takes long), heartbeating, so a dead worker is noticed in seconds.
 */
const STREAMING_A_SHARD: ActivityOptions = { startToCloseTimeout: '6 hours', heartbeatTimeout: '10 seconds', cancellationType };

/**
 * Whatever writes a backup to the store (a shard's AOF, the manifest, retention): six hours an
 * attempt, as a shard's data is streamed in one; heartbeating, so a dead worker is noticed in
 * seconds; a retry starts a shard over with the same object key.
 */
export const backupUploadWithinSixHours = proxyActivities<Activities>({
  // Cancelled, an upload stops before the workflow puts the rewrite setting back and discards its objects.
  ...STREAMING_A_SHARD,
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 3, nonRetryableErrorTypes: ['InvalidInput', 'PreflightFailed', 'WaitTimedOut'] },
});

/** Putting a node's AOF rewrite setting back after a backup: fifteen seconds, so a node that stopped answering delays the next candidate by seconds. */
export const rewriteSettingRestoreWithinFifteenSeconds = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 2 },
});

/**
 * Reading a backup back from the store (checksums, each node's data streamed into its data
 * directory): six hours an attempt, heartbeating, five attempts.
 */
export const backupDownloadWithinSixHours = proxyActivities<Activities>({
  // A cancelled restore (or verifyBackup drill) waits for the copy to stop before anything tears its nodes down.
  ...STREAMING_A_SHARD,
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'PreflightFailed'] },
});

/**
 * upgradeRedis: replacing a Redis node with another version. Ten minutes an attempt, twice the
 * proxy's: the runtime waits for the restarted node to answer, after it loaded its dataset from
 * its AOF, and a node that does not come up is put back on its old version in the same attempt
 * (two restarts). Heartbeats prove the worker alive.
 */
export const redisNodeReplacementWithinTenMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'TopologyChanged'] },
});

/**
 * upgradeEnvoy: stopping a proxy and creating its new container (or rolling back to the old
 * one). Five minutes an attempt: a proxy holds no data to load, and its readiness is awaited in
 * a step of its own.
 */
export const proxyReplacementWithinFiveMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'ProxyNotFound'] },
});

/**
 * clusterHealth's big-key scan on replicas: each shard's scan stops at its own budget (at most
 * ten minutes), so fifteen minutes an attempt, heartbeating; a read-only scan is simply run again.
 */
export const keyScansWithinFifteenMinutes = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType,
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
