/**
 * Activities that read and form a Redis Cluster: the runbook's "Check Cluster Health" and
 * `redis-cli --cluster create`, one idempotent step each.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import {
  engineVersionOf,
  analyzeHealth,
  countSlots,
  findingKey,
  flattenInfo,
  parseClusterInfo,
  parseClusterNodes,
  parseInfo,
  parseReplicationInfo,
  parseSlotRange,
  rangesFromSlots,
  slotInRanges,
  splitAddress,
  type FindingCode,
  type HealthExpectation,
  type HealthReport,
  type NodeObservation,
  type NodeProbe,
  type PlannedMaster,
  type PlannedReplica,
  compactObservations,
  type CollectedObservations,
} from '../../cluster';
import { callChecked, clusterNodes, myself, pipelineChecked } from './commands';
import { classifyRedisError, type NodeConnector } from './connection';
import { heartbeating } from '../heartbeat';
import { pollUntil } from '../../util/polling';

const MAX_DISCOVERED_NODES = 1000;

/** Observes one node; failures are part of the observation, not thrown. */
export async function observeNode(connector: NodeConnector, address: string): Promise<NodeObservation> {
  try {
    return await connector.withNode(address, async (redis) => {
      const [info, nodes, server] = await Promise.all([
        redis.call('CLUSTER', 'INFO'),
        redis.call('CLUSTER', 'NODES'),
        redis.call('INFO', 'server', 'replication'),
      ]);
      const { raw: _raw, ...clusterInfo } = parseClusterInfo(String(info));
      const sections = parseInfo(String(server));
      return {
        address,
        clusterInfo,
        view: parseClusterNodes(String(nodes)),
        replication: parseReplicationInfo(sections),
        redisVersion: flattenInfo(sections).redis_version,
        engine: engineVersionOf(flattenInfo(sections)),
      };
    });
  } catch (err) {
    return { address, error: { kind: classifyRedisError(err), message: (err as Error).message } };
  }
}

/** Observes the given nodes and every node their views mention, so no member is missed. */
export async function observeCluster(connector: NodeConnector, seeds: readonly string[]): Promise<NodeObservation[]> {
  const seen = new Set<string>();
  const observations: NodeObservation[] = [];
  let frontier = [...new Set(seeds)];
  while (frontier.length > 0 && seen.size < MAX_DISCOVERED_NODES) {
    frontier.forEach((a) => seen.add(a));
    const batch = await Promise.all(frontier.map((a) => observeNode(connector, a)));
    observations.push(...batch);
    frontier = [...new Set(batch.flatMap((o) => (o.view ?? []).map((n) => n.address)))].filter((a) => a !== '' && !seen.has(a));
  }
  return observations.sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
}

