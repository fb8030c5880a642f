/**
 * The catalog and restore side of backups: which backups a store holds, their manifests and
 * checksums, retention, and filling a node's data directory from a shard archive. Bytes go
 * store -> node inside one activity as a stream.
 */
import { createHash } from 'node:crypto';
import { addAbortSignal, pipeline, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { pack } from 'tar-stream';
import { backupPrefix, claimKey, groupBackups, manifestKey, planRetention, type BackupManifest, type BackupObject, type Compression, type Retention, type StoredBackup } from '../cluster';
import type { NodeRuntime } from '../runtime';
import type { BackupStore } from '../storage';
import { heartbeating, throwIfCancelled } from './heartbeat';
import type { NodeConnector } from './redis/connection';
import { validateManifest } from '../cluster/manifestSchema';

function manifestInvalid(key: string, problems: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'ManifestInvalid',
    nonRetryable: true,
    message: `manifest ${key} is invalid, so the backup is not used: ${problems.join('; ')}; restore another backup`,
    details: [{ problems }],
  });
}

export interface NodeRestoreRequest {
  cluster: string;
  store: string;
  address: string;
  /** The shard archive this node loads (masters); replicas get none and sync from their master. */
  object?: BackupObject;
  compression: Compression;
  nodesConf: string;
}

