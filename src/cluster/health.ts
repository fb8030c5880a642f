/**
 * The health verdict of the runbook's "Check Cluster Health", as a pure function of what
 * every node said. Each finding names the node and what an operator should do.
 */
import type { ClusterNode } from './nodes';
import type { ClusterInfo, ReplicationInfo } from './info';
import { countSlots, formatSlotRanges, rangesFromSlots, SLOT_COUNT, uncoveredSlots } from './slots';

/** What one node answered, or why it could not. Produced by the collectClusterState activity. */
export interface NodeObservation {
  address: string;
  error?: { kind: 'unreachable' | 'auth' | 'cluster-disabled' | 'other'; message: string };
  clusterInfo?: Omit<ClusterInfo, 'raw'>;
  /** This node's CLUSTER NODES view. */
  view?: ClusterNode[];
  replication?: ReplicationInfo;
  redisVersion?: string;
}

export interface HealthExpectation {
  masters: number;
  replicasPerMaster: number;
  /** Total nodes; defaults to masters * (1 + replicasPerMaster). */
  nodes?: number;
  /** The worker reaches the nodes over TLS without checking their certificates (inventory tls.insecure). */
  tlsInsecure?: boolean;
}

export type Severity = 'critical' | 'warning' | 'info';

export type FindingCode =
  | 'NODE_UNREACHABLE'
  | 'AUTH_FAILED'
  | 'CLUSTER_MODE_DISABLED'
  | 'CLUSTER_STATE_FAIL'
  | 'SLOTS_UNCOVERED'
  | 'SLOTS_NOT_OK'
  | 'NODE_FAILED'
  | 'NODE_PFAIL'
  | 'KNOWN_NODES_MISMATCH'
  | 'MASTER_COUNT_MISMATCH'
  | 'MASTER_WITHOUT_REPLICA'
  | 'REPLICAS_BELOW_EXPECTED'
  | 'REPLICA_LINK_DOWN'
  | 'OPEN_SLOT'
  | 'SLOT_MAP_DISAGREEMENT'
  | 'CONFIG_EPOCH_COLLISION'
  | 'MIXED_VERSIONS'
  | 'TLS_UNVERIFIED';

export interface Finding {
  code: FindingCode;
  severity: Severity;
  /** The node the finding is about ("host:port"), when it is about one. */
  node?: string;
  nodeId?: string;
  message: string;
  advice: string;
  slots?: string;
}

export interface TopologyShard {
  master: { id: string; address: string; configEpoch: number };
  slots: string;
  slotCount: number;
  replicas: { id: string; address: string }[];
}

export interface HealthReport {
  healthy: boolean;
  summary: {
    nodesObserved: number;
    nodesReachable: number;
    masters: number;
    replicas: number;
    slotsCovered: number;
    clusterStateOk: number;
    versions: string[];
  };
  shards: TopologyShard[];
  findings: Finding[];
}

/** The slot map of a view: for every slot the owning master id, or '' when unassigned. */
function slotOwners(view: readonly ClusterNode[]): string[] {
  const owners = new Array<string>(SLOT_COUNT).fill('');
  for (const node of view) {
    if (node.role !== 'master') continue;
    for (const r of node.slots) for (let s = r.start; s <= r.end; s++) owners[s] = node.id;
  }
  return owners;
}

function mapSignature(view: readonly ClusterNode[]): string {
  return view
    .filter((n) => n.role === 'master' && n.slots.length > 0)
    .map((n) => `${n.id}=${formatSlotRanges(n.slots)}`)
    .sort()
    .join(';');
}

/**
 * The view most nodes share (by slot map): the reference the other views are compared with.
 * Roles come from each reachable node's own word (gossip about a role change lags behind it),
 * slot ownership from the majority.
 */
export function referenceView(observations: readonly NodeObservation[]): ClusterNode[] | undefined {
  const bySignature = new Map<string, { count: number; view: ClusterNode[] }>();
  for (const o of observations) {
    if (!o.view) continue;
    const sig = mapSignature(o.view);
    const entry = bySignature.get(sig) ?? { count: 0, view: o.view };
    entry.count++;
    bySignature.set(sig, entry);
  }
  const majority = [...bySignature.values()].sort((a, b) => b.count - a.count)[0]?.view;
  if (!majority) return undefined;
  const selves = new Map(observations.flatMap((o) => o.view?.filter((n) => n.myself) ?? []).map((n) => [n.id, n] as const));
  return majority.map((n) => {
    const self = selves.get(n.id);
    if (!self || n.myself || (self.role === n.role && self.masterId === n.masterId)) return n;
    return { ...n, role: self.role, masterId: self.masterId, flags: n.flags.map((f) => (f === 'master' || f === 'slave' ? (self.role === 'master' ? 'master' : 'slave') : f)) };
  });
}

