/** A healthy 3x1 cluster as the activities observe it, from a CLUSTER NODES reply captured on Redis 7.0.15. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterNodes, planBackupSources, type BackupManifest, type NodeObservation } from '../../src/cluster';

const nodesText = readFileSync(join(__dirname, '..', 'fixtures', 'redis-7.0', 'cluster-nodes-healthy.txt'), 'utf8');

/** Every node answering with the same slot map; those in `down` unreachable. */
export function healthyObservations(down: string[] = []): NodeObservation[] {
  const view = parseClusterNodes(nodesText);
  return view.map((n) => ({
    address: n.address,
    ...(down.includes(n.address)
      ? { error: { kind: 'unreachable' as const, message: 'ECONNREFUSED' } }
      : {
          view: view.map((m) => ({ ...m, myself: m.id === n.id })),
          replication: { role: n.role, masterLinkUp: n.role === 'replica' ? true : null, masterSyncInProgress: false, connectedReplicas: 0, replicationOffset: 1 },
          clusterInfo: { state: 'ok' as const, slotsAssigned: 16384, slotsOk: 16384, slotsPfail: 0, slotsFail: 0, knownNodes: 6, size: 3, currentEpoch: 6, myEpoch: 1 },
        }),
  }));
}

/** A complete backup of that cluster, one object per shard. */
export function sampleManifest(cluster = 'main', backupId = 'b1'): BackupManifest {
  const plan = planBackupSources(healthyObservations(), 'replica');
  return {
    format: 1, cluster, backupId, workflowId: 'w', startedAt: '2026-11-27T03:00:00.000Z', completedAt: '2026-11-27T03:00:05.000Z',
    redisVersion: '7.0.15', compression: 'none', currentEpoch: plan.currentEpoch, nodes: plan.nodes,
    shards: plan.shards.map((s) => ({ index: s.index, slots: s.slots, masterId: s.masterId, source: s.candidates[0]!, keys: 10, object: { key: `${cluster}/${backupId}/shard-${s.index}.tar`, size: 1, sha256: 'x' }, aof: { base: 'b', incr: [] } })),
    keys: 30, bytes: 3,
  };
}
