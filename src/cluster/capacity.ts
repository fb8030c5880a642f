/**
 * Capacity-aware resharding, pure: how many bytes each slot holds (its key count times the
 * mean size of a sample of its keys), a rebalance plan that evens out memory instead of slot counts, and
 * whether the masters that receive slots have the headroom under maxmemory to take them.
 */
import { countSlots, rangesFromSlots, slotsOf, type SlotRange } from './slots';
import type { RebalancePlan, SlotMove } from './rebalance';

/** What a master holds: its used memory and limit (INFO memory) and the estimated bytes of each slot it owns. */
export interface MasterLoad {
  id: string;
  address: string;
  slots: SlotRange[];
  usedBytes: number;
  /** 0 when the node has no limit. */
  maxmemory: number;
  /**
   * Slots with keys and their estimated bytes, as [slot, bytes, slot, bytes, ...] (compact through
   * Temporal): the slot's key count times the mean MEMORY USAGE of a few of its keys.
   */
  slotBytes: number[];
}

/** Estimated bytes per slot of one master. */
export function slotBytesOf(load: MasterLoad): Map<number, number> {
  const bytes = new Map<number, number>();
  for (let i = 0; i + 1 < load.slotBytes.length; i += 2) bytes.set(load.slotBytes[i]!, load.slotBytes[i + 1]!);
  return bytes;
}

export interface MemoryPlan extends RebalancePlan {
  /** Estimated dataset bytes per master id, before and after the moves. */
  memory: { before: Record<string, number>; after: Record<string, number> };
}

/**
 * A plan that moves slots until each master's data is within `thresholdPercent` of its share by
 * weight (a weight of 0 drains). Donors give their highest slots with keys first; a slot moves
 * only to a master still short by at least half of it, so a single heavy slot (a hot hash tag, a
 * big key) stays where it is rather than making the receiver the new outlier.
 */
export function planMemoryRebalance(loads: readonly MasterLoad[], options: { weights?: Record<string, number>; thresholdPercent?: number } = {}): MemoryPlan {
  const threshold = (options.thresholdPercent ?? 2) / 100;
  const weightOf = (id: string) => options.weights?.[id] ?? 1;
  const totalWeight = loads.reduce((s, l) => s + weightOf(l.id), 0);
  if (totalWeight <= 0) throw new Error('weights: at least one master needs a weight above 0');
  const bytes = new Map(loads.map((l) => [l.id, slotBytesOf(l)] as const));
  const held = new Map(loads.map((l) => [l.id, [...bytes.get(l.id)!.values()].reduce((a, b) => a + b, 0)] as const));
  const total = [...held.values()].reduce((a, b) => a + b, 0);
  const target = new Map(loads.map((l) => [l.id, (total * weightOf(l.id)) / totalWeight] as const));
  const before = Object.fromEntries(held);

  const excess = new Map(loads.map((l) => [l.id, held.get(l.id)! - target.get(l.id)!] as const));
  const tolerance = (id: string) => threshold * target.get(id)!;
  const drains = loads.filter((l) => weightOf(l.id) === 0 && countSlots(l.slots) > 0);
  const donors = loads.filter((l) => excess.get(l.id)! > tolerance(l.id) || drains.includes(l)).sort((a, b) => excess.get(b.id)! - excess.get(a.id)!);
  const receivers = loads.filter((l) => weightOf(l.id) > 0 && excess.get(l.id)! < 0);
  const moved = new Map<string, number[]>();
  const owned = new Map(loads.map((l) => [l.id, countSlots(l.slots)] as const));

  for (const donor of donors) {
    const draining = drains.includes(donor);
    const donorBytes = bytes.get(donor.id)!;
    // A drained master gives every slot, the empty ones too; others give only slots with data.
    const offered = slotsOf(donor.slots).filter((s) => draining || (donorBytes.get(s) ?? 0) > 0).reverse();
    for (const slot of offered) {
      if (!draining && excess.get(donor.id)! <= tolerance(donor.id)) break;
      const b = donorBytes.get(slot) ?? 0;
      const receiver = [...receivers].sort((x, y) => excess.get(x.id)! - excess.get(y.id)!)[0];
      if (!receiver) break;
      if (!draining && -excess.get(receiver.id)! < b / 2) continue;
      excess.set(donor.id, excess.get(donor.id)! - b);
      excess.set(receiver.id, excess.get(receiver.id)! + b);
      owned.set(donor.id, owned.get(donor.id)! - 1);
      owned.set(receiver.id, owned.get(receiver.id)! + 1);
      const key = `${donor.id} ${receiver.id}`;
      moved.set(key, [...(moved.get(key) ?? []), slot]);
    }
  }

  const byId = new Map(loads.map((l) => [l.id, l] as const));
  const moves: SlotMove[] = [...moved.entries()].map(([key, slots]) => {
    const [from, to] = key.split(' ').map((id) => byId.get(id)!);
    return { from: { id: from!.id, address: from!.address }, to: { id: to!.id, address: to!.address }, slots: rangesFromSlots(slots.sort((a, b) => a - b)) };
  });
  const after = Object.fromEntries(loads.map((l) => [l.id, excess.get(l.id)! + target.get(l.id)!]));
  return { moves, slotsToMove: moves.reduce((s, m) => s + countSlots(m.slots), 0), targets: Object.fromEntries(owned), memory: { before, after } };
}

export interface HeadroomProblem { master: string; usedBytes: number; incomingBytes: number; maxmemory: number }

/**
 * Masters a plan would fill past `maxFraction` of their maxmemory: used memory now plus the
 * estimated bytes of the slots they receive. Masters without a limit are not judged.
 */
export function headroomProblems(plan: Pick<RebalancePlan, 'moves'>, loads: readonly MasterLoad[], maxFraction: number): HeadroomProblem[] {
  const bytes = new Map(loads.map((l) => [l.id, slotBytesOf(l)] as const));
  const incoming = new Map<string, number>();
  for (const move of plan.moves) {
    const from = bytes.get(move.from.id);
    const sum = slotsOf(move.slots).reduce((s, slot) => s + (from?.get(slot) ?? 0), 0);
    incoming.set(move.to.id, (incoming.get(move.to.id) ?? 0) + sum);
  }
  return loads
    .filter((l) => l.maxmemory > 0 && incoming.has(l.id) && l.usedBytes + incoming.get(l.id)! > maxFraction * l.maxmemory)
    .map((l) => ({ master: l.address, usedBytes: l.usedBytes, incomingBytes: Math.round(incoming.get(l.id)!), maxmemory: l.maxmemory }));
}
