/**
 * Backups: the manifest that commits a backup, where its objects live in the store, which
 * old backups retention removes, and the restore plan (which node gets which shard, which
 * addresses changed, and each node's nodes.conf). Pure: used by workflows and activities.
 */
import { rdbFormatOf, type EngineVersion } from './engine';
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
  /** The engine of the node the first shard was read from (absent from older manifests). */
  engine?: EngineVersion;
  /** The newest RDB format among the shards' AOF bases (absent from older manifests): what a node must read to load it. */
  rdbFormat?: number;
  compression: Compression;
  currentEpoch: number;
  nodes: BackupNode[];
  shards: BackupShard[];
  keys: number;
  bytes: number;
}

/**
 * The RDB format a node must read to load the backup: as recorded, else what its engine writes
 * (older manifests name only redis_version, which is Valkey's compatibility version: 7.2.4 is
 * format 11 either way).
 */
export function backupRdbFormat(manifest: Pick<BackupManifest, 'rdbFormat' | 'engine' | 'redisVersion'>): number | undefined {
  return manifest.rdbFormat ?? rdbFormatOf(manifest.engine ?? { engine: 'redis', version: manifest.redisVersion });
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

/**
 * Written first, before any shard: which workflow writes this backup id. A second workflow
 * given the same id is refused; a retry of the same workflow goes on with its own objects.
 */
export const CLAIM_NAME = 'claim.json';

export function claimKey(cluster: string, backupId: string): string {
  return `${backupPrefix(cluster, backupId)}${CLAIM_NAME}`;
}

/**
 * While a node is read, its automatic AOF rewrites are held off (a rewrite would replace the
 * base file being streamed) with an auto-aof-rewrite-percentage no AOF ever reaches, which
 * still carries the operator's value: a backup killed and terminated mid-way leaves a value
 * the next backup recognises and puts back, where a 0 would pass for the operator's own.
 */
export const AUTO_REWRITE_HELD_FROM = 2_000_000_000;
/** INT_MAX, the largest value Redis accepts, minus the offset. */
const MAX_ENCODED = 2_147_483_647 - AUTO_REWRITE_HELD_FROM;

export function heldAutoRewrite(original: string): string {
  const n = Number(original);
  return String(AUTO_REWRITE_HELD_FROM + (Number.isInteger(n) && n >= 0 ? Math.min(n, MAX_ENCODED) : 100));
}

/** The operator's setting: the value itself, or the one a held value carries. */
export function originalAutoRewrite(current: string): { original: string; held: boolean } {
  const n = Number(current);
  if (Number.isInteger(n) && n >= AUTO_REWRITE_HELD_FROM) return { original: String(n - AUTO_REWRITE_HELD_FROM), held: true };
  return { original: current, held: false };
}

/** A backup id as backupCluster returns it (workflow inputs are checked against it). */
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
