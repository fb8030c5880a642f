/**
 * Rebalance planning, a pure function of the topology: how many slots each master should own
 * (by weight), and which slots move from whom to whom. Like `redis-cli --cluster rebalance`,
 * nothing moves while every master is within `thresholdPercent` of its target.
 */
import { countSlots, rangesFromSlots, SLOT_COUNT, slotsOf, type SlotRange } from './slots';

export interface MasterSlots {
  id: string;
  address: string;
  slots: SlotRange[];
}

export interface SlotMove {
  from: { id: string; address: string };
  to: { id: string; address: string };
  /** Slots to move, as ranges (compact enough to pass through Temporal). */
  slots: SlotRange[];
}

export interface RebalanceOptions {
  /** Weight per master id; default 1. A weight of 0 drains the master. */
  weights?: Record<string, number>;
  /** @default 2 */
  thresholdPercent?: number;
  /** Give slots to masters that have none. @default true */
  useEmptyMasters?: boolean;
}

export interface RebalancePlan {
  moves: SlotMove[];
  slotsToMove: number;
  /** Slots each master owns after the plan, by id. */
  targets: Record<string, number>;
}

/** Integer targets proportional to the weights that add up to 16384 (largest remainder). */
export function slotTargets(weights: Record<string, number>): Record<string, number> {
  const ids = Object.keys(weights);
  const total = ids.reduce((s, id) => s + weights[id]!, 0);
  if (total <= 0) throw new Error('weights: at least one master needs a weight above 0');
  const exact = ids.map((id) => ({ id, value: (SLOT_COUNT * weights[id]!) / total }));
  const targets = Object.fromEntries(exact.map((e) => [e.id, Math.floor(e.value)]));
  let left = SLOT_COUNT - Object.values(targets).reduce((a, b) => a + b, 0);
  for (const e of [...exact].sort((a, b) => b.value - Math.floor(b.value) - (a.value - Math.floor(a.value)) || a.id.localeCompare(b.id))) {
    if (left-- <= 0) break;
    targets[e.id]!++;
  }
  return targets;
}

export function planRebalance(masters: readonly MasterSlots[], options: RebalanceOptions = {}): RebalancePlan {
  const threshold = options.thresholdPercent ?? 2;
  const useEmpty = options.useEmptyMasters ?? true;
  const participants = masters.filter((m) => useEmpty || m.slots.length > 0 || (options.weights?.[m.id] ?? 1) === 0);
  const weights = Object.fromEntries(participants.map((m) => [m.id, options.weights?.[m.id] ?? 1]));
  const targets = slotTargets(weights);
  const owned = new Map(participants.map((m) => [m.id, countSlots(m.slots)] as const));
  const balance = new Map(participants.map((m) => [m.id, owned.get(m.id)! - targets[m.id]!] as const));

  const draining = participants.some((m) => weights[m.id] === 0 && owned.get(m.id)! > 0);
  const overThreshold = participants.some((m) => {
    const target = targets[m.id]!;
    const diff = Math.abs(owned.get(m.id)! - target);
    return target === 0 ? diff > 0 : (diff / target) * 100 > threshold;
  });
  if (!draining && !overThreshold) return { moves: [], slotsToMove: 0, targets: Object.fromEntries(owned) };

  // Donors give their highest slots first, so ranges stay contiguous where they can.
  const pools = new Map(participants.map((m) => [m.id, slotsOf(m.slots)] as const));
  const byId = new Map(participants.map((m) => [m.id, m] as const));
  const donors = participants.filter((m) => balance.get(m.id)! > 0).sort((a, b) => balance.get(b.id)! - balance.get(a.id)!);
  const receivers = participants.filter((m) => balance.get(m.id)! < 0).sort((a, b) => balance.get(a.id)! - balance.get(b.id)!);
  const moves: SlotMove[] = [];
  for (const receiver of receivers) {
    let need = -balance.get(receiver.id)!;
    for (const donor of donors) {
      if (need === 0) break;
      const spare = balance.get(donor.id)!;
      if (spare <= 0) continue;
      const n = Math.min(need, spare);
      const pool = pools.get(donor.id)!;
      const taken = pool.splice(pool.length - n, n);
      balance.set(donor.id, spare - n);
      need -= n;
      const d = byId.get(donor.id)!;
      moves.push({ from: { id: d.id, address: d.address }, to: { id: receiver.id, address: receiver.address }, slots: rangesFromSlots(taken) });
    }
  }
  const after = Object.fromEntries(participants.map((m) => [m.id, owned.get(m.id)!]));
  for (const move of moves) {
    after[move.from.id]! -= countSlots(move.slots);
    after[move.to.id]! += countSlots(move.slots);
  }
  return { moves, slotsToMove: moves.reduce((s, m) => s + countSlots(m.slots), 0), targets: after };
}

/** Splits a move into batches of at most `size` slots, keeping the order. */
export function batchSlots(ranges: readonly SlotRange[], size: number): number[][] {
  const slots = slotsOf(ranges);
  const batches: number[][] = [];
  for (let i = 0; i < slots.length; i += size) batches.push(slots.slice(i, i + size));
  return batches;
}

/**
 * What an error met while moving a slot means for a retry of the move:
 * busykey: an interrupted MIGRATE left the key on both nodes (MIGRATE again with REPLACE);
 * transient: the network, a node loading or a gossip delay (retrying can succeed);
 * permanent: a retry meets it again (the target refuses the payload or the command, a node is
 * not a master, a credential is refused), so the move fails at once, naming it.
 */
export type MigrationErrorKind = 'busykey' | 'transient' | 'permanent';

const TRANSIENT = [
  /^IOERR/, /timed? ?out/i, /LOADING/, /TRYAGAIN/, /\bBUSY\b/, /CLUSTERDOWN/, /MASTERDOWN/,
  /ECONN(REFUSED|RESET|ABORTED)/, /EPIPE/, /EHOSTUNREACH/, /ENETUNREACH/, /Connection is closed/i, /Stream isn't writeable/i,
  // The target has not learnt the source's id from gossip yet.
  /I don't know about node/,
];

export function classifyMigrationError(message: string): MigrationErrorKind {
  if (/BUSYKEY/.test(message)) return 'busykey';
  return TRANSIENT.some((p) => p.test(message)) ? 'transient' : 'permanent';
}
