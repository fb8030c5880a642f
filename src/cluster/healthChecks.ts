/**
 * The checks of the runbook's "Check Cluster Health", one entry per finding code: what it is
 * about, how bad it is, the test that finds it, and what the operator should do. analyzeHealth
 * runs this table top to bottom; the README's findings table is checked against it.
 */
import type { ClusterNode } from './nodes';
import type { FindingCode, HealthExpectation, NodeObservation, Severity, TopologyShard } from './health';
import { slotMapSignature, slotOwners } from './slotMap';
import { countSlots, formatSlotRanges, rangesFromSlots, SLOT_COUNT, uncoveredSlots, type SlotRange } from './slots';

/** A node that answered CLUSTER INFO and CLUSTER NODES; `me` is its own line in its view. */
export type AnsweredNode = NodeObservation & Required<Pick<NodeObservation, 'view' | 'clusterInfo'>> & { me?: ClusterNode };
export type UnansweredNode = NodeObservation & Required<Pick<NodeObservation, 'error'>>;
/** A node as the failure flags of every view describe it. */
export interface FlaggedNode { id: string; node?: ClusterNode; fail: number; pfail: number }
/** A shard and how many of its replicas are not flagged fail. */
export interface ShardRedundancy { shard: TopologyShard; liveReplicas: number }

/** What the checks see: every subject they test, and the reference view to compare with. */
export interface HealthContext {
  expected: HealthExpectation;
  unanswered: UnansweredNode[];
  answered: AnsweredNode[];
  /** Empty when there is no reference view (no node answered). */
  flagged: FlaggedNode[];
  shards: ShardRedundancy[];
  reference?: ClusterNode[];
  /** Slots no serving master covers in the reference view. */
  unserved: SlotRange[];
  versions: string[];
  addressOf(id: string): string;
}

/** What a check subjects its test to: a table run visits each subject once per group of checks. */
interface Subjects {
  unanswered: UnansweredNode;
  answered: AnsweredNode;
  flagged: FlaggedNode;
  shards: ShardRedundancy;
  cluster: HealthContext;
}
export type SubjectKind = keyof Subjects;

/** Where and what one finding is; `case` picks the advice when a check has one per case. */
export interface Observed { node?: string; nodeId?: string; slots?: string; message: string; case?: string }

interface CheckOn<K extends SubjectKind> {
  code: FindingCode;
  severity: Severity;
  /** Consecutive checks over the same subjects run subject by subject, so a node's findings stay together. */
  over: K;
  meaning: string;
  advice: string | Readonly<Record<string, string>>;
  test(subject: Subjects[K], ctx: HealthContext): Observed | readonly Observed[] | undefined;
}
export type HealthCheck = { [K in SubjectKind]: CheckOn<K> }[SubjectKind];

const RESHARD_INTERRUPTED = 'A reshard was interrupted. Resume it with rebalance, or close it with repairCluster (finishes the move if the keys are on the target, else undoes it).';

