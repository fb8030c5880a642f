/**
 * The names a client shares with the workflows: queries and search attributes. Safe to import
 * from client code (no activity proxies are created here).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
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

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Stops after the slots in flight, leaving no slot open. */
export const abortSignal = defineSignal<[{ reason?: string }?]>('abort');
/** Limits the keys moved per second; 0 or null lifts the limit. */
export const throttleSignal = defineSignal<[{ maxKeysPerSecond: number | null }]>('throttle');

export interface Approval {
  /** Who or what approved, recorded in the history. */
  by: string;
  reason?: string;
}

/** Approves a destructive step a workflow is waiting on; returns what was approved. */
export const approveUpdate = defineUpdate<string, [Approval]>('approve');
