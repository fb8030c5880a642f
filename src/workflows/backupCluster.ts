/**
 * Runbook: Trigger Manual Backup. Each shard is read from an in-sync replica (its master when
 * none is): a fresh AOF rewrite, then the base file and the AOF manifest streamed as a tar to
 * the store. manifest.json, written last, commits the backup; retention prunes old ones.
 */
import { ApplicationFailure, CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import type { ShardBackupResult } from '../activities/backups';
import { BACKUP_FORMAT, backupIdAt, expandObservations, formatSlotRanges, planBackupSources, shardObjectKey, type BackupManifest, type ShardSource } from '../cluster';
import { backupUploadWithinSixHours, redisCallsWithinAMinute, rewriteSettingRestoreWithinFifteenSeconds } from './activityOptions';
import { NodeHosts } from './hosts';
import { preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { backupSucceeded } from './metrics';
import { Operation } from './operation';
import { backupClusterInput } from './inputs';

export interface BackupReport {
  cluster: string;
  backupId: string;
  store: string;
  /** Where the manifest is, in the store. */
  manifestKey: string;
  keys: number;
  bytes: number;
  shards: { index: number; slots: string; source: string; role: 'master' | 'replica'; keys: number; bytes: number; rewriteMs: number; uploadMs: number }[];
  /** Shards read from another node than the first choice, and why. */
  fallbacks: string[];
  pruned: string[];
  durationMs: number;
  /** Set when nothing was backed up because the cluster stayed busy (input ifBusy.then "skip"). */
  skipped?: string;
}

const STEPS = ['Choose a node per shard', 'Rewrite and upload each shard', 'Write the manifest', 'Apply retention'] as const;

export async function backupCluster(rawInput: unknown): Promise<BackupReport> {
  const op = new Operation('backupCluster', STEPS, { checks: 1 });
  return op.run(async () => {
    const input = parseInput(backupClusterInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const started = Date.now();
    const info = workflowInfo();
    // The suffix tells apart two backups started in the same second. Run ids are UUIDv7 on
    // current servers, whose first digits are the timestamp again: the last ones are random.
    const suffix = patched('backup-id-random-suffix') ? info.runId.replace(/-/g, '').slice(-6) : info.runId.slice(0, 6);
    const backupId = input.backupId ?? backupIdAt(info.startTime, suffix);
    const busy = await lockOrSkip(op, spec.name, input.ifBusy);
    if (busy) {
      const skipped = `skipped: cluster busy (${busy})`;
      op.finish('succeeded', `backup of \`${spec.name}\` ${skipped}; nothing was written.`);
      return { cluster: spec.name, backupId, store: input.store ?? '', manifestKey: '', keys: 0, bytes: 0, shards: [], fallbacks: [], pruned: [], durationMs: Date.now() - started, skipped };
    }
    const store = await redisCallsWithinAMinute.describeStore(spec.name, input.store ?? '').catch(surfaceActivityFailure);
    // Before anything is written: an id in use is refused, this workflow's own unfinished one resumed.
    if (patched('backup-id-claimed')) await backupUploadWithinSixHours.claimBackupId(spec.name, store.name, backupId, info.workflowId).catch(surfaceActivityFailure);

    op.step(STEPS[0]);
    const plan = planBackupSources(expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes)), input.source);
    if (plan.problems.length > 0) {
      throw preflightFailed(`backup ${backupId} not started: ${plan.problems.join('; ')}`);
    }

    op.step(STEPS[1], `backup \`${backupId}\` to ${store.description}: ${plan.shards.length} shards in parallel`);
    const fallbacks: string[] = [];
    let results: ShardBackupResult[];
    let manifest: BackupManifest;
    let key: string;
    try {
      // Settled, not raced: no shard may still be writing when a failed backup discards its objects.
      const settled = await Promise.allSettled(
        plan.shards.map((shard) => backupOneShard(shard, { cluster: spec.name, store: store.name, backupId, compression: input.compression, timeoutMs: input.timeoutSeconds * 1000, hosts: NodeHosts.of(spec) }, fallbacks)),
      );
      const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failures.length > 0) throw failures.find(isCancellation) ?? failures[0];
      results = settled.map((r) => (r as PromiseFulfilledResult<ShardBackupResult>).value);

      op.step(STEPS[2]);
      manifest = {
        format: BACKUP_FORMAT,
        cluster: spec.name,
        backupId,
        workflowId: info.workflowId,
        startedAt: new Date(started).toISOString(),
        completedAt: new Date().toISOString(),
        redisVersion: results[0]!.redisVersion,
        ...(results[0]!.engine ? { engine: results[0]!.engine } : {}),
        ...(results.some((r) => r.rdbFormat !== undefined) ? { rdbFormat: Math.max(...results.map((r) => r.rdbFormat ?? 0)) } : {}),
        compression: input.compression,
        currentEpoch: plan.currentEpoch,
        nodes: plan.nodes,
        shards: plan.shards.map((s, i) => ({
          index: s.index,
          slots: s.slots,
          masterId: s.masterId,
          source: s.candidates.find((c) => c.address === results[i]!.address)!,
          keys: results[i]!.keys,
          object: results[i]!.object,
          aof: results[i]!.aof,
        })),
        keys: results.reduce((n, r) => n + r.keys, 0),
        bytes: results.reduce((n, r) => n + r.object.size, 0),
      };
      ({ key } = await backupUploadWithinSixHours.writeBackupManifest(store.name, manifest));
    } catch (err) {
      // Failed or cancelled before its manifest was stored: what it wrote goes, so the id is free
      // again. The activities have stopped by now (WAIT_CANCELLATION_COMPLETED); a stored manifest stays.
      await CancellationScope.nonCancellable(() => backupUploadWithinSixHours.discardIncompleteBackup(spec.name, store.name, backupId)).catch(() => undefined);
      throw err;
    }

    op.step(STEPS[3]);
    const pruned = input.retain ? (await backupUploadWithinSixHours.pruneBackups(spec.name, store.name, input.retain, backupId)).deleted : [];

    const report: BackupReport = {
      cluster: spec.name,
      backupId,
      store: store.name,
      manifestKey: key,
      keys: manifest.keys,
      bytes: manifest.bytes,
      shards: manifest.shards.map((s, i) => ({
        index: s.index,
        slots: formatSlotRanges(s.slots),
        source: s.source.address,
        role: s.source.role,
        keys: s.keys,
        bytes: s.object.size,
        rewriteMs: results[i]!.rewriteMs,
        uploadMs: results[i]!.uploadMs,
      })),
      fallbacks,
      pruned,
      durationMs: Date.now() - started,
    };
    backupSucceeded(spec.name, report, Date.now() - started, Date.now());
    op.finish('succeeded', `backup \`${backupId}\`: ${report.keys} keys, ${report.bytes} bytes in ${report.shards.length} shards${pruned.length ? `; pruned ${pruned.join(', ')}` : ''}.`);
    return report;
  });
}

