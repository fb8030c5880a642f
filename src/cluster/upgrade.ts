/**
 * Pure decisions of a rolling upgrade (runbook "Upgrade Redis Version"): what each shard needs
 * and in which order, whether a replaced replica is in sync enough to take over, whether the
 * cluster's health dropped between shards, and whether every node ended on the new version.
 */
import { describeEngine, formatEngineVersion, rdbFormatOf, type Engine, type EngineVersion } from './engine';
import { findingKey, referenceView, shardsOf, type Finding, type HealthReport, type NodeObservation } from './health';

/** A node's version as its runtime knows it (image tag or versions-map name) and as it reports it. */
export interface NodeVersion {
  address: string;
  version: string;
  /**
   * The engine's own version from INFO server (valkey_version on Valkey, which also reports
   * redis_version:7.2.4; redis_version on Redis); absent when the node did not answer.
   */
  redisVersion?: string;
  /** Which server answered (INFO's server_name); absent when the node did not answer. */
  engine?: Engine;
  /** The target's image was pulled onto this node's engine before the upgrade (the nodes of one engine share the pull). */
  pulled?: boolean;
}

/**
 * The engine and version a target names, when it names one: "8.0.2", "8.0.2-alpine",
 * "redis-8.0.2" (Redis), "valkey-8.1", "valkey:8.1", "redisforge/valkey:8.1.1" (Valkey). The
 * version may have two parts ("8.1": any 8.1.x). Undefined for a name without a version.
 */
export function targetEngineVersion(target: string): EngineVersion | undefined {
  const engine: Engine = /valkey/i.test(target) ? 'valkey' : 'redis';
  const m = /(?:^|[^\d.])(\d+\.\d+(?:\.\d+)?)(?:$|[^\d.])/.exec(target);
  if (!m) return undefined;
  if (engine === 'redis' && !/^\d+\.\d+\.\d+$/.test(m[1]!)) return undefined;
  return { engine, version: m[1]! };
}

/**
 * Why a rolling upgrade to `target` cannot work: its engine reads an older RDB format than some
 * nodes write, so a node replaced onto it could not load its master's data (the full sync) and
 * the shard would be left with one node; undefined when it can, or when a version is unknown.
 * Going to an engine of an older format takes a migration (dump and load), not an upgrade.
 */
export function upgradeFormatProblem(nodes: readonly { address: string; engine?: EngineVersion }[], target: string): string | undefined {
  const wanted = targetEngineVersion(target);
  const reads = wanted && rdbFormatOf(wanted);
  if (reads === undefined) return undefined;
  const newer = nodes.filter((n) => n.engine && (rdbFormatOf(n.engine) ?? 0) > reads);
  if (newer.length === 0) return undefined;
  const formats = [...new Set(newer.map((n) => `${describeEngine(n.engine!)} (RDB format ${rdbFormatOf(n.engine!)!})`))];
  return `version: "${target}" (${describeEngine(wanted!)}) reads RDB format ${reads} at most, and ${newer.map((n) => n.address).join(', ')} ${newer.length > 1 ? 'run' : 'runs'} ${formats.join(', ')}: a node replaced onto it could not load its master's data, so a rolling upgrade there cannot work; choose a version that reads RDB format ${Math.max(...newer.map((n) => rdbFormatOf(n.engine!)!))} (a downgrade or a move to an older format needs a dump and load into a new cluster)`;
}

/** Whether a reported version is the one a target wants: "8.1" accepts "8.1.1"; "8.0.2" only "8.0.2". */
export function versionMatches(reported: string, wanted: string): boolean {
  return reported === wanted || reported.startsWith(`${wanted}.`);
}

export interface ShardMember {
  id: string;
  address: string;
}

