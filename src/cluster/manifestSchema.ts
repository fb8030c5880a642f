/**
 * A backup's manifest.json, checked before a restore or drill uses it: a store is outside the
 * worker, so its manifest is input like any other. Every field a restore reads is validated, and
 * the manifest must describe the backup it was read as (cluster, id, objects under its prefix).
 * Pure: used by the readBackupManifest activity and the unit tests.
 */
import { z } from 'zod';
import { formatIssues } from '../validation';
import { BACKUP_FORMAT, backupPrefix, type BackupManifest } from './backup';
import { SLOT_COUNT } from './slots';

const nodeId = z.string().regex(/^[0-9a-f]{40}$/, 'expected a node id (40 hex digits)');
const address = z.string().regex(/^[A-Za-z0-9._-]+:\d{1,5}$/, 'expected "host:port"');
const slotRange = z
  .object({ start: z.int().min(0).max(SLOT_COUNT - 1), end: z.int().min(0).max(SLOT_COUNT - 1) })
  .strict()
  .refine((r) => r.start <= r.end, 'start must not be after end');
const fileName = z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'expected a plain file name');
const count = z.int().min(0);
const isoTime = z.iso.datetime();

const node = z
  .object({
    id: nodeId,
    address,
    busPort: z.int().min(1).max(65_535),
    role: z.enum(['master', 'replica']),
    masterId: nodeId.nullable(),
    configEpoch: count,
    slots: z.array(slotRange),
  })
  .strict();

const shard = z
  .object({
    index: count,
    slots: z.array(slotRange).min(1),
    masterId: nodeId,
    source: z.object({ id: nodeId, address, role: z.enum(['master', 'replica']) }).strict(),
    keys: count,
    object: z
      .object({
        key: z.string().min(1).max(1024),
        size: count,
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 (64 hex digits)'),
      })
      .strict(),
    aof: z.object({ base: fileName, incr: z.array(fileName) }).strict(),
  })
  .strict();

const manifestSchema = z
  .object({
    format: z.literal(BACKUP_FORMAT, { error: `expected ${BACKUP_FORMAT}, the only format this worker restores` }),
    cluster: z.string().min(1),
    backupId: z.string().min(1),
    workflowId: z.string(),
    startedAt: isoTime,
    completedAt: isoTime,
    redisVersion: z.string().max(64),
    engine: z.object({ engine: z.enum(['redis', 'valkey']), version: z.string().max(64) }).strict().optional(),
    rdbFormat: z.int().min(1).max(255).optional(),
    compression: z.enum(['none', 'gzip']),
    currentEpoch: count,
    nodes: z.array(node).min(1),
    shards: z.array(shard).min(1),
    keys: count,
    bytes: count,
  })
  // Fields a newer worker may add are kept; the ones above must be right.
  .loose();

/**
 * The manifest, or one problem per wrong field ("shards[0].object.sha256: ..."), including a
 * manifest that is not the one asked for or whose objects lie outside its own backup.
 */
export function validateManifest(raw: unknown, expected: { cluster: string; backupId: string }): { manifest: BackupManifest } | { problems: string[] } {
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) return { problems: formatIssues(parsed.error) };
  const m = parsed.data as BackupManifest;
  const problems: string[] = [];
  if (m.cluster !== expected.cluster) problems.push(`cluster: "${m.cluster}", but it was read as a backup of ${expected.cluster}`);
  if (m.backupId !== expected.backupId) problems.push(`backupId: "${m.backupId}", but it was read as backup ${expected.backupId}`);
  const ids = new Set(m.nodes.map((n) => n.id));
  if (ids.size !== m.nodes.length) problems.push('nodes: a node id is listed twice');
  const prefix = backupPrefix(expected.cluster, expected.backupId);
  m.shards.forEach((s, i) => {
    if (s.index !== i) problems.push(`shards[${i}].index: ${s.index}, expected ${i}`);
    if (!m.nodes.some((n) => n.id === s.masterId && n.role === 'master')) problems.push(`shards[${i}].masterId: ${s.masterId} is not a master in nodes`);
    // A manifest must not send a restore to another backup's (or cluster's) objects.
    if (!s.object.key.startsWith(prefix) || s.object.key.includes('..') || s.object.key.slice(prefix.length).includes('/')) {
      problems.push(`shards[${i}].object.key: "${s.object.key}" is not an object of this backup (expected under ${prefix})`);
    }
  });
  m.nodes.forEach((n, i) => {
    if (n.role === 'replica' && !m.nodes.some((o) => o.id === n.masterId && o.role === 'master')) problems.push(`nodes[${i}].masterId: ${n.masterId ?? 'null'} is not a master in nodes`);
  });
  return problems.length > 0 ? { problems } : { manifest: m };
}
