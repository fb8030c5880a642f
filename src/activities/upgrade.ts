/**
 * Activities of the rolling upgrade (runbook "Upgrade Redis Version"): each node's version,
 * replacing a node with another version through its runtime, and the waits that tell when a
 * replaced replica is in sync, when a failover swapped the roles, and whether health dropped.
 */
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import {
  analyzeHealth, findingKey, flattenInfo, formatSlotRanges, healthDrop, parseInfo, parseReplicationInfo, replicaSyncProblems,
  type HealthExpectation, type ShardMember, type NodeVersion, type TopologyShard,
} from '../cluster';
import type { NodeRuntime } from '../runtime';
import { faultPoint } from './faults';
import { heartbeating } from './heartbeat';
import { myself, observeCluster } from './redis/cluster';
import type { NodeConnector } from './redis/connection';
import { pollUntil } from './waiting';

export interface HealthCheckAfterShard {
  /** No finding the cluster did not have before the upgrade. */
  ok: boolean;
  /** The new findings, "CODE node: message". */
  newFindings: string[];
  shards: TopologyShard[];
}

const redisVersion = async (r: Redis) => flattenInfo(parseInfo(String(await r.call('INFO', 'server')))).redis_version;
const replicationState = async (r: Redis) => parseReplicationInfo(parseInfo(String(await r.call('INFO', 'replication'))));

export function createUpgradeActivities(connectorFor: (cluster: string) => NodeConnector, runtimeFor: (cluster: string) => NodeRuntime) {
  return {
    /**
     * Each node's version as its runtime knows it and its redis_version; with `target`, first
     * checks every node could run it (the binary or image exists), failing with InvalidInput.
     */
    async describeNodeVersions(cluster: string, addresses: string[], target?: string): Promise<NodeVersion[]> {
      const runtime = runtimeFor(cluster);
      const connector = connectorFor(cluster);
      return Promise.all(
        addresses.map(async (address) => {
          if (target !== undefined) {
            await runtime.checkVersion(address, target).catch((err: Error) => {
              throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `version: "${target}" cannot run on ${err.message}`, details: [{ problems: [`version: ${err.message}`] }] });
            });
          }
          return { address, version: await runtime.version(address), redisVersion: await connector.tryNode(address, redisVersion) };
        }),
      );
    },

    /**
     * Runs the node on `version` (a no-op when it already does), keeping its data and node id.
     * `expect: "replica"` refuses to restart a node that has become a master of slots meanwhile
     * (its slots would go down); "in-place" is for a shard without a replica, or a spare node.
     */
    async replaceNodeVersion(cluster: string, address: string, version: string, expect: 'replica' | 'in-place'): Promise<{ changed: boolean; tookMs: number; redisVersion?: string }> {
      const connector = connectorFor(cluster);
      if (expect === 'replica') {
        // A node that does not answer may be the one a crashed attempt stopped: the replace goes on.
        const me = await connector.tryNode(address, myself);
        if (me?.role === 'master' && me.slots.length > 0) {
          throw ApplicationFailure.create({
            type: 'TopologyChanged', nonRetryable: true,
            message: `${address} should be a replica by now but is the master of slots ${formatSlotRanges(me.slots)}: restarting it would take them down; check the cluster (clusterHealth) and run the upgrade again`,
          });
        }
      }
      const started = Date.now();
      const { changed } = await heartbeating({ replacing: address, version }, () => runtimeFor(cluster).replace(address, version));
      if (changed && expect === 'replica') faultPoint('upgrade-replica-replaced');
      return { changed, tookMs: Date.now() - started, redisVersion: await connector.tryNode(address, redisVersion) };
    },

    /**
     * Waits until `replica` replicates `masterId` with its link up, known so by a majority of
     * masters, flagged failing by none, and caught up with its master's offset.
     */
    async awaitReplicaInSync(cluster: string, seeds: string[], replica: string, masterId: string, timeoutMs: number): Promise<{ syncedAt: number }> {
      const connector = connectorFor(cluster);
      return pollUntil(
        async () => {
          // The replica's own word first, on one connection: the whole-cluster view (six
          // connections) only once its link is up, so the wait can poll often.
          const own = await connector.tryNode(replica, replicationState);
          if (!own || own.role !== 'replica' || !own.masterLinkUp || own.masterSyncInProgress) {
            return { done: false, status: `${replica}: ${!own ? 'not answering (loading?)' : own.role !== 'replica' ? 'not a replica yet' : own.masterSyncInProgress ? 'full sync in progress' : 'link to its master down'}` };
          }
          const observations = await observeCluster(connector, seeds);
          const problems = replicaSyncProblems(observations, replica, masterId, own.replicationOffset);
          return problems.length === 0 ? { done: true, value: { syncedAt: Date.now() } } : { done: false, status: problems.join('; ') };
        },
        { what: `${replica} to be an in-sync replica of ${masterId.slice(0, 8)}`, timeoutMs, intervalMs: 50 },
      );
    },

    /** Waits until `newMaster` says it is a master of slots and `oldMaster` that it replicates it. */
    async awaitRolesSwapped(cluster: string, newMaster: ShardMember, oldMaster: ShardMember, timeoutMs: number): Promise<{ swappedAt: number }> {
      const connector = connectorFor(cluster);
      const swapped = await pollUntil(
        async () => {
          const [n, o] = await Promise.all([connector.tryNode(newMaster.address, myself), connector.tryNode(oldMaster.address, myself)]);
          if (n?.role === 'master' && n.slots.length > 0 && o?.role === 'replica' && o.masterId === newMaster.id) return { done: true, value: { swappedAt: Date.now() } };
          return { done: false, status: `${newMaster.address} is ${n?.role ?? 'unreachable'}, ${oldMaster.address} is ${o ? `${o.role}${o.masterId ? ` of ${o.masterId.slice(0, 8)}` : ''}` : 'unreachable'}` };
        },
        { what: `${newMaster.address} to be the master and ${oldMaster.address} its replica`, timeoutMs },
      );
      faultPoint('upgrade-after-failover');
      return swapped;
    },

    /**
     * Waits up to `timeoutMs` for the cluster to have no finding beyond `baseline` (the findings
     * before the upgrade, by code and node); returns what is new when it does not get there.
     */
    async awaitHealthNoWorse(cluster: string, seeds: string[], expected: HealthExpectation, baseline: string[], timeoutMs: number): Promise<HealthCheckAfterShard> {
      const connector = connectorFor(cluster);
      const deadline = Date.now() + timeoutMs;
      return pollUntil(
        async () => {
          const report = analyzeHealth(await observeCluster(connector, seeds), expected);
          const drop = healthDrop(baseline, report);
          if (drop.length === 0 || Date.now() >= deadline) {
            return { done: true, value: { ok: drop.length === 0, newFindings: drop.map((f) => `${findingKey(f)}: ${f.message}`), shards: report.shards } };
          }
          return { done: false, status: drop.map(findingKey).join(', ') };
        },
        { what: 'the cluster to be as healthy as before the upgrade', timeoutMs: timeoutMs + 30_000, intervalMs: 500 },
      );
    },
  };
}