export const HEALTH_CHECKS: readonly HealthCheck[] = [
  {
    code: 'AUTH_FAILED', severity: 'critical', over: 'unanswered',
    meaning: "a node refused the worker's credentials",
    advice: "Check the password (and ACL user) the worker uses for this cluster: the environment variable named by the inventory's auth.passwordEnv must hold the node's requirepass.",
    test: (o) => (o.error.kind === 'auth' ? { node: o.address, message: `authentication refused: ${o.error.message}` } : undefined),
  },
  {
    code: 'CLUSTER_MODE_DISABLED', severity: 'critical', over: 'unanswered',
    meaning: 'a node runs with cluster support disabled',
    advice: 'Set cluster-enabled yes in its redis.conf and restart it, or remove the address from the inventory.',
    test: (o) => (o.error.kind === 'cluster-disabled' ? { node: o.address, message: 'cluster support is disabled on this node' } : undefined),
  },
  {
    code: 'NODE_UNREACHABLE', severity: 'critical', over: 'unanswered',
    meaning: 'a node could not be queried (refused, timed out, or another error)',
    advice: 'Bring the node back up (check its container or process and its log); if it is gone for good, replace it and run repairCluster.',
    test: (o) => (o.error.kind === 'auth' || o.error.kind === 'cluster-disabled' ? undefined : { node: o.address, message: `cannot query the node: ${o.error.message}` }),
  },
  {
    code: 'CLUSTER_STATE_FAIL', severity: 'critical', over: 'answered',
    meaning: 'a node reports `cluster_state:fail` (clients get CLUSTERDOWN)',
    advice: 'Clients get CLUSTERDOWN from this node. Resolve the slot and node findings below; repairCluster automates the runbook fix.',
    test: ({ address, me, clusterInfo: info }) => (info.state === 'ok' ? undefined : {
      node: address, nodeId: me?.id,
      message: `cluster_state:fail (slots assigned ${info.slotsAssigned}, ok ${info.slotsOk}, pfail ${info.slotsPfail}, fail ${info.slotsFail})`,
    }),
  },
  {
    code: 'KNOWN_NODES_MISMATCH', severity: 'warning', over: 'answered',
    meaning: 'a node knows more or fewer nodes than the inventory has',
    advice: 'A node is missing or a stale one is still known. Add or remove nodes with addNode/removeNode, or update the inventory if the size changed on purpose.',
    test: ({ address, me, clusterInfo }, { expected }) => {
      const expectedNodes = expected.nodes ?? expected.masters * (1 + expected.replicasPerMaster);
      if (clusterInfo.knownNodes === expectedNodes) return undefined;
      return { node: address, nodeId: me?.id, message: `cluster_known_nodes:${clusterInfo.knownNodes}, expected ${expectedNodes}` };
    },
  },
  {
    code: 'OPEN_SLOT', severity: 'critical', over: 'answered',
    meaning: 'a slot left MIGRATING or IMPORTING by an interrupted reshard',
    advice: RESHARD_INTERRUPTED,
    test: ({ address, me }, { addressOf }) => (me ? [
      ...me.migrating.map((m) => ({ node: address, nodeId: me.id, slots: String(m.slot), message: `slot ${m.slot} is MIGRATING to ${addressOf(m.peerId)}` })),
      ...me.importing.map((i) => ({ node: address, nodeId: me.id, slots: String(i.slot), message: `slot ${i.slot} is IMPORTING from ${addressOf(i.peerId)}` })),
    ] : undefined),
  },
  {
    code: 'REPLICA_LINK_DOWN', severity: 'critical', over: 'answered',
    meaning: "a replica's link to its master is down (or still syncing)",
    advice: "The replica does not receive writes. Check its master is up and that masterauth matches the master's requirepass.",
    test: ({ address, me, replication }) => (replication?.role === 'replica' && replication.masterLinkUp === false ? {
      node: address, nodeId: me?.id,
      message: replication.masterSyncInProgress ? 'replica is syncing with its master (master_link_status:down)' : 'master_link_status:down',
    } : undefined),
  },
  {
    code: 'SLOTS_UNCOVERED', severity: 'critical', over: 'cluster',
    meaning: 'slots assigned to no master or owned by a failed one',
    advice: 'Keys in these slots cannot be served (CLUSTERDOWN Hash slot not served). If a node failed, bring it back; otherwise run repairCluster with assignUncovered.',
    test: ({ reference, unserved }) => {
      if (!reference || unserved.length === 0) return undefined;
      const unassigned = countSlots(uncoveredByMasters(reference));
      return {
        slots: formatSlotRanges(unserved),
        message: `${countSlots(unserved)} slots are not served: ${unassigned} assigned to no master, ${countSlots(unserved) - unassigned} owned by failed masters`,
      };
    },
  },
  {
    code: 'SLOT_MAP_DISAGREEMENT', severity: 'critical', over: 'answered',
    meaning: "a node's slot map differs from the majority's",
    advice: 'The cluster has not converged, often after a partition or an interrupted reshard. Wait a few node timeouts; if it persists, run repairCluster.',
    test: ({ address, view }, { reference, addressOf }) => {
      if (!reference || slotMapSignature(view) === slotMapSignature(reference)) return undefined;
      const owners = slotOwners(reference);
      const mine = slotOwners(view);
      const differing: number[] = [];
      for (let s = 0; s < SLOT_COUNT; s++) if (mine[s] !== owners[s]) differing.push(s);
      const first = differing[0];
      if (first === undefined) return undefined;
      return {
        node: address, nodeId: view.find((n) => n.myself)?.id, slots: formatSlotRanges(rangesFromSlots(differing)),
        message: `this node's slot map differs from the majority's for ${differing.length} slots (e.g. slot ${first}: it says ${addressOf(mine[first]!) || 'unassigned'}, the majority says ${addressOf(owners[first]!) || 'unassigned'})`,
      };
    },
  },
  {
    code: 'NODE_FAILED', severity: 'critical', over: 'flagged',
    meaning: 'a node flagged `fail`, with how many nodes agree',
    advice: {
      'a master that owns slots': 'A master is down and no replica took over its slots: bring it back up (repairCluster restarts failed nodes).',
      'any other node': 'Bring the node back up; it rejoins as a replica. If it is gone for good, remove it with removeNode.',
    },
    test: ({ id, node, fail }, { addressOf }) => {
      if (fail === 0) return undefined;
      const slots = node && node.role === 'master' && node.slots.length > 0 ? formatSlotRanges(node.slots) : undefined;
      return { node: addressOf(id), nodeId: id, slots, message: `${node?.role ?? 'node'} flagged fail by ${fail} node(s)`, case: slots ? 'a master that owns slots' : 'any other node' };
    },
  },
  {
    code: 'NODE_PFAIL', severity: 'warning', over: 'flagged',
    meaning: 'a node flagged `fail?` (possibly failing) and not `fail`, with how many nodes agree',
    advice: 'Other nodes lost contact within cluster-node-timeout. Check the node and the network; it turns into fail if a majority of masters agree.',
    test: ({ id, fail, pfail }, { addressOf }) => (fail === 0 && pfail > 0 ? { node: addressOf(id), nodeId: id, message: `flagged fail? (possibly failing) by ${pfail} node(s)` } : undefined),
  },
  {
    code: 'SLOTS_NOT_OK', severity: 'critical', over: 'cluster',
    meaning: 'the majority reports slots served by failed or possibly failing masters',
    advice: 'Bring the failed masters back, or let their replicas take over (failover); see NODE_FAILED findings.',
    test: ({ reference, answered }) => {
      if (!reference) return undefined;
      const info = answered.find((o) => slotMapSignature(o.view) === slotMapSignature(reference))?.clusterInfo;
      if (!info || (info.slotsPfail === 0 && info.slotsFail === 0)) return undefined;
      return { message: `${info.slotsFail} slots are served by failed masters and ${info.slotsPfail} by possibly failing ones` };
    },
  },
  {
    code: 'MASTER_COUNT_MISMATCH', severity: 'warning', over: 'cluster',
    meaning: 'more or fewer masters own slots than the inventory has',
    advice: 'Rebalance, add or remove masters, or update the inventory if the size changed on purpose.',
    test: ({ reference, shards, expected }) => (reference && shards.length !== expected.masters
      ? { message: `${shards.length} masters own slots, expected ${expected.masters}` } : undefined),
  },
  {
    code: 'MASTER_WITHOUT_REPLICA', severity: 'critical', over: 'shards',
    meaning: 'a master has no working replica',
    advice: 'Attach a replica (addNode with role replica, or CLUSTER REPLICATE a spare replica from a master that has two).',
    test: ({ shard, liveReplicas }) => (liveReplicas === 0
      ? { node: shard.master.address, nodeId: shard.master.id, slots: shard.slots, message: 'master has no working replica: if it fails, its slots go down' } : undefined),
  },
  {
    code: 'REPLICAS_BELOW_EXPECTED', severity: 'warning', over: 'shards',
    meaning: 'a master has fewer working replicas than the inventory asks for',
    advice: 'Attach another replica with addNode (role replica).',
    test: ({ shard, liveReplicas }, { expected }) => (liveReplicas > 0 && liveReplicas < expected.replicasPerMaster
      ? { node: shard.master.address, nodeId: shard.master.id, message: `master has ${liveReplicas} working replica(s), expected ${expected.replicasPerMaster}` } : undefined),
  },
  {
    code: 'CONFIG_EPOCH_COLLISION', severity: 'warning', over: 'cluster',
    meaning: 'two masters share a configEpoch',
    advice: 'Redis resolves this by itself within a few seconds; if it persists, check the nodes can reach each other on the cluster bus.',
    test: ({ shards }) => {
      const byEpoch = new Map<number, string[]>();
      for (const { shard: { master } } of shards) byEpoch.set(master.configEpoch, [...(byEpoch.get(master.configEpoch) ?? []), master.address]);
      return [...byEpoch].filter(([, masters]) => masters.length > 1).map(([epoch, masters]) => ({ message: `masters ${masters.join(', ')} share configEpoch ${epoch}` }));
    },
  },
  {
    code: 'MIXED_VERSIONS', severity: 'info', over: 'cluster',
    meaning: 'nodes run different Redis versions',
    advice: 'Expected during upgradeRedis; otherwise finish the rolling upgrade.',
    test: ({ versions }) => (versions.length > 1 ? { message: `nodes run different Redis versions: ${versions.join(', ')}` } : undefined),
  },
  {
    // A warning, not info: anyone on the path can pose as a node and collect the cluster's password.
    code: 'TLS_UNVERIFIED', severity: 'warning', over: 'cluster',
    meaning: "the worker does not verify the nodes' TLS certificates",
    advice: 'Name the CA that signed the nodes\' certificates in the inventory (tls.caFile), then remove rejectUnauthorized false and insecure true.',
    test: ({ expected }) => (expected.tlsInsecure
      ? { message: 'the worker does not verify the nodes\' TLS certificates (tls.rejectUnauthorized false, tls.insecure true)' } : undefined),
  },
];

/** Slots no master of the view claims, failed or not. */
function uncoveredByMasters(view: readonly ClusterNode[]): SlotRange[] {
  return uncoveredSlots(view.filter((n) => n.role === 'master').flatMap((n) => n.slots));
}
