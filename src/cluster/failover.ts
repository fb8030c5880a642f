/** Pure decisions of the failover drill: which master, which replica, which canary keys. */
import { referenceView, type NodeObservation } from './health';
import { keyHashSlot, slotInRanges, type SlotRange } from './slots';
import type { ClusterNode } from './nodes';

export interface FailoverTarget {
  master: { id: string; address: string; slots: SlotRange[] };
  replica: { id: string; address: string };
}

/** Replication offsets may trail by what was written in the last moment; beyond this a replica is behind. */
export const MAX_REPLICA_LAG_BYTES = 1024 * 1024;

/**
 * The master to fail over (by id or address; default the first shard that can) and the replica
 * expected to take over: connected, not failing, known as that master's replica by a majority
 * of masters, and caught up with its offset. Throws an Error naming the reason otherwise.
 */
export function chooseFailoverTarget(observations: readonly NodeObservation[], masterRef?: string): FailoverTarget {
  const view = referenceView(observations) ?? [];
  const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0).sort((a, b) => a.slots[0]!.start - b.slots[0]!.start);
  const byAddress = new Map(observations.map((o) => [o.address, o] as const));
  const masterViews = observations.filter((o) => o.view?.find((n) => n.myself)?.role === 'master');

  const problemsOf = (m: ClusterNode): { replica?: ClusterNode; why: string[] } => {
    const why: string[] = [];
    const masterOffset = byAddress.get(m.address)?.replication?.replicationOffset;
    for (const r of view.filter((n) => n.masterId === m.id)) {
      const reasons: string[] = [];
      if (r.flags.some((f) => f === 'fail' || f === 'fail?') || r.linkState !== 'connected') reasons.push('is failing or disconnected');
      const knownBy = masterViews.filter((o) => o.view!.find((n) => n.id === r.id)?.masterId === m.id).length;
      if (knownBy * 2 <= masterViews.length) reasons.push(`is known as its replica by only ${knownBy} of ${masterViews.length} masters`);
      const rep = byAddress.get(r.address)?.replication;
      if (!rep || rep.masterLinkUp !== true) reasons.push('has its master link down');
      else if (masterOffset !== undefined && masterOffset - rep.replicationOffset > MAX_REPLICA_LAG_BYTES) {
        reasons.push(`is ${masterOffset - rep.replicationOffset} bytes behind`);
      }
      if (reasons.length === 0) return { replica: r, why };
      why.push(`replica ${r.address} ${reasons.join(', ')}`);
    }
    if (why.length === 0) why.push('it has no replica');
    return { why };
  };

  if (masterRef !== undefined) {
    const m = masters.find((n) => n.id === masterRef || n.address === masterRef);
    if (!m) {
      throw new Error(`master: no master "${masterRef}" owns slots in this cluster; masters: ${masters.map((n) => `${n.address} (${n.id.slice(0, 8)})`).join(', ')}`);
    }
    const { replica, why } = problemsOf(m);
    if (!replica) throw new Error(`master ${m.address} cannot be failed over safely: ${why.join('; ')}`);
    return { master: { id: m.id, address: m.address, slots: m.slots }, replica: { id: replica.id, address: replica.address } };
  }
  const reasons: string[] = [];
  for (const m of masters) {
    const { replica, why } = problemsOf(m);
    if (replica) return { master: { id: m.id, address: m.address, slots: m.slots }, replica: { id: replica.id, address: replica.address } };
    reasons.push(`${m.address}: ${why.join('; ')}`);
  }
  throw new Error(`no master has an in-sync replica: ${reasons.join(' | ')}`);
}

/** `count` keys whose slots all belong to `slots`, each in its own slot where there are enough. */
export function canaryKeys(slots: readonly SlotRange[], count: number, runId: string): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count && n < count * 100_000; n++) {
    const tag = `c${n}`;
    if (slotInRanges(keyHashSlot(tag), slots)) keys.push(`redisforge:canary:${runId}:{${tag}}`);
  }
  if (keys.length < count) throw new Error(`could not find ${count} canary keys in slots ${JSON.stringify(slots)}`);
  return keys;
}