/**
 * Takes the cluster, waiting up to ifBusy.waitSeconds while another operation holds it. With
 * then "skip", a cluster still busy returns who holds it instead of failing (the nightly
 * Schedule: a failure would pause it).
 */
async function lockOrSkip(op: Operation, cluster: string, ifBusy: { waitSeconds: number; then: 'fail' | 'skip' }): Promise<string | undefined> {
  try {
    await op.lock(cluster, { waitMs: ifBusy.waitSeconds * 1000 });
    return undefined;
  } catch (err) {
    if (ifBusy.then === 'skip' && err instanceof ApplicationFailure && err.type === 'ClusterBusy') return err.message;
    throw err;
  }
}

/** Reads a shard from its first candidate, and from the next when that one fails. */
async function backupOneShard(
  shard: ShardSource,
  ctx: { cluster: string; store: string; backupId: string; compression: 'none' | 'gzip'; timeoutMs: number; hosts: NodeHosts },
  fallbacks: string[],
): Promise<ShardBackupResult> {
  const errors: string[] = [];
  for (const candidate of shard.candidates) {
    // The operator's value, read before this backup changes it and kept in the history.
    let autoRewrite: string | undefined;
    try {
      autoRewrite = (await redisCallsWithinAMinute.aofSettings(ctx.cluster, candidate.address)).autoRewrite;
      // The node's files are read on its host, by its agent, and streamed from there to the store.
      const result = await ctx.hosts.node(backupUploadWithinSixHours, candidate.address).backupShard({
        cluster: ctx.cluster,
        store: ctx.store,
        address: candidate.address,
        objectKey: shardObjectKey(ctx.cluster, ctx.backupId, shard.index, ctx.compression),
        compression: ctx.compression,
        rewriteTimeoutMs: ctx.timeoutMs,
        autoRewrite,
      });
      if (errors.length > 0) fallbacks.push(`shard ${shard.index}: read from ${candidate.address} after ${errors.join('; ')}`);
      return result;
    } catch (err) {
      // Cancelled: no other node is tried; the finally below still puts the setting back.
      if (isCancellation(err)) throw err;
      errors.push(`${candidate.address} failed: ${messageOf(err)}`);
    } finally {
      // backupShard puts it back itself; this covers an attempt whose worker died, and a cancelled one.
      const original = autoRewrite;
      if (original !== undefined) await CancellationScope.nonCancellable(() => rewriteSettingRestoreWithinFifteenSeconds.setAutoRewrite(ctx.cluster, candidate.address, original)).catch(() => undefined);
    }
  }
  throw ApplicationFailure.create({
    type: 'BackupFailed',
    nonRetryable: true,
    message: `shard ${shard.index} (slots ${formatSlotRanges(shard.slots)}) could not be backed up (${errors.join('; ')}); no manifest was written, so backup ${ctx.backupId} is incomplete and will not be offered for restore`,
  });
}

function messageOf(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
