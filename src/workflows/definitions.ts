/**
 * The names a client shares with the workflows: queries and search attributes. Safe to import
 * from client code (no activity proxies are created here).
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const redisClusterKey = defineSearchAttributeKey('RedisCluster', SearchAttributeType.KEYWORD);
export const runbookOperationKey = defineSearchAttributeKey('RunbookOperation', SearchAttributeType.KEYWORD);

export interface Progress {
  operation: string;
  cluster?: string;
  step: string;
  stepsDone: number;
  stepsTotal: number;
  state: 'running' | 'succeeded' | 'failed';
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
