/**
 * Backup and restore activities. Bytes go node -> store (and store -> node) inside one
 * activity as a stream: never through Temporal, never whole in memory.
 */
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { extract, pack } from 'tar-stream';
import type Redis from 'ioredis';
import {
  backupAofFiles,
  heldAutoRewrite,
  manifestKey,
  originalAutoRewrite,
  parseAofManifest,
  parseInfo,
  rdbFormatOfHeader,
  engineVersionOf,
  flattenInfo,
  type EngineVersion,
  rdbKeyCount,
  serializeAofManifest,
  type AofFile,
  type BackupManifest,
  type BackupObject,
  type Compression,
} from '../cluster';
import { firstFileText, type NodeRuntime } from '../runtime';
import type { BackupStore } from '../storage';
import { classifyRedisError, type NodeConnector } from './redis/connection';
import { heartbeating } from './heartbeat';
import { pollUntil } from '../util/polling';

export interface ShardBackupRequest {
  cluster: string;
  /** Name of the store in the inventory. */
  store: string;
  address: string;
  objectKey: string;
  compression: Compression;
  /** How long the AOF rewrite may take. */
  rewriteTimeoutMs: number;
  /** The operator's auto-aof-rewrite-percentage (from aofSettings, kept by the workflow), put back at the end. */
  autoRewrite: string;
}

export interface ShardBackupResult {
  address: string;
  object: BackupObject;
  keys: number;
  aof: { base: string; incr: string[] };
  redisVersion: string;
  /** The engine the node reports (Valkey by its own version). */
  engine?: EngineVersion;
  /** The RDB format of the AOF base (its header), when it has one. */
  rdbFormat?: number;
  rewriteMs: number;
  uploadMs: number;
}


interface BackupHeartbeat {
  phase: string;
  bytes?: number;
}

const HEADER_LIMIT = 1 << 20;