export function createClusterFormingActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /** Reads every node's CLUSTER INFO, CLUSTER NODES and INFO (the raw material of the health report). */
    async collectClusterState(cluster: string, seeds: string[]): Promise<CollectedObservations> {
      // Compact: N views of N nodes each would pass the payload limit on a large cluster.
      return compactObservations(await observeCluster(connectorFor(cluster), seeds));
    },

    /** What createCluster needs to know before it touches a node: is it empty, whom does it know. */
    async probeNodes(cluster: string, addresses: string[]): Promise<NodeProbe[]> {
      const connector = connectorFor(cluster);
      return Promise.all(
        addresses.map(async (address): Promise<NodeProbe> => {
          try {
            return await connector.withNode(address, async (redis) => {
              const view = await clusterNodes(redis);
              const me = view.find((n) => n.myself)!;
              const byId = new Map(view.map((n) => [n.id, n.address] as const));
              return {
                address,
                id: me.id,
                knows: view.filter((n) => !n.myself).map((n) => n.address),
                slotCount: countSlots(me.slots),
                keys: Number(await redis.dbsize()),
                role: me.role,
                masterAddress: me.masterId ? byId.get(me.masterId) : undefined,
              };
            });
          } catch (err) {
            return { address, error: (err as Error).message, knows: [], slotCount: 0, keys: 0 };
          }
        }),
      );
    },

    /** ADDSLOTSRANGE the planned slots a master does not own yet; sets its configEpoch while it is alone. */
    async assignSlots(cluster: string, master: PlannedMaster): Promise<{ added: number }> {
      const planned = parseSlotRange(master.slots);
      return heartbeating({ assigning: master.slots, to: master.address }, () => connectorFor(cluster).withNode(master.address, async (redis) => {
        const view = await clusterNodes(redis);
        const me = view.find((n) => n.myself)!;
        const others = view.filter((n) => !n.myself && n.role === 'master');
        const missing: number[] = [];
        for (let s = planned.start; s <= planned.end; s++) {
          const owner = others.find((n) => slotInRanges(s, n.slots));
          if (owner) {
            throw ApplicationFailure.create({
              type: 'ClusterAlreadyFormed', nonRetryable: true,
              message: `${master.address}: slot ${s} already belongs to ${owner.address}; createCluster builds only from empty nodes`,
            });
          }
          if (!slotInRanges(s, me.slots)) missing.push(s);
        }
        if (me.configEpoch === 0 && view.length === 1) {
          await callChecked(redis, master.address, 'CLUSTER', 'SET-CONFIG-EPOCH', String(master.configEpoch));
        }
        // One range per run of missing slots: a retry after a partial add leaves holes, not one block.
        await pipelineChecked(redis, master.address, rangesFromSlots(missing).map((r) => ['CLUSTER', 'ADDSLOTSRANGE', String(r.start), String(r.end)]));
        return { added: missing.length };
      }));
    },

    /**
     * CLUSTER MEET between every pair of nodes (skipped where they already know each other).
     * Meeting all pairs directly, instead of one seed and waiting for gossip, lets every node
     * know the whole cluster within one handshake instead of several gossip rounds.
     */
    async meetNodes(cluster: string, addresses: string[]): Promise<{ met: number }> {
      const connector = connectorFor(cluster);
      return heartbeating({ meeting: addresses.length }, async () => {
        const ips = await Promise.all(
          addresses.map(async (address) => {
            const { host, port } = splitAddress(address);
            return { address, ip: isIP(host) ? host : (await lookup(host)).address, port };
          }),
        );
        const results = await Promise.all(
          ips.map(({ address }, i) =>
            connector.withNode(address, async (redis) => {
              const known = new Set((await clusterNodes(redis)).map((n) => n.address));
              let met = 0;
              for (const peer of ips.slice(i + 1)) {
                if (known.has(peer.address) || known.has(`${peer.ip}:${peer.port}`)) continue;
                await callChecked(redis, address, 'CLUSTER', 'MEET', peer.ip, String(peer.port));
                met++;
              }
              return met;
            }),
          ),
        );
        return { met: results.reduce((a, b) => a + b, 0) };
      });
    },

    /** Waits until every node knows every other one with a completed handshake. */
    async awaitNodesKnown(cluster: string, addresses: string[], timeoutMs: number): Promise<void> {
      const connector = connectorFor(cluster);
      const wanted = new Set(addresses);
      await pollUntil(
        async () => {
          const lagging: string[] = [];
          for (const address of addresses) {
            const view = await connector.withNode(address, clusterNodes);
            const known = view.filter((n) => wanted.has(n.address) && !n.flags.includes('handshake') && !n.flags.includes('noaddr'));
            if (known.length < wanted.size) lagging.push(`${address} knows ${known.length}/${wanted.size}`);
          }
          return lagging.length === 0 ? { done: true, value: undefined } : { done: false, status: lagging.join('; ') };
        },
        { what: 'every node to know every other node', timeoutMs },
      );
    },

    /** CLUSTER REPLICATE each planned replica to its master (skipped where already so). */
    async replicateNodes(cluster: string, replicas: PlannedReplica[]): Promise<{ changed: number }> {
      const connector = connectorFor(cluster);
      let changed = 0;
      return heartbeating(() => ({ replicas: replicas.length, changed }), async () => {
        for (const replica of replicas) {
          const masterId = String(await connector.withNode(replica.masterAddress, (r) => r.call('CLUSTER', 'MYID')));
          changed += await connector.withNode(replica.address, async (redis) => {
            const me = await myself(redis);
            if (me.masterId === masterId) return 0;
            await callChecked(redis, replica.address, 'CLUSTER', 'REPLICATE', masterId);
            return 1;
          });
        }
        return { changed };
      });
    },

    /**
     * Waits until the cluster passes every health check, or with `only`, until none of those
     * findings is left; returns that report. With `expected` absent, the observed size is expected.
     */
    async awaitClusterHealthy(cluster: string, seeds: string[], expected: HealthExpectation, timeoutMs: number, only?: FindingCode[]): Promise<HealthReport> {
      const connector = connectorFor(cluster);
      return pollUntil(
        async () => {
          const report = analyzeHealth(await observeCluster(connector, seeds), expected);
          const blocking = only ? report.findings.filter((f) => only.includes(f.code)) : report.healthy ? [] : report.findings.filter((f) => f.severity !== 'info');
          if (blocking.length === 0) return { done: true, value: report };
          return { done: false, status: blocking.map(findingKey).join(', ') };
        },
        { what: only ? `no ${only.join('/')} finding on any node` : 'the cluster to be healthy on every node', timeoutMs, intervalMs: 200 },
      );
    },
  };
}