export function analyzeHealth(observations: readonly NodeObservation[], expected: HealthExpectation): HealthReport {
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const reachable = observations.filter((o) => o.view && o.clusterInfo);

  for (const o of observations) {
    if (!o.error) continue;
    const { kind, message } = o.error;
    if (kind === 'auth') {
      add({ code: 'AUTH_FAILED', severity: 'critical', node: o.address, message: `authentication refused: ${message}`,
        advice: "Check the password (and ACL user) the worker uses for this cluster: the environment variable named by the inventory's auth.passwordEnv must hold the node's requirepass." });
    } else if (kind === 'cluster-disabled') {
      add({ code: 'CLUSTER_MODE_DISABLED', severity: 'critical', node: o.address, message: 'cluster support is disabled on this node',
        advice: 'Set cluster-enabled yes in its redis.conf and restart it, or remove the address from the inventory.' });
    } else {
      add({ code: 'NODE_UNREACHABLE', severity: 'critical', node: o.address, message: `cannot query the node: ${message}`,
        advice: 'Bring the node back up (check its container or process and its log); if it is gone for good, replace it and run repairCluster.' });
    }
  }

  const reference = referenceView(reachable);
  const refById = new Map((reference ?? []).map((n) => [n.id, n] as const));
  const addressOf = (id: string) => refById.get(id)?.address ?? id;

  for (const o of reachable) {
    const info = o.clusterInfo!;
    const me = o.view!.find((n) => n.myself);
    if (info.state !== 'ok') {
      add({ code: 'CLUSTER_STATE_FAIL', severity: 'critical', node: o.address, nodeId: me?.id,
        message: `cluster_state:fail (slots assigned ${info.slotsAssigned}, ok ${info.slotsOk}, pfail ${info.slotsPfail}, fail ${info.slotsFail})`,
        advice: 'Clients get CLUSTERDOWN from this node. Resolve the slot and node findings below; repairCluster automates the runbook fix.' });
    }
    const expectedNodes = expected.nodes ?? expected.masters * (1 + expected.replicasPerMaster);
    if (info.knownNodes !== expectedNodes) {
      add({ code: 'KNOWN_NODES_MISMATCH', severity: 'warning', node: o.address, nodeId: me?.id,
        message: `cluster_known_nodes:${info.knownNodes}, expected ${expectedNodes}`,
        advice: 'A node is missing or a stale one is still known. Add or remove nodes with addNode/removeNode, or update the inventory if the size changed on purpose.' });
    }
    if (me) {
      for (const m of me.migrating) {
        add({ code: 'OPEN_SLOT', severity: 'critical', node: o.address, nodeId: me.id, slots: String(m.slot),
          message: `slot ${m.slot} is MIGRATING to ${addressOf(m.peerId)}`,
          advice: 'A reshard was interrupted. Resume it with rebalance, or close it with repairCluster (finishes the move if the keys are on the target, else undoes it).' });
      }
      for (const i of me.importing) {
        add({ code: 'OPEN_SLOT', severity: 'critical', node: o.address, nodeId: me.id, slots: String(i.slot),
          message: `slot ${i.slot} is IMPORTING from ${addressOf(i.peerId)}`,
          advice: 'A reshard was interrupted. Resume it with rebalance, or close it with repairCluster (finishes the move if the keys are on the target, else undoes it).' });
      }
    }
    if (o.replication?.role === 'replica' && o.replication.masterLinkUp === false) {
      add({ code: 'REPLICA_LINK_DOWN', severity: 'critical', node: o.address, nodeId: me?.id,
        message: o.replication.masterSyncInProgress ? 'replica is syncing with its master (master_link_status:down)' : 'master_link_status:down',
        advice: "The replica does not receive writes. Check its master is up and that masterauth matches the master's requirepass." });
    }
  }

  if (reference) {
    const owners = slotOwners(reference);
    const unassigned = countSlots(uncoveredSlots(reference.filter((n) => n.role === 'master').flatMap((n) => n.slots)));
    const gaps = uncoveredSlots(servingMasters(reference).flatMap((n) => n.slots));
    if (gaps.length > 0) {
      const ownedByFailed = countSlots(gaps) - unassigned;
      add({ code: 'SLOTS_UNCOVERED', severity: 'critical', slots: formatSlotRanges(gaps),
        message: `${countSlots(gaps)} slots are not served: ${unassigned} assigned to no master, ${ownedByFailed} owned by failed masters`,
        advice: 'Keys in these slots cannot be served (CLUSTERDOWN Hash slot not served). If a node failed, bring it back; otherwise run repairCluster with assignUncovered.' });
    }

    for (const o of reachable) {
      if (mapSignature(o.view!) === mapSignature(reference)) continue;
      const mine = slotOwners(o.view!);
      const differing: number[] = [];
      for (let s = 0; s < SLOT_COUNT; s++) if (mine[s] !== owners[s]) differing.push(s);
      if (differing.length === 0) continue;
      const ranges = rangesFromSlots(differing);
      add({ code: 'SLOT_MAP_DISAGREEMENT', severity: 'critical', node: o.address, nodeId: o.view!.find((n) => n.myself)?.id,
        slots: formatSlotRanges(ranges),
        message: `this node's slot map differs from the majority's for ${differing.length} slots (e.g. slot ${differing[0]}: it says ${addressOf(mine[differing[0]!]!) || 'unassigned'}, the majority says ${addressOf(owners[differing[0]!]!) || 'unassigned'})`,
        advice: 'The cluster has not converged, often after a partition or an interrupted reshard. Wait a few node timeouts; if it persists, run repairCluster.' });
    }

    // Failure flags, counted over every view so an operator sees how many nodes agree.
    const flaggedBy = new Map<string, { fail: number; pfail: number }>();
    for (const o of reachable) {
      for (const n of o.view!) {
        const entry = flaggedBy.get(n.id) ?? { fail: 0, pfail: 0 };
        if (n.flags.includes('fail')) entry.fail++;
        if (n.flags.includes('fail?')) entry.pfail++;
        flaggedBy.set(n.id, entry);
      }
    }
    for (const [id, { fail, pfail }] of flaggedBy) {
      const node = refById.get(id);
      const slots = node && node.role === 'master' && node.slots.length > 0 ? formatSlotRanges(node.slots) : undefined;
      if (fail > 0) {
        add({ code: 'NODE_FAILED', severity: 'critical', node: addressOf(id), nodeId: id, slots,
          message: `${node?.role ?? 'node'} flagged fail by ${fail} node(s)`,
          advice: slots ? 'A master is down and no replica took over its slots: bring it back up (repairCluster restarts failed nodes).' : 'Bring the node back up; it rejoins as a replica. If it is gone for good, remove it with removeNode.' });
      } else if (pfail > 0) {
        add({ code: 'NODE_PFAIL', severity: 'warning', node: addressOf(id), nodeId: id,
          message: `flagged fail? (possibly failing) by ${pfail} node(s)`,
          advice: 'Other nodes lost contact within cluster-node-timeout. Check the node and the network; it turns into fail if a majority of masters agree.' });
      }
    }

    const refInfo = reachable.find((o) => mapSignature(o.view!) === mapSignature(reference))?.clusterInfo;
    if (refInfo && (refInfo.slotsPfail > 0 || refInfo.slotsFail > 0)) {
      add({ code: 'SLOTS_NOT_OK', severity: 'critical',
        message: `${refInfo.slotsFail} slots are served by failed masters and ${refInfo.slotsPfail} by possibly failing ones`,
        advice: 'Bring the failed masters back, or let their replicas take over (failover); see NODE_FAILED findings.' });
    }
  }

  const shards = shardsOf(reference ?? []);
  if (reference) {
    if (shards.length !== expected.masters) {
      add({ code: 'MASTER_COUNT_MISMATCH', severity: 'warning',
        message: `${shards.length} masters own slots, expected ${expected.masters}`,
        advice: 'Rebalance, add or remove masters, or update the inventory if the size changed on purpose.' });
    }
    for (const shard of shards) {
      const failed = new Set(reference.filter((n) => n.flags.includes('fail')).map((n) => n.id));
      const live = shard.replicas.filter((r) => !failed.has(r.id));
      if (live.length === 0) {
        add({ code: 'MASTER_WITHOUT_REPLICA', severity: 'critical', node: shard.master.address, nodeId: shard.master.id, slots: shard.slots,
          message: 'master has no working replica: if it fails, its slots go down',
          advice: 'Attach a replica (addNode with role replica, or CLUSTER REPLICATE a spare replica from a master that has two).' });
      } else if (live.length < expected.replicasPerMaster) {
        add({ code: 'REPLICAS_BELOW_EXPECTED', severity: 'warning', node: shard.master.address, nodeId: shard.master.id,
          message: `master has ${live.length} working replica(s), expected ${expected.replicasPerMaster}`,
          advice: 'Attach another replica with addNode (role replica).' });
      }
    }
    const byEpoch = new Map<number, string[]>();
    for (const s of shards) byEpoch.set(s.master.configEpoch, [...(byEpoch.get(s.master.configEpoch) ?? []), s.master.address]);
    for (const [epoch, masters] of byEpoch) {
      if (masters.length > 1) {
        add({ code: 'CONFIG_EPOCH_COLLISION', severity: 'warning', message: `masters ${masters.join(', ')} share configEpoch ${epoch}`,
          advice: 'Redis resolves this by itself within a few seconds; if it persists, check the nodes can reach each other on the cluster bus.' });
      }
    }
  }

  const versions = [...new Set(reachable.map((o) => o.redisVersion).filter((v): v is string => !!v))].sort();
  if (versions.length > 1) {
    add({ code: 'MIXED_VERSIONS', severity: 'info', message: `nodes run different Redis versions: ${versions.join(', ')}`,
      advice: 'Expected during upgradeRedis; otherwise finish the rolling upgrade.' });
  }

  if (expected.tlsInsecure) {
    // A warning, not info: anyone on the path can pose as a node and collect the cluster's password.
    add({ code: 'TLS_UNVERIFIED', severity: 'warning', message: 'the worker does not verify the nodes\' TLS certificates (tls.rejectUnauthorized false, tls.insecure true)',
      advice: 'Name the CA that signed the nodes\' certificates in the inventory (tls.caFile), then remove rejectUnauthorized false and insecure true.' });
  }

  const coveredSlots = reference ? SLOT_COUNT - countSlots(uncoveredSlots(servingMasters(reference).flatMap((n) => n.slots))) : 0;
  return {
    healthy: !findings.some((f) => f.severity !== 'info'),
    summary: {
      nodesObserved: observations.length,
      nodesReachable: reachable.length,
      masters: shards.length,
      replicas: shards.reduce((sum, s) => sum + s.replicas.length, 0),
      slotsCovered: coveredSlots,
      clusterStateOk: reachable.filter((o) => o.clusterInfo!.state === 'ok').length,
      versions,
    },
    shards,
    findings,
  };
}

