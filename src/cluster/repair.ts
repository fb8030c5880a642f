/**
 * The decisions of repairCluster (runbook: "CLUSTERDOWN Hash slot not served"), made the way
 * `redis-cli --cluster fix` makes them: which members to bring back, how to close each open
 * slot (by where its keys are), and which live master takes each slot nobody serves. Pure.
 */
import { analyzeHealth, describeFinding, referenceView, type HealthExpectation, type NodeObservation } from './health';
import { deathVerdict } from './membership';
import type { ClusterNode } from './nodes';
import { countSlots, formatSlotRanges, normalizeRanges, rangesFromSlots, removeSlots, slotInRanges, slotsOf, uncoveredSlots, type SlotRange } from './slots';

export interface NodeRef {
  id: string;
  address: string;
}

/** A member of the cluster that does not answer. */
export interface DownNode extends NodeRef {
  role: 'master' | 'replica';
  /** The slots it owns in the cluster's map (none for a replica). */
  slots: SlotRange[];
}

export interface LiveMaster extends NodeRef {
  slots: SlotRange[];
}

export interface RepairDiagnosis {
  /** Members that do not answer: masters that own slots first, then the others. */
  down: DownNode[];
  /** Reachable masters not flagged fail: the nodes that serve slots and may receive more. */
  liveMasters: LiveMaster[];
  /** Slots open (MIGRATING or IMPORTING) on some reachable node. */
  openSlots: number[];
  /** Slots no live master serves: assigned to nobody, or to a master that is dead (see deathVerdict). */
  uncovered: SlotRange[];
  /**
   * Masters with slots that this worker cannot reach but that most other masters do not flag
   * `fail`: partitioned from the worker, or stalled. They may still serve writes, so their
   * slots are never counted as uncovered (never given away).
   */
  unconfirmed: DownNode[];
  notes: string[];
}

const failed = (n: ClusterNode) => n.flags.includes('fail');

export function diagnoseCluster(observations: readonly NodeObservation[]): RepairDiagnosis {
  const view = referenceView(observations);
  if (!view) return { down: [], liveMasters: [], openSlots: [], uncovered: [{ start: 0, end: 16383 }], unconfirmed: [], notes: ['no node answered: nothing can be repaired from here'] };
  const answering = new Map(observations.filter((o) => o.view).map((o) => [o.address, o.view!.find((n) => n.myself)] as const));
  const notes: string[] = [];

  const down: DownNode[] = [];
  for (const n of view) {
    const there = answering.get(n.address);
    if (there && there.id !== n.id) notes.push(`${n.address} answers as node ${there.id.slice(0, 8)}, not as member ${n.id.slice(0, 8)}: the member was replaced (an empty node?); remove it with removeNode ${n.id} and join the new one with addNode`);
    if (answering.has(n.address)) continue;
    if (n.address === '') {
      notes.push(`node ${n.id.slice(0, 8)} has no known address (noaddr): it cannot be restarted from here`);
      continue;
    }
    down.push({ id: n.id, address: n.address, role: n.role, slots: n.role === 'master' ? n.slots : [] });
  }
  down.sort((a, b) => countSlots(b.slots) - countSlots(a.slots) || a.address.localeCompare(b.address, 'en', { numeric: true }));

  const liveMasters = view
    .filter((n) => n.role === 'master' && !failed(n) && answering.get(n.address)?.id === n.id && answering.get(n.address)?.role === 'master')
    .map((n) => ({ id: n.id, address: n.address, slots: n.slots }));
  const open = new Set<number>();
  for (const me of answering.values()) for (const s of [...(me?.migrating ?? []), ...(me?.importing ?? [])]) open.add(s.slot);

  const unconfirmed: DownNode[] = [];
  for (const n of down) {
    if (n.role !== 'master' || n.slots.length === 0) continue;
    const others = view.filter((m) => m.role === 'master' && m.slots.length > 0 && m.id !== n.id).map((m) => m.id);
    const verdict = deathVerdict(observations, n.id, others);
    if (verdict.dead) continue;
    unconfirmed.push(n);
    notes.push(
      `${n.address} (${n.id.slice(0, 8)}) does not answer this worker, but only ${verdict.flaggingFail.length} of the ${verdict.otherMasters} other masters flag it failed: ` +
        `it may still serve slots ${formatSlotRanges(n.slots)} (a partition between the worker and it, or a stalled process), so they are not given away; check the network from the worker, or wait until the cluster agrees it failed`,
    );
  }

  return {
    down,
    liveMasters,
    openSlots: [...open].sort((a, b) => a - b),
    uncovered: uncoveredSlots([...liveMasters, ...unconfirmed].flatMap((m) => m.slots)),
    unconfirmed,
    notes,
  };
}

