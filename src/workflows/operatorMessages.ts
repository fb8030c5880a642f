/**
 * Which operator messages each runbook workflow handles: the one table the workflows install
 * their handlers from (RunControls, ApprovalGate take only a workflow this table allows) and
 * the SDK and CLI read to send a message where it applies. Pure, so clients import it too.
 */
import type { ChildPurpose } from './childWorkflowIds';

/** The updates an operator sends a running operation (see src/shared.ts for their definitions). */
export type OperatorMessage = 'approve' | 'pause' | 'resume' | 'abort' | 'throttle';

export const HANDLED_MESSAGES = {
  clusterHealth: [],
  createCluster: [],
  failoverTest: [],
  addNode: [],
  // abort declines the approval a dead master's slots need.
  removeNode: ['approve', 'abort'],
  rebalance: ['pause', 'resume', 'abort', 'throttle'],
  backupCluster: [],
  restoreCluster: ['approve', 'abort'],
  verifyBackup: [],
  repairCluster: ['approve', 'abort'],
  routingCheck: [],
  upgradeRedis: ['pause', 'resume', 'abort'],
  upgradeEnvoy: [],
  configureAcl: ['approve', 'abort'],
  rotateCredentials: [],
} as const satisfies Record<string, readonly OperatorMessage[]>;

export type HandlingWorkflow = keyof typeof HANDLED_MESSAGES;

/** The workflows that handle message `M` themselves. */
export type WorkflowsHandling<M extends OperatorMessage> = {
  [W in HandlingWorkflow]: M extends (typeof HANDLED_MESSAGES)[W][number] ? W : never;
}[HandlingWorkflow];

export function handlesMessage(workflow: HandlingWorkflow, message: OperatorMessage): boolean {
  return (HANDLED_MESSAGES[workflow] as readonly OperatorMessage[]).includes(message);
}

export function workflowsHandling<M extends OperatorMessage>(message: M): WorkflowsHandling<M>[] {
  return (Object.keys(HANDLED_MESSAGES) as HandlingWorkflow[]).filter((w) => handlesMessage(w, message)) as WorkflowsHandling<M>[];
}

/**
 * Workflows whose slot moves run in a rebalance child (started under childWorkflowId(id, purpose)):
 * while it runs, the rebalance's controls (pause, resume, abort, throttle) go to it.
 */
export const SLOT_MOVING_CHILD = { addNode: 'rebalance', removeNode: 'drain' } as const satisfies Partial<Record<HandlingWorkflow, ChildPurpose>>;
