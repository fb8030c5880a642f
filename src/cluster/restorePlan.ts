/**
 * The restore plan: which target node takes which node of the backup (its id, role, slots and
 * epoch), which addresses changed, and the nodes.conf each target starts with. Pure.
 */
import { splitAddress } from './address';
import type { BackupManifest, BackupNode } from './backup';
import type { NodeObservation } from './health';
import { FAILURE_FLAGS } from './nodes';
import { formatSlotRanges } from './slots';

export interface RestoreAssignment {
  /** The node id the target takes: the backup's node (same shape), or a new one for a new shape. */
  fromId: string;
  /** The backup's node whose place it takes; "" for a node the backup did not have. */
  fromAddress: string;
  toAddress: string;
  role: 'master' | 'replica';
  /** For a master: the shard whose AOF it loads. */
  shard?: number;
  slots: string;
}

export interface RestorePlan {
  /** "same-shape": every node of the backup on a target; "new-shape": the slot map rebuilt for another node count. */
  mode: 'same-shape' | 'new-shape';
  assignments: RestoreAssignment[];
  /** The restored cluster as nodes.conf will describe it (target addresses). */
  nodes: BackupNode[];
  /** Old address -> new address, for the addresses that changed. */
  moved: Record<string, string>;
  problems: string[];
}

/**
 * Gives each node of the backup a target node: an address that is in both keeps its node, the
 * rest go in order (masters first); each target takes the old node's id, epoch and role, so the
 * cluster comes back with the same shape on the new addresses. With another number of targets
 * (at least one per shard), the slot map is rebuilt: the shards' masters keep their ids on the
 * first targets, the other targets become replicas, spread over the shards.
 */
export function planRestore(manifest: BackupManifest, targets: readonly string[]): RestorePlan {
  const shards = [...manifest.shards].sort((a, b) => a.index - b.index);
  if (targets.length < shards.length) {
    return {
      mode: 'new-shape', assignments: [], nodes: [], moved: {},
      problems: [`the backup has ${shards.length} shards and the cluster lists ${targets.length} nodes: list at least ${shards.length} addresses in the inventory (one master per shard)`],
    };
  }
  const problems = shards.filter((s) => !manifest.nodes.some((n) => n.id === s.masterId && n.role === 'master')).map((s) => `shard ${s.index}: its master ${s.masterId} is not among the backup's nodes`);
  const busOffset = (n: BackupNode) => n.busPort - splitAddress(n.address).port;
  const onTarget = (n: BackupNode, toAddress: string): BackupNode => ({ ...n, address: toAddress, busPort: splitAddress(toAddress).port + busOffset(n) });
  const assignments: RestoreAssignment[] = [];
  const nodes: BackupNode[] = [];
  const assign = (n: BackupNode, fromAddress: string, toAddress: string) => {
    assignments.push({ fromId: n.id, fromAddress, toAddress, role: n.role, shard: shards.find((s) => s.masterId === n.id)?.index, slots: formatSlotRanges(n.slots) });
    nodes.push(onTarget(n, toAddress));
  };

  if (targets.length === manifest.nodes.length) {
    const ordered = [...manifest.nodes].sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
    const free = targets.filter((t) => !manifest.nodes.some((n) => n.address === t));
    for (const n of ordered) assign(n, n.address, targets.includes(n.address) ? n.address : free.shift()!);
    const moved = Object.fromEntries(assignments.filter((a) => a.fromAddress !== a.toAddress).map((a) => [a.fromAddress, a.toAddress]));
    return { mode: 'same-shape', assignments, nodes, moved, problems };
  }

  // Another shape: masters keep their ids and slots; replicas keep theirs while a shard has
  // some left, else get a new id; epochs as in the backup, new replicas' 0.
  const masters = shards.map((s) => manifest.nodes.find((n) => n.id === s.masterId)!).filter(Boolean);
  const free = [...targets];
  const takeFor = (n: BackupNode) => free.splice(free.includes(n.address) ? free.indexOf(n.address) : 0, 1)[0]!;
  for (const m of masters) assign(m, m.address, takeFor(m));
  const spare = new Map(masters.map((m) => [m.id, manifest.nodes.filter((n) => n.role === 'replica' && n.masterId === m.id)]));
  free.forEach((toAddress, i) => {
    const master = masters[i % masters.length]!;
    const old = spare.get(master.id)!.shift();
    const replica: BackupNode = old ?? { id: newNodeId(`${manifest.backupId}/${toAddress}`), address: toAddress, busPort: splitAddress(toAddress).port + busOffset(master), role: 'replica', masterId: master.id, configEpoch: 0, slots: [] };
    assign(replica, old?.address ?? '', toAddress);
  });
  const moved = Object.fromEntries(assignments.filter((a) => a.fromAddress && a.fromAddress !== a.toAddress).map((a) => [a.fromAddress, a.toAddress]));
  return { mode: 'new-shape', assignments, nodes, moved, problems };
}

/** A 40-hex node id derived from `seed` (deterministic: workflows replay it). */
function newNodeId(seed: string): string {
  let out = '';
  for (let round = 0; out.length < 40; round++) {
    // FNV-1a, 32 bits per round.
    let h = 0x811c9dc5 ^ round;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 40);
}

/**
 * The nodes.conf a target node starts with: every node of the restored cluster on its address,
 * this one flagged myself, the slot map and epochs as planned. Redis reads it at start and joins
 * the others with those node ids.
 */
export function restoredNodesConf(manifest: BackupManifest, plan: RestorePlan, toAddress: string): string {
  const me = plan.nodes.find((n) => n.address === toAddress);
  if (!me) throw new Error(`${toAddress} is not a target of the restore plan`);
  const lines = plan.nodes.map((n) => {
    const flags = `${n.id === me.id ? 'myself,' : ''}${n.role === 'master' ? 'master' : 'slave'}`;
    const slots = n.role === 'master' ? formatSlotRanges(n.slots).split(',').filter(Boolean) : [];
    return [n.id, `${n.address}@${n.busPort}`, flags, n.masterId ?? '-', '0', '0', String(n.configEpoch), 'connected', ...slots].join(' ');
  });
  return `${lines.join('\n')}\nvars currentEpoch ${manifest.currentEpoch} lastVoteEpoch 0\n`;
}

/**
 * Members of the cluster the restore would leave running: nodes outside `targets` that answered,
 * or that an answering target sees connected and not failing (a spare addNode joined that the
 * inventory's nodes do not list). Running, such a node gossips the topology of before the restore,
 * with newer epochs than the backup's, back into the restored cluster. Sorted.
 */
export function liveMembersOutside(observations: readonly NodeObservation[], targets: readonly string[]): string[] {
  const outside = new Set<string>();
  for (const o of observations) {
    if (targets.includes(o.address)) {
      for (const n of o.view ?? []) {
        if (n.myself || n.address === '' || targets.includes(n.address)) continue;
        if (n.linkState === 'connected' && !n.flags.some((f) => (FAILURE_FLAGS as readonly string[]).includes(f))) outside.add(n.address);
      }
    } else if (!o.error && o.view) outside.add(o.address);
  }
  return [...outside].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}