export interface ShardUpgrade {
  /** The shard's slot ranges, e.g. "0-5460": how reports and the Web UI name it. */
  slots: string;
  master: ShardMember;
  replicas: ShardMember[];
  /** Replicas not on the target version yet, replaced first. */
  replaceReplicas: ShardMember[];
  /** The master is not on the target version: hand its slots to `failoverTo`, then replace it. */
  replaceMaster: boolean;
  /** The replica that takes over; absent when the shard has no replica. */
  failoverTo?: ShardMember;
  /** No replica: the master is restarted in place and its slots are down meanwhile. */
  downtime: boolean;
}

export interface UpgradePlan {
  version: string;
  /** Shards with something to replace, in slot order. */
  shards: ShardUpgrade[];
  /** Indexes into `shards`, `shardsInParallel` per wave; health is checked between waves. */
  waves: number[][];
  /** Nodes that own no slots and replicate no shard (an empty master): replaced last, as they are. */
  spares: ShardMember[];
  /** Nodes already on the target version, skipped. */
  alreadyUpgraded: string[];
  nodesToReplace: number;
}

export function planUpgrade(observations: readonly NodeObservation[], versions: Readonly<Record<string, string>>, target: string, shardsInParallel = 1): UpgradePlan {
  const view = referenceView(observations) ?? [];
  const onTarget = (address: string) => versions[address] === target;
  const shards: ShardUpgrade[] = [];
  const inShards = new Set<string>();
  for (const s of shardsOf(view)) {
    const replicas = view.filter((n) => n.masterId === s.master.id && !n.flags.includes('fail')).map((n) => ({ id: n.id, address: n.address }));
    [s.master.address, ...view.filter((n) => n.masterId === s.master.id).map((n) => n.address)].forEach((a) => inShards.add(a));
    const replaceReplicas = replicas.filter((r) => !onTarget(r.address));
    const replaceMaster = !onTarget(s.master.address);
    if (replaceReplicas.length === 0 && !replaceMaster) continue;
    shards.push({
      slots: s.slots,
      master: { id: s.master.id, address: s.master.address },
      replicas,
      replaceReplicas,
      replaceMaster,
      failoverTo: replaceMaster ? replicas[0] : undefined,
      downtime: replaceMaster && replicas.length === 0,
    });
  }
  const spares = view.filter((n) => n.address && !inShards.has(n.address) && !n.flags.includes('fail') && !onTarget(n.address)).map((n) => ({ id: n.id, address: n.address }));
  const step = Math.max(1, Math.floor(shardsInParallel));
  const waves: number[][] = [];
  for (let i = 0; i < shards.length; i += step) waves.push(shards.slice(i, i + step).map((_, j) => i + j));
  const alreadyUpgraded = view.map((n) => n.address).filter((a) => a && onTarget(a)).sort();
  const nodesToReplace = shards.reduce((sum, s) => sum + s.replaceReplicas.length + (s.replaceMaster ? 1 : 0), 0) + spares.length;
  return { version: target, shards, waves, spares, alreadyUpgraded, nodesToReplace };
}

/**
 * Why `replica` is not yet a replica of `masterId` that could take over: it must say so itself,
 * have its link up and no sync in progress, be known as that master's replica by a majority of
 * masters, flagged failing by none, and have caught up with its master. `replicaOffsetAfter` is
 * the replica's offset read after the observations, so comparing it with the master's offset
 * in them tells whether the replica reached where the master was, even under constant writes.
 * An empty list means in sync.
 */
