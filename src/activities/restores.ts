/**
 * The catalog and restore side of backups: which backups a store holds, their manifests and
 * checksums, retention, and filling a node's data directory from a shard archive. Bytes go
 * store -> node inside one activity as a stream.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/common';
import { pack } from 'tar-stream';
import { groupBackups, manifestKey, planRetention, type BackupManifest, type BackupObject, type Compression, type Retention, type StoredBackup } from '../cluster';
import type { NodeRuntime } from '../runtime';
import type { BackupStore } from '../storage';
import { faultPoint } from './faults';
import { heartbeating } from './heartbeat';
import type { NodeConnector } from './redis/connection';

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

    /** The manifest of a complete backup; fails (not retried) when the backup is missing or incomplete. */
    async readBackupManifest(cluster: string, store: string, backupId: string): Promise<BackupManifest> {
      const s = storeNamed(cluster, store);
      const manifest = await s.getJson<BackupManifest>(manifestKey(cluster, backupId));
      if (manifest) return manifest;
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

    /** Deletes what retention no longer keeps, and multipart uploads abandoned for a day. */
    async pruneBackups(cluster: string, store: string, retain: Retention, currentBackupId: string): Promise<{ deleted: string[]; abortedUploads: number }> {
      const s = storeNamed(cluster, store);
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
    },

    /**
     * Makes one node ready to start restored: it exists (created when new), is stopped, its data
     * directory is emptied, then holds the shard's AOF (masters) and its nodes.conf.
     */
    async restoreNodeData(req: NodeRestoreRequest): Promise<{ bytes: number }> {
      const runtime = runtimeFor(req.cluster);
      const store = storeNamed(req.cluster, req.store);
      await runtime.status(req.address).catch(() => runtime.provision(req.address));
      await runtime.stop(req.address);
      await runtime.cleanDataDir(req.address);
      let bytes = 0;
      return heartbeating(() => ({ bytes }), async () => {
        if (req.object) {
          // Counted on the way through: a 'data' listener would let bytes flow before the runtime reads.
          const counted = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              bytes += chunk.length;
              done(null, chunk);
            },
          });
          const raw = pipeline(await store.get(req.object.key), counted, () => undefined);
          const tar = req.compression === 'gzip' ? pipeline(raw, createGunzip(), () => undefined) : raw;
          await runtime.writeDataDir(req.address, tar);
          faultPoint('mid-restore');
        }
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
