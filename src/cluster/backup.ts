/**
 * Backups: the manifest that commits a backup, where its objects live in the store, which
 * old backups retention removes, and the restore plan (which node gets which shard, which
 * addresses changed, and each node's nodes.conf). Pure: used by workflows and activities.
 */
import { splitAddress } from './address';
import { referenceView, type NodeObservation } from './health';
import { formatSlotRanges, type SlotRange } from './slots';

export const BACKUP_FORMAT = 1;

export type Compression = 'none' | 'gzip';

export interface BackupNode {
  id: string;
  address: string;
  busPort: number;
  role: 'master' | 'replica';
  masterId: string | null;
  configEpoch: number;
  slots: SlotRange[];
}

export interface BackupObject {
  key: string;
  size: number;
  sha256: string;
}

export interface BackupShard {
  index: number;
  slots: SlotRange[];
  /** The master that owned the slots when the backup was taken. */
  masterId: string;
  /** The node the AOF was read from. */
  source: { id: string; address: string; role: 'master' | 'replica' };
  /** Keys in the archive, from the AOF base's header (taken at the rewrite's fork). */
  keys: number;
  object: BackupObject;
  aof: { base: string; incr: string[] };
}

/** manifest.json: written last; a backup without one is incomplete and never restored. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  cluster: string;
  backupId: string;
  workflowId: string;
  startedAt: string;
  completedAt: string;
  redisVersion: string;
  compression: Compression;
  currentEpoch: number;
  nodes: BackupNode[];
  shards: BackupShard[];
  keys: number;
  bytes: number;
}

export const MANIFEST_NAME = 'manifest.json';

export function backupPrefix(cluster: string, backupId: string): string {
  return `${cluster}/${backupId}/`;
}

export function manifestKey(cluster: string, backupId: string): string {
  return `${backupPrefix(cluster, backupId)}${MANIFEST_NAME}`;
}

export function shardObjectKey(cluster: string, backupId: string, shard: number, compression: Compression): string {
  return `${backupPrefix(cluster, backupId)}shard-${shard}.tar${compression === 'gzip' ? '.gz' : ''}`;
}

/** A backup id from a time: 20261127T031500Z, plus a suffix that tells apart two in one second. */
export function backupIdAt(time: Date, suffix: string): string {
  const stamp = time.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${suffix}`;
}

export const BACKUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What the store holds for a cluster, grouped by backup. */
export interface StoredBackup {
  backupId: string;
  complete: boolean;
  /** The manifest's startedAt for a complete backup; the newest object's time otherwise. */
  time: string;
  keys: string[];
  bytes: number;
}

/** Groups a store listing (keys relative to the store) by backup id. */
export function groupBackups(cluster: string, objects: readonly { key: string; size: number; lastModified: string }[]): StoredBackup[] {
  const byId = new Map<string, StoredBackup>();
  for (const o of objects) {
    const rest = o.key.startsWith(`${cluster}/`) ? o.key.slice(cluster.length + 1) : undefined;
    const backupId = rest?.split('/')[0];
    if (!backupId || !rest!.includes('/')) continue;
    const b = byId.get(backupId) ?? { backupId, complete: false, time: o.lastModified, keys: [], bytes: 0 };
    b.keys.push(o.key);
    b.bytes += o.size;
    if (o.key.endsWith(`/${MANIFEST_NAME}`)) b.complete = true;
    if (o.lastModified > b.time) b.time = o.lastModified;
    byId.set(backupId, b);
  }
  return [...byId.values()].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}

export interface Retention {
  /** Keep the newest `count` complete backups. */
  count?: number;
  /** Keep complete backups younger than `days`. */
  days?: number;
}

/**
 * Which backups to delete. A complete backup stays while it is among the newest `count` or
 * younger than `days` (either is enough); the newest complete backup always stays. An
 * incomplete one (no manifest) is deleted once older than `abandonAfterMs`, unless it is
 * the backup in progress.
 */
export function planRetention(
  backups: readonly StoredBackup[],
  retain: Retention,
  nowMs: number,
  currentBackupId: string,
  abandonAfterMs = 24 * 3600_000,
): StoredBackup[] {
  const complete = backups.filter((b) => b.complete).sort((a, b) => (a.time < b.time ? 1 : -1));
  const doomed: StoredBackup[] = [];
  complete.forEach((b, index) => {
    if (index === 0 || b.backupId === currentBackupId) return;
    const ageMs = nowMs - Date.parse(b.time);
    const byCount = retain.count !== undefined && index < retain.count;
    const byAge = retain.days !== undefined && ageMs <= retain.days * 86_400_000;
    if (retain.count === undefined && retain.days === undefined) return;
    if (!byCount && !byAge) doomed.push(b);
  });
  for (const b of backups) {
    if (!b.complete && b.backupId !== currentBackupId && nowMs - Date.parse(b.time) > abandonAfterMs) doomed.push(b);
  }
  return doomed;
}

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
 * verifyBackup restores into a scratch cluster that is not in the inventory: its name says
 * all the worker needs (the source cluster, first port, shape), so any worker resolves it.
 */
export interface ScratchCluster {
  source: string;
  basePort: number;
  masters: number;
  replicasPerMaster: number;
}

export function scratchClusterName(s: ScratchCluster): string {
  return `scratch:${s.source}:${s.basePort}:${s.masters}x${s.replicasPerMaster}`;
}

export function parseScratchClusterName(name: string): ScratchCluster | undefined {
  const m = /^scratch:([A-Za-z0-9_-]+):(\d+):(\d+)x(\d+)$/.exec(name);
  return m ? { source: m[1]!, basePort: Number(m[2]), masters: Number(m[3]), replicasPerMaster: Number(m[4]) } : undefined;
}

export function scratchNodes(s: ScratchCluster): string[] {
  return Array.from({ length: s.masters * (1 + s.replicasPerMaster) }, (_, i) => `127.0.0.1:${s.basePort + i}`);
}

export interface ShardSource {
  index: number;
  slots: SlotRange[];
  masterId: string;
  /** Nodes to read the shard from, best first. */
  candidates: { id: string; address: string; role: 'master' | 'replica' }[];
}

export interface BackupSourcePlan {
  shards: ShardSource[];
  nodes: BackupNode[];
  currentEpoch: number;
  /** One per shard no node can be read from, naming the shard and why. */
  problems: string[];
}

/**
 * Which node each shard is read from: an in-sync replica (link up, no sync running) by
 * preference, its master otherwise; or the master first when `prefer` is "master".
 */
export function planBackupSources(observations: readonly NodeObservation[], prefer: 'replica' | 'master'): BackupSourcePlan {
  const view = referenceView(observations) ?? [];
  const byAddress = new Map(observations.map((o) => [o.address, o] as const));
  const answers = (address: string) => {
    const o = byAddress.get(address);
    return o !== undefined && !o.error;
  };
  const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0).sort((a, b) => a.slots[0]!.start - b.slots[0]!.start);
  const problems: string[] = [];
  const shards = masters.map((m, index): ShardSource => {
    const replicas = view.filter((n) => n.role === 'replica' && n.masterId === m.id);
    const inSync = replicas.filter((r) => {
      const rep = byAddress.get(r.address)?.replication;
      return answers(r.address) && rep?.role === 'replica' && rep.masterLinkUp === true && !rep.masterSyncInProgress;
    });
    const master = answers(m.address) ? [{ id: m.id, address: m.address, role: 'master' as const }] : [];
    const fromReplicas = inSync.map((r) => ({ id: r.id, address: r.address, role: 'replica' as const }));
    const candidates = prefer === 'master' ? [...master, ...fromReplicas] : [...fromReplicas, ...master];
    if (candidates.length === 0) {
      const why = [`master ${m.address} ${answers(m.address) ? 'answers' : 'does not answer'}`, ...replicas.map((r) => `replica ${r.address} ${answers(r.address) ? 'is not in sync' : 'does not answer'}`)];
      problems.push(`shard ${index} (slots ${formatSlotRanges(m.slots)}): no node to read it from (${why.join(', ')})`);
    }
    return { index, slots: m.slots, masterId: m.id, candidates };
  });
  const nodes = view
    .filter((n) => !n.flags.includes('noaddr') && (masters.includes(n) || (n.role === 'replica' && masters.some((m) => m.id === n.masterId))))
    .map((n): BackupNode => ({ id: n.id, address: n.address, busPort: n.busPort, role: n.role, masterId: n.masterId, configEpoch: n.configEpoch, slots: n.role === 'master' ? n.slots : [] }));
  const currentEpoch = Math.max(0, ...observations.map((o) => o.clusterInfo?.currentEpoch ?? 0));
  if (masters.length === 0) problems.push('no master owns slots: is the cluster formed? (run createCluster)');
  return { shards, nodes, currentEpoch, problems };
}
