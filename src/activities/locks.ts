/**
 * The guard's two activities: ask a cluster's lock workflow for the cluster (starting it when
 * none runs) and give it back. A holder that closed without releasing (terminated) is stale:
 * its lock is taken over, so a crash never leaves a cluster locked for good. The Temporal client
 * is the worker's, handed in (a provider, so an activity set built without one, as some tests
 * build it, fails only if a lock activity is called).
 */
import { ApplicationFailure } from '@temporalio/common';
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { acquireLockUpdate, LOCK_WORKFLOW_TYPE, lockHolderQuery, lockWorkflowId, releaseLockSignal, type LockHolder, type LockRequest } from '../shared';

export function createLockActivities(clientFor: () => Promise<Client>, taskQueue: () => string) {
  async function ask(cluster: string, req: LockRequest) {
    const client = await clientFor();
    return client.workflow.executeUpdateWithStart(acquireLockUpdate, {
      args: [req],
      startWorkflowOperation: new WithStartWorkflowOperation(LOCK_WORKFLOW_TYPE, {
        workflowId: lockWorkflowId(cluster),
        taskQueue: taskQueue(),
        args: [{ cluster }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  }

  /**
   * A holder is stale only when its workflow id has no running execution: the latest run is
   * asked (a holder that continued as new or was reset runs on under a new run id), and only
   * "not found" or a closed run counts. Any other error is retried, never read as stale.
   */
  async function holderHasEnded(holder: LockHolder): Promise<boolean> {
    const client = await clientFor();
    try {
      const description = await client.workflow.getHandle(holder.workflowId).describe();
      return description.status.name !== 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return true;
      throw err;
    }
  }

  return {
    /** Grants the cluster to the calling operation, or fails (not retried) naming the one that holds it. */
    async acquireClusterLock(cluster: string, req: LockRequest): Promise<LockHolder> {
      let reply = await ask(cluster, req);
      if (!reply.granted && (await holderHasEnded(reply.holder))) reply = await ask(cluster, { ...req, staleHolder: reply.holder.workflowId });
      if (reply.granted) return reply.holder;
      const h = reply.holder;
      throw ApplicationFailure.create({
        type: 'ClusterBusy',
        nonRetryable: true,
        message:
          `cluster ${cluster} is busy: ${h.operation} (workflow ${h.workflowId}) has been running on it since ${h.since}; ` +
          `one operation at a time per cluster: wait for it to finish, or stop it (the abort update where it has one: redisforge abort ${h.workflowId}, else temporal workflow cancel --workflow-id ${h.workflowId})`,
        details: [{ holder: h }],
      });
    },

    /** Who holds the cluster now, if anyone (a holder whose workflow has ended does not count). Changes nothing. */
    async clusterLockHolder(cluster: string): Promise<LockHolder | undefined> {
      const client = await clientFor();
      let holder: LockHolder | undefined;
      try {
        holder = await client.workflow.getHandle(lockWorkflowId(cluster)).query(lockHolderQuery);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError || (err as Error).name === 'QueryNotRegisteredError') return undefined;
        throw err;
      }
      return holder && !(await holderHasEnded(holder)) ? holder : undefined;
    },

    async releaseClusterLock(cluster: string, workflowId: string): Promise<void> {
      const client = await clientFor();
      await client.workflow
        .getHandle(lockWorkflowId(cluster))
        .signal(releaseLockSignal, { workflowId })
        .catch((err: Error) => {
          // Nothing to release when the lock workflow has ended.
          if (err.name !== 'WorkflowNotFoundError') throw err;
        });
    },
  };
}
