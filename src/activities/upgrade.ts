/**
 * Activities of the rolling upgrade (runbook "Upgrade Redis Version"): each node's version,
 * replacing a node with another version through its runtime, and the waits that tell when a
 * replaced replica is in sync, when a failover swapped the roles, and whether health dropped.
 */
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import {
  analyzeHealth, describeFinding, engineVersionOf, findingKey, flattenInfo, formatSlotRanges, healthDrop, parseInfo, parseReplicationInfo, replicaSyncProblems,
  type Engine, type HealthExpectation, type ShardMember, type NodeVersion, type TopologyShard,
} from '../cluster';
import type { NodeRuntime } from '../runtime';
import { heartbeating } from './heartbeat';
import { observeCluster } from './redis/cluster';
import { myself } from './redis/commands';
import type { NodeConnector } from './redis/connection';
import { pollUntil } from '../util/polling';

export interface HealthCheckAfterShard {
  /** No finding the cluster did not have before the upgrade. */
  ok: boolean;
  /** The new findings, "CODE node: message". */
  newFindings: string[];
  shards: TopologyShard[];
}

/** The engine and its own version (valkey_version on Valkey, not its redis_version:7.2.4). */
const engineVersion = async (r: Redis) => engineVersionOf(flattenInfo(parseInfo(String(await r.call('INFO', 'server')))));
const replicationState = async (r: Redis) => parseReplicationInfo(parseInfo(String(await r.call('INFO', 'replication'))));