/** The live master that owns `slot` in the cluster's map, if any. */
export function liveOwnerOf(diagnosis: Pick<RepairDiagnosis, 'liveMasters'>, slot: number): NodeRef | undefined {
  const m = diagnosis.liveMasters.find((n) => slotInRanges(slot, n.slots));
  return m && { id: m.id, address: m.address };
}

/** What one live master says about one open slot: its own view and its key count. */
export interface SlotHolder extends NodeRef {
  /** Owns the slot in its own view. */
  owns: boolean;
  /** Node id it is MIGRATING the slot to. */
  migratingTo?: string;
  /** Node id it is IMPORTING the slot from. */
  importingFrom?: string;
  /** CLUSTER COUNTKEYSINSLOT. */
  keys: number;
}

export interface OpenSlotFacts {
  slot: number;
  holders: SlotHolder[];
}

/**
 * finish: an interrupted move whose keys started to arrive on the target; the rest follows them.
 * undo: an interrupted move before any key arrived; the slot stays where it was.
 * close: open on one side only; the owner keeps it and gets back any key found elsewhere.
 * clear: no live master owns it; the open state is cleared and the slot is assigned later.
 */
export type OpenSlotAction = 'finish' | 'undo' | 'close' | 'clear';

export interface OpenSlotPlan {
  slot: number;
  action: OpenSlotAction;
  /** The master that owns the slot afterwards; none for `clear`. */
  owner?: NodeRef;
  /** Keys expected to move to the owner (counted when planned; the move re-counts). */
  keysToMove: number;
  why: string;
}

/** How to close one open slot, decided by where its keys are. `owner` is its live owner in the cluster's map. */
export function planOpenSlot(facts: OpenSlotFacts, owner: NodeRef | undefined): OpenSlotPlan {
  const { slot, holders } = facts;
  const byId = new Map(holders.map((h) => [h.id, h] as const));
  const ref = (h: SlotHolder): NodeRef => ({ id: h.id, address: h.address });
  const keysAwayFrom = (o: NodeRef) => holders.filter((h) => h.id !== o.id).reduce((sum, h) => sum + h.keys, 0);
  const source = holders.find((h) => h.migratingTo && byId.get(h.migratingTo)?.importingFrom === h.id);
  if (source) {
    const target = byId.get(source.migratingTo!)!;
    if (target.keys > 0) {
      return { slot, action: 'finish', owner: ref(target), keysToMove: keysAwayFrom(target),
        why: `moving from ${source.address} to ${target.address} was interrupted with ${target.keys} keys already on the target: the remaining ${source.keys} follow them` };
    }
    return { slot, action: 'undo', owner: ref(source), keysToMove: keysAwayFrom(source),
      why: `moving from ${source.address} to ${target.address} was interrupted before any key reached the target: the slot stays on ${source.address}` };
  }
  const sides = holders.filter((h) => h.migratingTo || h.importingFrom).map((h) => `${h.migratingTo ? 'MIGRATING' : 'IMPORTING'} on ${h.address}`);
  if (owner) {
    return { slot, action: 'close', owner, keysToMove: keysAwayFrom(owner),
      why: `open on one side only (${sides.join(', ')}): ${owner.address} keeps it${keysAwayFrom(owner) > 0 ? ' and gets back the keys found elsewhere' : ''}` };
  }
  const withKeys = holders.filter((h) => h.keys > 0).map((h) => `${h.keys} on ${h.address}`);
  return { slot, action: 'clear', keysToMove: 0,
    why: `open (${sides.join(', ')}) and no live master owns it: the open state is cleared, the keys stay where they are${withKeys.length ? ` (${withKeys.join(', ')})` : ''}, and the slot is assigned with the uncovered slots` };
}

