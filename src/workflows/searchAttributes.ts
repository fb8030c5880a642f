/** The search attributes an operation sets on itself, so the Web UI and `redisforge list` can filter by them. */
import { upsertSearchAttributes } from '@temporalio/workflow';
import { redisClusterKey, runbookOperationKey } from '../shared';

/** Sets RedisCluster and RunbookOperation on the running workflow. */
export function tagOperation(cluster: string, operation: string): void {
  upsertSearchAttributes([
    { key: redisClusterKey, value: cluster },
    { key: runbookOperationKey, value: operation },
  ]);
}
