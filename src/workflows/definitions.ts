/**
 * The names a client shares with the workflows: queries and search attributes. Safe to import
 * from client code (no activity proxies are created here).
 */
import { defineQuery } from '@temporalio/workflow';
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
}

export const progressQuery = defineQuery<Progress>('progress');