/** Keys found in a slot on a node (only slots that have some). */
export interface SlotKeyCount {
  slot: number;
  address: string;
  keys: number;
}

export interface SlotAssignment {
  master: NodeRef;
  slots: SlotRange[];
  slotCount: number;
  /** Of those, slots given to it because it holds keys in them. */
  slotsWithKeys: number;
  keys: number;
}

/**
 * Who takes the uncovered slots: a slot with keys goes to the live master holding the most of
 * them (CLUSTER COUNTKEYSINSLOT); the others, in one block, to the master owning the fewest slots.
 */
export function planSlotAssignment(uncovered: readonly SlotRange[], keyCounts: readonly SlotKeyCount[], masters: readonly LiveMaster[]): SlotAssignment[] {
  const slots = normalizeRanges(uncovered);
  if (countSlots(slots) === 0) return [];
  if (masters.length === 0) throw new Error('no live master to assign the uncovered slots to: bring a master back first');
  const best = new Map<number, SlotKeyCount>();
  for (const c of keyCounts) {
    if (c.keys <= 0 || !slotInRanges(c.slot, slots) || !masters.some((m) => m.address === c.address)) continue;
    const current = best.get(c.slot);
    if (!current || c.keys > current.keys) best.set(c.slot, c);
  }
  const out = new Map<string, { master: NodeRef; slots: number[]; withKeys: number; keys: number }>();
  const entry = (m: NodeRef) => out.get(m.id) ?? out.set(m.id, { master: m, slots: [], withKeys: 0, keys: 0 }).get(m.id)!;
  for (const [slot, c] of best) {
    const m = masters.find((n) => n.address === c.address)!;
    const e = entry({ id: m.id, address: m.address });
    e.slots.push(slot);
    e.withKeys++;
    e.keys += c.keys;
  }
  const rest = removeSlots(slots, best.keys());
  if (countSlots(rest) > 0) {
    const fewest = [...masters].sort((a, b) => countSlots(a.slots) - countSlots(b.slots) || a.address.localeCompare(b.address, 'en', { numeric: true }))[0]!;
    const e = entry({ id: fewest.id, address: fewest.address });
    e.slots.push(...slotsOf(rest));
  }
  return [...out.values()].map((e) => {
    const ranges = rangesFromSlots(e.slots);
    return { master: e.master, slots: ranges, slotCount: countSlots(ranges), slotsWithKeys: e.withKeys, keys: e.keys };
  });
}

/** The slots in both `a` and `b`. */
export function intersectSlots(a: readonly SlotRange[], b: readonly SlotRange[]): SlotRange[] {
  const out: SlotRange[] = [];
  for (const x of normalizeRanges(a)) {
    for (const y of normalizeRanges(b)) {
      const start = Math.max(x.start, y.start);
      const end = Math.min(x.end, y.end);
      if (start <= end) out.push({ start, end });
    }
  }
  return normalizeRanges(out);
}

/** What repairCluster reports before and after: the findings and what it counts. */
export interface RepairSnapshot {
  healthy: boolean;
  /** "CODE node: message", every finding but the informational ones. */
  findings: string[];
  slotsUncovered: string;
  slotsUncoveredCount: number;
  openSlots: number[];
  nodesDown: string[];
  /** Masters this worker cannot reach that the cluster does not agree have failed (their slots are left alone). */
  mastersUnconfirmed: string[];
}

export function repairSnapshot(observations: readonly NodeObservation[], expected: HealthExpectation): RepairSnapshot {
  const health = analyzeHealth(observations, expected);
  const d = diagnoseCluster(observations);
  return {
    healthy: health.healthy,
    findings: health.findings.filter((f) => f.severity !== 'info').map(describeFinding),
    slotsUncovered: formatSlotRanges(d.uncovered),
    slotsUncoveredCount: countSlots(d.uncovered),
    openSlots: d.openSlots,
    nodesDown: d.down.map((n) => n.address),
    mastersUnconfirmed: d.unconfirmed.map((n) => n.address),
  };
}