export function createBackupActivities(
  connectorFor: (cluster: string) => NodeConnector,
  runtimeFor: (cluster: string) => NodeRuntime,
  storeNamed: (cluster: string, store: string) => BackupStore,
) {
  return {
    /**
     * The AOF settings a backup depends on and changes: read before the backup, so the
     * workflow can put auto-aof-rewrite-percentage back even after a crashed attempt. A value
     * held by an earlier backup that died is read as the operator's value it carries.
     */
    async aofSettings(cluster: string, address: string): Promise<{ appendonly: boolean; autoRewrite: string; heldByEarlierBackup: boolean }> {
      const config = await connectorFor(cluster).withNode(address, (r) => configGet(r, ['appendonly', 'auto-aof-rewrite-percentage']));
      if (config.appendonly !== 'yes') {
        throw ApplicationFailure.create({
          type: 'PreflightFailed',
          nonRetryable: true,
          message: `${address} has appendonly off: backups read the AOF; turn it on (CONFIG SET appendonly yes, and in redis.conf)`,
        });
      }
      const { original, held } = originalAutoRewrite(config['auto-aof-rewrite-percentage'] ?? '100');
      return { appendonly: true, autoRewrite: original, heldByEarlierBackup: held };
    },

    async setAutoRewrite(cluster: string, address: string, percentage: string): Promise<void> {
      await connectorFor(cluster).withNode(address, (r) => r.config('SET', 'auto-aof-rewrite-percentage', percentage));
    },

    /**
     * Backs up one shard from one node: holds off automatic AOF rewrites, runs BGREWRITEAOF
     * and waits for it, then streams the new base file with the AOF manifest as a tar into
     * the store. The incr files are stored empty: base alone is the dataset at the rewrite's
     * fork, a consistent point in time even while writes go on. The auto-rewrite setting is
     * put back at the end (and by the workflow when an attempt dies).
     */
    async backupShard(req: ShardBackupRequest): Promise<ShardBackupResult> {
      const store = storeNamed(req.cluster, req.store);
      const runtime = runtimeFor(req.cluster);
      const autoRewrite = req.autoRewrite;
      let beat: BackupHeartbeat = { phase: 'connecting' };
      const ctx = Context.current();
      return heartbeating(() => ({ ...beat }), (cancelled) =>
        readShard(cancelled).catch((err: unknown) => {
          // Not retried: the workflow reads the shard from the shard's other node at once.
          if (!(err instanceof ApplicationFailure) && classifyRedisError(err) === 'unreachable') {
            throw ApplicationFailure.create({ type: 'NodeUnreachable', nonRetryable: true, message: `${req.address} stopped answering while ${beat.phase} (${(err as Error).message})`, details: [{ node: req.address }] });
          }
          throw err;
        }),
      );

      function readShard(cancelled: AbortSignal): Promise<ShardBackupResult> {
        return connectorFor(req.cluster).withNode(req.address, async (redis) => {
          const config = await configGet(redis, ['appenddirname', 'appendfilename']);
          beat = { phase: 'rewriting' };
          await redis.config('SET', 'auto-aof-rewrite-percentage', heldAutoRewrite(autoRewrite));
          try {
            const rewriteStarted = Date.now();
            await rewriteAof(redis, req.address, req.rewriteTimeoutMs);
            const rewriteMs = Date.now() - rewriteStarted;
            const dir = config.appenddirname ?? 'appendonlydir';
            const manifestName = `${config.appendfilename ?? 'appendonly.aof'}.manifest`;
            const files = parseAofManifest(await readTarText(await runtime.readDataFiles(req.address, [`${dir}/${manifestName}`])));
            const { base, incr } = backupAofFiles(files);

            beat = { phase: 'uploading', bytes: 0 };
            const uploadStarted = Date.now();
            const source = await runtime.readDataFiles(req.address, [`${dir}/${base.name}`]);
            const { archive, keys } = shardArchive(source, dir, manifestName, base, incr);
            const body = pipeline(archive, req.compression === 'gzip' ? createGzip({ level: 1 }) : new PassThrough(), () => undefined);
            const put = await store.put(req.objectKey, body, {
              signal: cancelled,
              onProgress: (bytes) => {
                // Also a heartbeat every 256 KiB: progress shows in the Web UI as it happens.
                if (bytes >> 18 > (beat.bytes ?? 0) >> 18) ctx.heartbeat({ phase: 'uploading', bytes });
                beat = { phase: 'uploading', bytes };
              },
            });
            const { keys: headerKeys, rdbFormat } = await keys;
            const info = parseInfo(await redis.info('server'));
            const engine = engineVersionOf(flattenInfo(info));
            return {
              address: req.address,
              object: { key: put.key, size: put.size, sha256: put.sha256 },
              // A base without the RDB preamble has no key count in its header: DBSIZE is close.
              keys: headerKeys ?? (await redis.dbsize()),
              aof: { base: base.name, incr: incr.map((f) => f.name) },
              redisVersion: info.server?.redis_version ?? 'unknown',
              ...(engine ? { engine } : {}),
              ...(rdbFormat !== undefined ? { rdbFormat } : {}),
              rewriteMs,
              uploadMs: Date.now() - uploadStarted,
            };
          } finally {
            await redis.config('SET', 'auto-aof-rewrite-percentage', autoRewrite).catch(() => undefined);
          }
        });
      }
    },

    /** Writes manifest.json, the commit marker, after checking every object it names is stored. */
    async writeBackupManifest(store: string, manifest: BackupManifest): Promise<{ key: string }> {
      const s = storeNamed(manifest.cluster, store);
      return heartbeating({ writing: manifestKey(manifest.cluster, manifest.backupId) }, async () => {
        for (const shard of manifest.shards) {
          const head = await s.head(shard.object.key);
          if (!head || head.size !== shard.object.size) {
            throw new Error(`shard ${shard.index}: ${shard.object.key} is ${head ? `${head.size} bytes, expected ${shard.object.size}` : 'missing'} in ${s.description}`);
          }
        }
        const key = manifestKey(manifest.cluster, manifest.backupId);
        await s.putJson(key, manifest);
        return { key };
      });
    },
  };
}

