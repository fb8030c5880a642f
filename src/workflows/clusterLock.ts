/**
 * One mutating operation at a time per cluster, however it was started (CLI, Web UI, SDK,
 * Schedule). Each cluster has a lock workflow, id "redisforge-lock-<cluster>", started on
 * demand: an operation asks it (an update, sent by the acquireClusterLock activity) and is
 * granted the cluster or told who holds it. The operation's children (a removeNode's drain)
 * share their parent's grant. The lock workflow ends once the holder releases it. Its id and
 * messages are in src/shared, where the activities and clients find them too.
 */
import { allHandlersFinished, condition, setHandler } from '@temporalio/workflow';
import { acquireLockUpdate, lockHolderQuery, releaseLockSignal, type LockHolder } from '../shared';

export async function clusterLock(input: { cluster: string }): Promise<{ cluster: string; lastHolder?: LockHolder }> {
  let holder: LockHolder | undefined;
  let lastHolder: LockHolder | undefined;
  setHandler(acquireLockUpdate, (req) => {
    const mine = holder && (holder.workflowId === req.workflowId || holder.workflowId === req.parentWorkflowId);
    if (mine) return { granted: true, holder: holder! };
    if (!holder || holder.workflowId === req.staleHolder) {
      holder = { workflowId: req.workflowId, runId: req.runId, operation: req.operation, since: new Date().toISOString() };
      lastHolder = holder;
      return { granted: true, holder };
    }
    return { granted: false, holder };
  });
  setHandler(releaseLockSignal, ({ workflowId }) => {
    if (holder?.workflowId === workflowId) holder = undefined;
  });
  setHandler(lockHolderQuery, () => holder);
  // Held from the first grant until released; then done (the next operation starts a new run).
  await condition(() => holder !== undefined);
  await condition(() => holder === undefined);
  await condition(allHandlersFinished);
  return { cluster: input.cluster, lastHolder };
}