/** Masters that can serve their slots: not flagged fail in the view. */
function servingMasters(view: readonly ClusterNode[]): ClusterNode[] {
  return view.filter((n) => n.role === 'master' && !n.flags.includes('fail'));
}

/** Masters that own slots, with their replicas, in slot order. */
export function shardsOf(view: readonly ClusterNode[]): TopologyShard[] {
  return view
    .filter((n) => n.role === 'master' && n.slots.length > 0)
    .sort((a, b) => (a.slots[0]?.start ?? 0) - (b.slots[0]?.start ?? 0))
    .map((m) => ({
      master: { id: m.id, address: m.address, configEpoch: m.configEpoch },
      slots: formatSlotRanges(m.slots),
      slotCount: countSlots(m.slots),
      replicas: view.filter((r) => r.masterId === m.id).map((r) => ({ id: r.id, address: r.address })),
    }));
}


/**
 * Findings that forbid changing the topology (moving slots, adding or removing nodes): the slot
 * map is unsettled or a node is out of reach. Missing replicas do not block: adding one is a fix.
 */
export const TOPOLOGY_BLOCKERS: readonly FindingCode[] = [
  'NODE_UNREACHABLE', 'AUTH_FAILED', 'CLUSTER_MODE_DISABLED', 'CLUSTER_STATE_FAIL', 'SLOTS_UNCOVERED', 'SLOTS_NOT_OK',
  'NODE_FAILED', 'NODE_PFAIL', 'OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT',
];

export function topologyBlockers(report: HealthReport, ignoreNode?: string): Finding[] {
  return report.findings.filter((f) => TOPOLOGY_BLOCKERS.includes(f.code) && (ignoreNode === undefined || f.node !== ignoreNode));
}

/** Findings that mean slots are not settled: what a topology change waits to be gone. */
export const SLOT_FINDINGS: readonly FindingCode[] = ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED', 'SLOTS_NOT_OK', 'CLUSTER_STATE_FAIL', 'NODE_FAILED'];