async function configGet(redis: Redis, names: string[]): Promise<Record<string, string | undefined>> {
  const flat = (await redis.config('GET', ...(names as [string]))) as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/**
 * Runs BGREWRITEAOF and waits until a rewrite that started after the request has finished
 * well. A rewrite already running started too early: wait for it, then ask again.
 */
async function rewriteAof(redis: Redis, address: string, timeoutMs: number): Promise<void> {
  const persistence = async () => parseInfo(await redis.info('persistence')).persistence ?? {};
  const before = Number((await persistence()).aof_rewrites ?? 0);
  let requested = false;
  await pollUntil(
    async () => {
      const p = await persistence();
      if (!requested) {
        if (p.aof_rewrite_in_progress === '1') return { done: false, status: 'an earlier AOF rewrite is still running' };
        try {
          await redis.bgrewriteaof();
          requested = true;
        } catch (err) {
          if (/already in progress/i.test((err as Error).message)) return { done: false, status: 'an earlier AOF rewrite is still running' };
          throw err;
        }
        return { done: false, status: 'BGREWRITEAOF sent' };
      }
      if (p.aof_rewrite_in_progress === '1' || p.aof_rewrite_scheduled === '1') return { done: false, status: 'AOF rewrite running' };
      if (Number(p.aof_rewrites ?? 0) <= before) return { done: false, status: 'AOF rewrite not started yet' };
      if (p.aof_last_bgrewrite_status !== 'ok') {
        throw ApplicationFailure.create({ type: 'AofRewriteFailed', message: `AOF rewrite failed on ${address} (aof_last_bgrewrite_status:${p.aof_last_bgrewrite_status}); see its log (disk full?)` });
      }
      return { done: true, value: undefined };
    },
    { what: `the AOF rewrite on ${address}`, timeoutMs, intervalMs: 50 },
  );
}

/** The one small file a readDataFiles tar holds, as text. */
async function readTarText(tar: Readable): Promise<string> {
  const text = await firstFileText(tar);
  if (text === undefined) throw new Error('the data directory read returned no file');
  return text;
}

/**
 * The shard archive: the AOF manifest (base and incr files, no history), the incr files
 * empty, and the base file streamed from `source` (a tar holding it). `keys` resolves to the
 * count in the base's RDB header and its RDB format, each undefined when it has none.
 */
function shardArchive(source: Readable, dir: string, manifestName: string, base: AofFile, incr: AofFile[]): { archive: Readable; keys: Promise<{ keys?: number; rdbFormat?: number }> } {
  const archive = pack();
  const mtime = new Date();
  archive.entry({ name: `${dir}/${manifestName}`, mode: 0o644, mtime }, serializeAofManifest([base, ...incr]));
  for (const f of incr) archive.entry({ name: `${dir}/${f.name}`, mode: 0o644, size: 0, mtime }, '');
  let settle: (header: { keys?: number; rdbFormat?: number }) => void = () => undefined;
  const keys = new Promise<{ keys?: number; rdbFormat?: number }>((resolve) => (settle = resolve));
  const fail = (err: Error) => archive.destroy(err);
  const ex = extract();
  let found = false;
  ex.on('entry', (header, stream, next) => {
    if (header.name !== `${dir}/${base.name}` || found) {
      stream.resume();
      stream.on('end', next);
      return;
    }
    found = true;
    let head = Buffer.alloc(0);
    let counted = false;
    stream.on('data', (chunk: Buffer) => {
      if (counted) return;
      head = Buffer.concat([head, chunk]);
      const n = rdbKeyCount(head);
      if (n !== 'need-more' || head.length >= HEADER_LIMIT) {
        counted = true;
        settle({ keys: n === 'need-more' ? undefined : n, rdbFormat: rdbFormatOfHeader(head) });
      }
    });
    const entry = archive.entry({ name: header.name, size: header.size, mode: 0o644, mtime: header.mtime }, (err) => (err ? fail(err) : next()));
    stream.pipe(entry);
  });
  ex.on('finish', () => {
    if (!found) return fail(new Error(`the AOF base ${dir}/${base.name} was not in the data directory read (a newer rewrite replaced it?)`));
    settle({});
    archive.finalize();
  });
  ex.on('error', fail);
  source.on('error', fail);
  source.pipe(ex);
  return { archive, keys };
}