export function replicaSyncProblems(observations: readonly NodeObservation[], replica: string, masterId: string, replicaOffsetAfter?: number): string[] {
  const own = observations.find((o) => o.address === replica);
  if (!own?.view) return [`${replica} cannot be queried${own?.error ? ` (${own.error.message})` : ''}`];
  const me = own.view.find((n) => n.myself);
  const view = referenceView(observations) ?? [];
  const masterAddress = view.find((n) => n.id === masterId)?.address ?? masterId.slice(0, 8);
  if (!me || me.role !== 'replica' || me.masterId !== masterId) return [`${replica} is not a replica of ${masterAddress} yet`];
  const problems: string[] = [];
  const rep = own.replication;
  if (rep?.masterLinkUp !== true) problems.push(`${replica} has master_link_status:down`);
  else if (rep.masterSyncInProgress) problems.push(`${replica} is still loading its sync`);
  const masterViews = observations.filter((o) => o.view?.find((n) => n.myself)?.role === 'master');
  const knownBy = masterViews.filter((o) => o.view!.find((n) => n.id === me.id)?.masterId === masterId).length;
  if (knownBy * 2 <= masterViews.length) problems.push(`${replica} is known as a replica of ${masterAddress} by ${knownBy} of ${masterViews.length} masters`);
  const flaggedBy = observations.filter((o) => o.view?.find((n) => n.id === me.id)?.flags.some((f) => f === 'fail' || f === 'fail?')).length;
  if (flaggedBy > 0) problems.push(`${replica} is flagged failing by ${flaggedBy} node(s)`);
  const masterOffset = observations.find((o) => o.address === masterAddress)?.replication?.replicationOffset;
  const offset = replicaOffsetAfter ?? rep?.replicationOffset ?? 0;
  if (problems.length === 0 && masterOffset !== undefined && masterOffset > offset) problems.push(`${replica} is ${masterOffset - offset} bytes behind ${masterAddress}`);
  return problems;
}

/** Findings worse than informational that the baseline (the health before the upgrade) did not have. */
export function healthDrop(baseline: readonly string[], report: HealthReport): Finding[] {
  return report.findings.filter((f) => f.severity !== 'info' && !baseline.includes(findingKey(f)));
}

/**
 * What is wrong after the upgrade: a node not on the target version, one that did not answer,
 * or redis_version values that differ between nodes or from the version the target names.
 */
export function versionMismatches(nodes: readonly NodeVersion[], target: string): string[] {
  const problems: string[] = [];
  const expected = targetEngineVersion(target);
  // Redis alone keeps the redis_version wording; once Valkey is in play, versions name their engine.
  const anyValkey = expected?.engine === 'valkey' || nodes.some((n) => n.engine === 'valkey');
  const named = (n: NodeVersion) => (anyValkey ? formatEngineVersion({ engine: n.engine ?? 'redis', version: n.redisVersion! }) : `redis_version ${n.redisVersion!}`);
  const reported = new Set(nodes.filter((n) => n.redisVersion).map((n) => (anyValkey ? named(n) : n.redisVersion!)));
  for (const n of nodes) {
    if (n.version !== target) problems.push(`${n.address} runs ${n.version}, not ${target}`);
    if (!n.redisVersion) problems.push(`${n.address} did not report its ${expected?.engine === 'valkey' ? 'valkey_version' : 'redis_version'}`);
    else if (expected && ((n.engine ?? 'redis') !== expected.engine || !versionMatches(n.redisVersion, expected.version))) {
      problems.push(`${n.address} reports ${named(n)}, expected ${anyValkey ? formatEngineVersion(expected) : expected.version}`);
    }
  }
  if (!expected && reported.size > 1) problems.push(`nodes report different ${anyValkey ? 'versions' : 'redis_version values'}: ${[...reported].sort().join(', ')}`);
  return problems;
}

/** The per-node table shown in the Web UI: which node is on which version, and its role. */
export function versionTable(nodes: readonly (NodeVersion & { role?: string })[], target: string): string {
  const anyValkey = nodes.some((n) => n.engine === 'valkey');
  const lines = [`| node | role | version | ${anyValkey ? 'engine version' : 'redis_version'} |`, '|---|---|---|---|'];
  for (const n of [...nodes].sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }))) {
    lines.push(`| ${n.address} | ${n.role ?? '?'} | ${n.version}${n.version === target ? ' (target)' : ''} | ${!n.redisVersion ? '?' : anyValkey ? formatEngineVersion({ engine: n.engine ?? 'redis', version: n.redisVersion }) : n.redisVersion} |`);
  }
  return lines.join('\n');
}