export function createUpgradeActivities(connectorFor: (cluster: string) => NodeConnector, runtimeFor: (cluster: string) => NodeRuntime) {
  return {
    /**
     * Each node's version as its runtime knows it and its redis_version; with `target`, first
     * checks every node could run it (the binary or image exists, or its registry has the image),
     * failing with InvalidInput. With `pull` (an upgrade that is not a dry run), first makes the
     * target's image present on every node's engine (docker: pulled with the worker's registry
     * credentials, one pull per engine), failing with PreflightFailed when a pull is refused:
     * before any node is touched.
     */
    async describeNodeVersions(cluster: string, addresses: string[], target?: string, options: { pull?: boolean } = {}): Promise<NodeVersion[]> {
      const runtime = runtimeFor(cluster);
      const connector = connectorFor(cluster);
      const pulled = new Map<string, boolean>();
      if (target !== undefined && options.pull && runtime.pullVersion) {
        await heartbeating({ pulling: target }, () =>
          Promise.all(
            addresses.map(async (address) => {
              const didPull = await runtime.pullVersion!(address, target).catch((err: Error) => {
                throw ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message: `version "${target}": ${err.message}; nothing was changed`, details: [{ node: address }] });
              });
              pulled.set(address, didPull);
            }),
          ),
        );
      }
      return Promise.all(
        addresses.map(async (address) => {
          if (target !== undefined) {
            await runtime.checkVersion(address, target).catch((err: Error) => {
              throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `version: "${target}" cannot run on ${err.message}`, details: [{ problems: [`version: ${err.message}`] }] });
            });
          }
          const reported = await connector.tryNode(address, engineVersion);
          return { address, version: await runtime.version(address), redisVersion: reported?.version, engine: reported?.engine, ...(pulled.get(address) ? { pulled: true } : {}) };
        }),
      );
    },

    /**
     * Runs the node on `version` (a no-op when it already does), keeping its data and node id.
     * `expect: "replica"` refuses to restart a node that has become a master of slots meanwhile
     * (its slots would go down); "in-place" is for a shard without a replica, or a spare node.
     * When the node does not come up on `version`, it is put back on `rollbackTo` (the version it
     * ran before) and the activity fails with UpgradeRolledBack, naming the node.
     */
    async replaceNodeVersion(cluster: string, address: string, version: string, expect: 'replica' | 'in-place', rollbackTo?: string): Promise<{ changed: boolean; tookMs: number; redisVersion?: string; engine?: Engine }> {
      const connector = connectorFor(cluster);
      const runtime = runtimeFor(cluster);
      // A node that does not answer may be the one a crashed attempt stopped: the replace goes on.
      // One whose process runs but that does not answer is hung: restarting it would hang too.
      // Heartbeating meanwhile: a hung node takes a connect and a command timeout to tell apart.
      const me = await heartbeating({ probing: address }, () => connector.withNode(address, myself)).catch(async (err: Error) => {
        if (/timed out|timeout/i.test(err.message) && (await runtime.status(address)) === 'running') {
          throw ApplicationFailure.create({
            type: 'NodeHung', nonRetryable: true,
            message: `${address} runs but does not answer (${err.message}): it hangs, so the upgrade stops before restarting it; fix or stop that node, then run the upgrade again`,
            details: [{ node: address }],
          });
        }
        return undefined;
      });
      if (expect === 'replica') {
        if (me?.role === 'master' && me.slots.length > 0) {
          throw ApplicationFailure.create({
            type: 'TopologyChanged', nonRetryable: true,
            message: `${address} should be a replica by now but is the master of slots ${formatSlotRanges(me.slots)}: restarting it would take them down; check the cluster (clusterHealth) and run the upgrade again`,
          });
        }
      }
      const started = Date.now();
      const replaced = await heartbeating({ replacing: address, version }, () => runtime.replace(address, version)).catch((err: Error) => err);
      if (replaced instanceof Error) {
        if (rollbackTo === undefined || rollbackTo === version) throw replaced;
        const back = await heartbeating({ rollingBack: address, to: rollbackTo }, () => runtime.replace(address, rollbackTo)).then(
          () => `it runs ${rollbackTo} again`,
          (err: Error) => `and could not be put back on ${rollbackTo} either (${err.message}): it is down`,
        );
        throw ApplicationFailure.create({
          type: 'UpgradeRolledBack', nonRetryable: true,
          message: `${address} did not come up on ${version} (${replaced.message}); ${back}`,
          details: [{ node: address, version, rollbackTo }],
        });
      }
      const reported = await connector.tryNode(address, engineVersion);
      return { changed: replaced.changed, tookMs: Date.now() - started, redisVersion: reported?.version, engine: reported?.engine };
    },

    /**
     * Once a replaced node is in sync, drops what its runtime kept to roll it back (docker: the
     * old container renamed aside). Idempotent.
     */
    async discardReplacedNode(cluster: string, address: string): Promise<void> {
      await runtimeFor(cluster).discardReplaced?.(address);
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
          // The offset to compare with the master's in the observations is one read after them:
          // the one read before trails the master by whatever was written meanwhile, which under
          // steady writes, and with a slow or hung node in the view, is never zero.
          const after = await connector.tryNode(replica, replicationState);
          const problems = replicaSyncProblems(observations, replica, masterId, after?.replicationOffset);
          return problems.length === 0 ? { done: true, value: { syncedAt: Date.now() } } : { done: false, status: problems.join('; ') };
        },
        { what: `${replica} to be an in-sync replica of ${masterId.slice(0, 8)}`, timeoutMs, intervalMs: 50 },
      );
    },

    /** Waits until `newMaster` says it is a master of slots and `oldMaster` that it replicates it. */
    async awaitRolesSwapped(cluster: string, newMaster: ShardMember, oldMaster: ShardMember, timeoutMs: number): Promise<{ swappedAt: number }> {
      const connector = connectorFor(cluster);
      return pollUntil(
        async () => {
          const [n, o] = await Promise.all([connector.tryNode(newMaster.address, myself), connector.tryNode(oldMaster.address, myself)]);
          if (n?.role === 'master' && n.slots.length > 0 && o?.role === 'replica' && o.masterId === newMaster.id) return { done: true, value: { swappedAt: Date.now() } };
          return { done: false, status: `${newMaster.address} is ${n?.role ?? 'unreachable'}, ${oldMaster.address} is ${o ? `${o.role}${o.masterId ? ` of ${o.masterId.slice(0, 8)}` : ''}` : 'unreachable'}` };
        },
        { what: `${newMaster.address} to be the master and ${oldMaster.address} its replica`, timeoutMs },
      );
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
            return { done: true, value: { ok: drop.length === 0, newFindings: drop.map(describeFinding), shards: report.shards } };
          }
          return { done: false, status: drop.map(findingKey).join(', ') };
        },
        { what: 'the cluster to be as healthy as before the upgrade', timeoutMs: timeoutMs + 30_000, intervalMs: 500 },
      );
    },
  };
}
