/**
 * The health verdict of the runbook's "Check Cluster Health", as a pure function of what
 * every node said. Each finding names the node and what an operator should do; the checks
 * themselves are the table in healthChecks.ts.
 */
import type { ClusterNode } from './nodes';
import type { ClusterInfo, ReplicationInfo } from './info';
import { HEALTH_CHECKS, type AnsweredNode, type FlaggedNode, type HealthCheck, type HealthContext, type Observed, type UnansweredNode } from './healthChecks';
import { servingMasters, slotMapSignature } from './slotMap';
import { countSlots, formatSlotRanges, SLOT_COUNT, uncoveredSlots } from './slots';
import type { EngineVersion } from './engine';

/** What one node answered, or why it could not. Produced by the collectClusterState activity. */
export interface NodeObservation {
  address: string;
  error?: { kind: 'unreachable' | 'auth' | 'cluster-disabled' | 'other'; message: string };
  clusterInfo?: Omit<ClusterInfo, 'raw'>;
  /** This node's CLUSTER NODES view. */
  view?: ClusterNode[];
  replication?: ReplicationInfo;
  /** INFO's redis_version: on Valkey, the Redis release it is compatible with (7.2.4 for 8.x). */
  redisVersion?: string;
  /** The engine and its own version (absent from observations of older workers). */
  engine?: EngineVersion;
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

/** Every code a health check can find, in table order (metrics set each one, 0 when absent). */
export const FINDING_CODES: readonly FindingCode[] = [...new Set(HEALTH_CHECKS.map((c) => c.code))];

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

/**
 * The view most nodes share (by slot map): the reference the other views are compared with.
 * Roles come from each reachable node's own word (gossip about a role change lags behind it),
 * slot ownership from the majority.
 */
export function referenceView(observations: readonly NodeObservation[]): ClusterNode[] | undefined {
  const bySignature = new Map<string, { count: number; view: ClusterNode[] }>();
  for (const o of observations) {
    if (!o.view) continue;
    const sig = slotMapSignature(o.view);
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

/** Runs HEALTH_CHECKS over what the nodes said; findings come in table order, a node's together. */
export function analyzeHealth(observations: readonly NodeObservation[], expected: HealthExpectation): HealthReport {
  const ctx = healthContext(observations, expected);
  const findings: Finding[] = [];
  for (let first = 0; first < HEALTH_CHECKS.length;) {
    const over = HEALTH_CHECKS[first]!.over;
    let end = first;
    while (end < HEALTH_CHECKS.length && HEALTH_CHECKS[end]!.over === over) end++;
    const group = HEALTH_CHECKS.slice(first, end);
    const subjects: readonly unknown[] = over === 'cluster' ? [ctx] : ctx[over];
    for (const subject of subjects) {
      // Every check of the group is over `over`, so the subject fits its test; TS cannot tell per group.
      for (const check of group) findings.push(...findingsOf(check, check.test(subject as never, ctx)));
    }
    first = end;
  }
  const shards = ctx.shards.map((s) => s.shard);
  return {
    healthy: !findings.some((f) => f.severity !== 'info'),
    summary: {
      nodesObserved: observations.length,
      nodesReachable: ctx.answered.length,
      masters: shards.length,
      replicas: shards.reduce((sum, s) => sum + s.replicas.length, 0),
      slotsCovered: ctx.reference ? SLOT_COUNT - countSlots(ctx.unserved) : 0,
      clusterStateOk: ctx.answered.filter((o) => o.clusterInfo.state === 'ok').length,
      versions: ctx.versions,
    },
    shards,
    findings,
  };
}

function findingsOf(check: HealthCheck, observed: Observed | readonly Observed[] | undefined): Finding[] {
  const all: readonly Observed[] = observed === undefined ? [] : Array.isArray(observed) ? observed : [observed as Observed];
  return all.map(({ case: which, ...where }) => ({ code: check.code, severity: check.severity, ...where, advice: adviceOf(check, which) }));
}

function adviceOf(check: HealthCheck, which: string | undefined): string {
  if (typeof check.advice === 'string') return check.advice;
  const text = which === undefined ? undefined : check.advice[which];
  if (text === undefined) throw new Error(`health check ${check.code} has no advice for case ${String(which)}`);
  return text;
}

/** Everything the checks test, computed once: who answered, the reference view, flags, shards. */
function healthContext(observations: readonly NodeObservation[], expected: HealthExpectation): HealthContext {
  const answered = observations
    .filter((o): o is AnsweredNode => !!o.view && !!o.clusterInfo)
    .map((o) => ({ ...o, me: o.view.find((n) => n.myself) }));
  const reference = referenceView(answered);
  const refById = new Map((reference ?? []).map((n) => [n.id, n] as const));
  const flagged = new Map<string, FlaggedNode>();
  if (reference) {
    // Counted over every view so an operator sees how many nodes agree.
    for (const o of answered) {
      for (const n of o.view) {
        const entry = flagged.get(n.id) ?? { id: n.id, node: refById.get(n.id), fail: 0, pfail: 0 };
        if (n.flags.includes('fail')) entry.fail++;
        if (n.flags.includes('fail?')) entry.pfail++;
        flagged.set(n.id, entry);
      }
    }
  }
  const failed = new Set((reference ?? []).filter((n) => n.flags.includes('fail')).map((n) => n.id));
  return {
    expected,
    unanswered: observations.filter((o): o is UnansweredNode => !!o.error),
    answered,
    flagged: [...flagged.values()],
    shards: shardsOf(reference ?? []).map((shard) => ({ shard, liveReplicas: shard.replicas.filter((r) => !failed.has(r.id)).length })),
    reference,
    unserved: reference ? uncoveredSlots(servingMasters(reference).flatMap((n) => n.slots)) : [],
    versions: [...new Set(answered.map(shownVersion).filter((v): v is string => !!v))].sort(),
    addressOf: (id) => refById.get(id)?.address ?? id,
  };
}

/** The version a health report shows for a node: "7.0.15" for Redis, "valkey 8.1.1" for Valkey. */
function shownVersion(o: NodeObservation): string | undefined {
  if (o.engine?.engine === 'valkey') return `valkey ${o.engine.version}`;
  return o.engine?.version ?? o.redisVersion;
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

/** How a finding is told apart across health checks (baselines, waits, failure messages): its code and node. */
export function findingKey(f: Pick<Finding, 'code' | 'node'>): string {
  return `${f.code}${f.node ? ` ${f.node}` : ''}`;
}

/** A finding in one line of a failure or a report: its key and message. */
export function describeFinding(f: Pick<Finding, 'code' | 'node' | 'message'>): string {
  return `${findingKey(f)}: ${f.message}`;
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

/**
 * Findings that mean slots are not settled: what a topology change waits to be gone. An epoch
 * collision is among them: SETSLOT NODE bumps the importing master's epoch without consensus, so
 * a migration can leave two masters on one epoch, and until Redis bumps one of them a conflicting
 * claim to a slot has no winner. An operation that returns before that leaves a warning behind.
 */
export const SLOT_FINDINGS: readonly FindingCode[] = ['OPEN_SLOT', 'SLOT_MAP_DISAGREEMENT', 'SLOTS_UNCOVERED', 'SLOTS_NOT_OK', 'CLUSTER_STATE_FAIL', 'NODE_FAILED', 'CONFIG_EPOCH_COLLISION'];
