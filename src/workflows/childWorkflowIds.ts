/**
 * The ids of child workflows, derived from their parent's, so a retried parent finds its child
 * again and the SDK, by the same function, finds the child that moves a parent's slots to send
 * it the controls (pause, resume, abort, throttle). Pure, so clients import it too.
 */

/** What a child does for its parent, and the id suffix it gets for it. */
const CHILD_SUFFIXES = {
  /** addNode moving slots onto its new master. */
  rebalance: '-rebalance',
  /** removeNode emptying a master before it goes. */
  drain: '-drain',
  /** verifyBackup restoring into its scratch cluster. */
  restore: '-restore',
} as const;

export type ChildPurpose = keyof typeof CHILD_SUFFIXES;

export function childWorkflowId(parentWorkflowId: string, purpose: ChildPurpose): string {
  return `${parentWorkflowId}${CHILD_SUFFIXES[purpose]}`;
}
