/**
 * The slot map one node's CLUSTER NODES view describes: who owns each slot, and a signature
 * that is equal for two views exactly when they agree on every owner.
 */
import type { ClusterNode } from './nodes';
import { formatSlotRanges, SLOT_COUNT } from './slots';

/** For every slot the owning master id, or '' when unassigned. */
export function slotOwners(view: readonly ClusterNode[]): string[] {
  const owners = new Array<string>(SLOT_COUNT).fill('');
  for (const node of view) {
    if (node.role !== 'master') continue;
    for (const r of node.slots) for (let s = r.start; s <= r.end; s++) owners[s] = node.id;
  }
  return owners;
}

export function slotMapSignature(view: readonly ClusterNode[]): string {
  return view
    .filter((n) => n.role === 'master' && n.slots.length > 0)
    .map((n) => `${n.id}=${formatSlotRanges(n.slots)}`)
    .sort()
    .join(';');
}

/** Masters that can serve their slots: not flagged fail in the view. */
export function servingMasters(view: readonly ClusterNode[]): ClusterNode[] {
  return view.filter((n) => n.role === 'master' && !n.flags.includes('fail'));
}