export function createRestoreActivities(
  connectorFor: (cluster: string) => NodeConnector,
  runtimeFor: (cluster: string) => NodeRuntime,
  storeNamed: (cluster: string, store: string) => BackupStore,
) {
  const listing = async (s: BackupStore, cluster: string) =>
    groupBackups(cluster, (await s.list(`${cluster}/`)).map((o) => ({ key: o.key, size: o.size, lastModified: o.lastModified.toISOString() })));

  return {
    /** The backups of a cluster in a store, newest first; complete ones have a manifest. */
    async listBackups(cluster: string, store: string): Promise<StoredBackup[]> {
      return listing(storeNamed(cluster, store), cluster);
    },

    /** The manifest of a complete backup, validated; fails (not retried) when the backup is missing, incomplete or its manifest malformed. */
    async readBackupManifest(cluster: string, store: string, backupId: string): Promise<BackupManifest> {
      const s = storeNamed(cluster, store);
      const key = manifestKey(cluster, backupId);
      const raw = await s.getJson<unknown>(key).catch((err: Error) => {
        if (err instanceof SyntaxError) throw manifestInvalid(key, [`(file): not JSON (${err.message})`]);
        throw err;
      });
      if (raw !== undefined) {
        // What the store holds is checked like any input, before a workflow takes a lock on it.
        const checked = validateManifest(raw, { cluster, backupId });
        if ('problems' in checked) throw manifestInvalid(key, checked.problems);
        return checked.manifest;
      }
      const present = await listing(s, cluster);
      const partial = present.find((b) => b.backupId === backupId);
      const complete = present.filter((b) => b.complete).map((b) => b.backupId);
      throw ApplicationFailure.create({
        type: 'PreflightFailed',
        nonRetryable: true,
        message: partial
          ? `backupId: backup ${backupId} of cluster ${cluster} is incomplete (no ${manifestKey(cluster, backupId)}): it was interrupted and cannot be restored; complete backups: ${complete.join(', ') || 'none'}`
          : `backupId: no backup ${backupId} of cluster ${cluster} in ${s.description}; complete backups: ${complete.join(', ') || 'none'}`,
      });
    },

    /** Reads every object of a backup and checks its size and sha256 against the manifest. */
    async verifyBackupObjects(store: string, manifest: BackupManifest): Promise<{ objects: number; bytes: number }> {
      const s = storeNamed(manifest.cluster, store);
      let bytes = 0;
      return heartbeating(() => ({ bytes }), async () => {
        // All shards at once: the store and sha256 keep the one thread busy while others read.
        await Promise.all(manifest.shards.map(async (shard) => {
          const hash = createHash('sha256');
          let size = 0;
          for await (const chunk of await s.get(shard.object.key)) {
            hash.update(chunk as Buffer);
            size += (chunk as Buffer).length;
            bytes += (chunk as Buffer).length;
          }
          const sha256 = hash.digest('hex');
          if (sha256 !== shard.object.sha256 || size !== shard.object.size) {
            throw ApplicationFailure.create({
              type: 'PreflightFailed',
              nonRetryable: true,
              message:
                `backup ${manifest.backupId}: ${shard.object.key} fails its checksum (sha256 ${sha256.slice(0, 16)}..., ${size} bytes; ` +
                `the manifest says ${shard.object.sha256.slice(0, 16)}..., ${shard.object.size} bytes): the object was changed or damaged in the store; restore another backup`,
            });
          }
        }));
        return { objects: manifest.shards.length, bytes };
      });
    },

    /**
     * Takes a backup id for this workflow before anything is written. A complete backup of that
     * id, or objects another workflow wrote under it, refuse it; this workflow's own incomplete
     * objects (an earlier attempt or run) are its to overwrite.
     */
    async claimBackupId(cluster: string, store: string, backupId: string, workflowId: string): Promise<{ resumed: boolean }> {
      const s = storeNamed(cluster, store);
      return heartbeating({ claiming: backupId }, async () => {
        const objects = await s.list(backupPrefix(cluster, backupId));
        const taken = (why: string) =>
          ApplicationFailure.create({
            type: 'BackupIdTaken',
            nonRetryable: true,
            message: `backupId: ${backupId} ${why} in ${s.description}; nothing was written: choose another backupId, or leave it out for a new one`,
            details: [{ backupId }],
          });
        if (objects.some((o) => o.key === manifestKey(cluster, backupId))) throw taken(`is a complete backup of cluster ${cluster}, which is never overwritten`);
        if (objects.length > 0) {
          const claim = await s.getJson<{ workflowId?: string }>(claimKey(cluster, backupId));
          if (claim?.workflowId !== workflowId) throw taken(`holds objects of an unfinished backup written by ${claim?.workflowId ? `workflow ${claim.workflowId}` : 'another workflow'}`);
          return { resumed: true };
        }
        await s.putJson(claimKey(cluster, backupId), { workflowId, claimedAt: new Date().toISOString() });
        return { resumed: false };
      });
    },

    /** Deletes what an unfinished backup wrote; a complete one (its manifest stored) is left alone. */
    async discardIncompleteBackup(cluster: string, store: string, backupId: string): Promise<{ deleted: number }> {
      const s = storeNamed(cluster, store);
      return heartbeating({ discarding: backupId }, async () => {
        const objects = await s.list(backupPrefix(cluster, backupId));
        if (objects.some((o) => o.key === manifestKey(cluster, backupId))) return { deleted: 0 };
        // The claim last: until it goes, no other workflow may take the id.
        const keys = objects.map((o) => o.key).filter((k) => k !== claimKey(cluster, backupId));
        await s.delete(keys);
        await s.delete([claimKey(cluster, backupId)]);
        return { deleted: keys.length };
      });
    },

    /** Deletes what retention no longer keeps, and multipart uploads abandoned for a day. */
    async pruneBackups(cluster: string, store: string, retain: Retention, currentBackupId: string): Promise<{ deleted: string[]; abortedUploads: number }> {
      const s = storeNamed(cluster, store);
      return heartbeating({ pruning: cluster }, async () => {
        const backups = await listing(s, cluster);
        const complete = await Promise.all(
          backups.filter((b) => b.complete).map(async (b) => ({ ...b, time: (await s.getJson<BackupManifest>(manifestKey(cluster, b.backupId)))?.startedAt ?? b.time })),
        );
        const doomed = planRetention([...complete, ...backups.filter((b) => !b.complete)], retain, Date.now(), currentBackupId);
        // The manifest goes first: a half-deleted backup must not look complete.
        for (const b of doomed) {
          await s.delete(b.keys.filter((k) => k.endsWith('/manifest.json')));
          await s.delete(b.keys);
        }
        const abortedUploads = await s.abortIncomplete(`${cluster}/`, new Date(Date.now() - 24 * 3600_000));
        return { deleted: doomed.map((b) => b.backupId), abortedUploads };
      });
    },

    /**
     * Makes one node ready to start restored: it exists (created when new), is stopped, its data
     * directory is emptied, then holds the shard's AOF (masters) and its nodes.conf.
     */
    async restoreNodeData(req: NodeRestoreRequest): Promise<{ bytes: number }> {
      const runtime = runtimeFor(req.cluster);
      const store = storeNamed(req.cluster, req.store);
      let bytes = 0;
      let phase = 'stopping the node';
      const ctx = Context.current();
      // Each step heartbeats as it starts, so the Web UI shows it (and the harness can stop there).
      const step = (next: string) => ctx.heartbeat({ phase: (phase = next), bytes });
      // From the start: stopping a node that flushes a large AOF can take longer than a heartbeat timeout.
      return heartbeating(() => ({ phase, bytes }), async (cancelled) => {
        await runtime.status(req.address).catch(() => runtime.provision(req.address));
        await runtime.stop(req.address);
        throwIfCancelled();
        step('cleaning the data directory');
        await runtime.cleanDataDir(req.address);
        if (req.object) {
          step('copying the shard');
          // Counted on the way through: a 'data' listener would let bytes flow before the runtime reads.
          const counted = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              // Also a heartbeat every 256 KiB: progress shows in the Web UI as it happens.
              if ((bytes + chunk.length) >> 18 > bytes >> 18) ctx.heartbeat({ phase, bytes: bytes + chunk.length });
              bytes += chunk.length;
              done(null, chunk);
            },
          });
          // A cancelled restore stops reading the store at once; the node stays stopped, its data incomplete.
          const source = addAbortSignal(cancelled, await store.get(req.object.key));
          const raw = pipeline(source, counted, () => undefined);
          const tar = req.compression === 'gzip' ? pipeline(raw, createGunzip(), () => undefined) : raw;
          await runtime.writeDataDir(req.address, tar);
          throwIfCancelled();
        }
        step('writing nodes.conf');
        const conf = pack();
        conf.entry({ name: 'nodes.conf', mode: 0o644 }, req.nodesConf);
        conf.finalize();
        await runtime.writeDataDir(req.address, conf);
        return { bytes };
      });
    },

    /** DBSIZE of each node. */
    async countKeys(cluster: string, addresses: string[]): Promise<Record<string, number>> {
      const connector = connectorFor(cluster);
      const counts: Record<string, number> = {};
      for (const address of addresses) counts[address] = await connector.withNode(address, (r) => r.dbsize());
      return counts;
    },
  };
}
