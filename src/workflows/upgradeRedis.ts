/**
 * Runbook: Upgrade Redis Version. A rolling upgrade, shard by shard: each replica is replaced
 * with the new version and awaited in sync; a coordinated CLUSTER FAILOVER hands the slots to an
 * upgraded replica; the old master, a replica now, is replaced and awaited in sync; with
 * `failback` it gets its role back. Health is checked between shards, and a drop pauses the
 * upgrade for a decision. Pause and abort take effect only where every shard has a master and an
 * in-sync replica, so an aborted upgrade leaves a mixed-version but fully redundant cluster.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { ClusterSpec } from '../activities';
import {
  expandObservations,
  analyzeHealth, describeFinding, findingKey, formatEngineVersion, planUpgrade, referenceView, topologyBlockers, upgradeFormatProblem, versionMismatches,
  type Engine, type NodeVersion, type TopologyShard, type UpgradePlan,
} from '../cluster';
import { RunControls } from './controls';
import { imagePullsWithinFifteenMinutes, pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts, versionsOnTheirHosts } from './hosts';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { upgradeRedisInput } from './inputs';
import { RollingUpgrade, type RollingUpgradeContext } from './rollingUpgrade';

export interface UpgradeRedisReport {
  cluster: string;
  version: string;
  dryRun: boolean;
  plan: UpgradePlan;
  /** redisVersion: the engine's own version, as in `nodes`. */
  replaced: { address: string; from: string; changed: boolean; redisVersion?: string; engine?: Engine; tookMs: number }[];
  failovers: { slots: string; from: string; to: string; attempts: number; tookMs: number; failback: boolean }[];
  /** Each time health dropped between shards, what was new and what the operator decided. */
  healthPauses: { after: string; findings: string[]; decision: 'resumed' | 'aborted' }[];
  aborted?: string;
  /** Every node's version and its engine's own version (valkey_version on Valkey) at the end. */
  nodes: NodeVersion[];
  /** What the nodes report at the end, engine named: ["valkey 8.1.1"], or two during a mixed state. */
  engines: string[];
  after: TopologyShard[];
  /** Findings at the end that the cluster did not have before the upgrade. */
  findingsAfter: string[];
  /** Nodes whose engine lacked the target's image and had it pulled before the first change (docker). */
  pulledFor?: string[];
}

const STEPS = ['Check the cluster is healthy', 'Plan the upgrade', 'Upgrade shard by shard', 'Verify the engine version on every node', 'Check the cluster is healthy again'] as const;

export async function upgradeRedis(rawInput: unknown): Promise<UpgradeRedisReport> {
  const op = new Operation('upgradeRedis', STEPS, { checks: 2 });
  const controls = new RunControls('upgradeRedis');

  return op.run(async () => {
    const input = parseInput(upgradeRedisInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    if (!spec.runtime) throw invalidInput([`cluster: "${spec.name}" has no runtime in the worker's inventory (clusters.${spec.name}.runtime); an upgrade replaces nodes through one`]);

    op.step(STEPS[0]);
    const { observations, health, baseline, members } = await checkHealthyForUpgrade(spec);
    // Before anything is pulled or touched: an engine of an older RDB format could not sync.
    const formatProblem = upgradeFormatProblem(observations, input.version);
    if (formatProblem) throw invalidInput([formatProblem]);

    op.step(STEPS[1]);
    // Not in a dry run, the target's image is pulled where it is missing: before any node is touched.
    // (The same activity as before, under a longer timeout: replay sees the same command.)
    const hosts = NodeHosts.of(spec);
    const found = await versionsOnTheirHosts(hosts, input.dryRun ? redisCallsWithinAMinute : imagePullsWithinFifteenMinutes, spec.name, members, input.version, { pull: !input.dryRun })
      .catch(surfaceActivityFailure);
    const plan = planUpgrade(observations, Object.fromEntries(found.map((n) => [n.address, n.version])), input.version, input.shardsInParallel);
    const roles = new Map((referenceView(observations) ?? []).map((n) => [n.address, n.role as string]));
    const nodes: RollingUpgradeContext['nodes'] = Object.fromEntries(found.map((n) => [n.address, { ...n, role: roles.get(n.address) }]));
    const report: UpgradeRedisReport = {
      cluster: spec.name, version: input.version, dryRun: input.dryRun, plan, replaced: [], failovers: [], healthPauses: [], nodes: found, engines: enginesOf(found), after: health.shards, findingsAfter: [],
      ...(found.some((n) => n.pulled) ? { pulledFor: found.filter((n) => n.pulled).map((n) => n.address) } : {}),
    };
    const upgrade = new RollingUpgrade({ op, controls, spec, input, plan, members, baseline, nodes, report }, STEPS[1]);

    const lonely = plan.shards.filter((s) => s.downtime);
    if (input.dryRun) {
      op.finish('succeeded', `Dry run: ${plan.nodesToReplace} nodes to replace in ${plan.shards.length} shards, ${plan.alreadyUpgraded.length} already on ${input.version}${lonely.length ? `; ${lonely.length} shards without a replica would be down while their master restarts` : ''}.`);
      return report;
    }
    if (lonely.length > 0 && !input.approve) {
      throw preflightFailed(`${lonely.map((s) => `shard ${s.slots} (master ${s.master.address})`).join(', ')} has no replica: upgrading it restarts its master and its slots are down meanwhile; add a replica first (addNode with role replica), or pass approve: true to accept the downtime`);
    }
    await op.lock(spec.name);

    upgrade.currentStep = STEPS[2];
    await upgrade.upgradeWaves();
    await upgrade.replaceSpares();

    upgrade.currentStep = STEPS[3];
    await upgrade.discardRemainingReplaced();
    upgrade.show('reading every node\'s version');
    report.nodes = await versionsOnTheirHosts(hosts, redisCallsWithinAMinute, spec.name, members).catch(surfaceActivityFailure);
    for (const n of report.nodes) nodes[n.address] = { ...nodes[n.address], ...n };
    report.engines = enginesOf(report.nodes);
    controls.close('every shard has been handled; the upgrade is checking versions');
    const aborted = controls.aborted;
    const mismatches = aborted === undefined ? versionMismatches(report.nodes, input.version) : [];
    if (mismatches.length > 0) {
      throw ApplicationFailure.create({ type: 'UpgradeNotVerified', nonRetryable: true, message: `the upgrade to ${input.version} did not take on every node: ${mismatches.join('; ')}`, details: [{ mismatches, nodes: report.nodes }] });
    }

    upgrade.currentStep = STEPS[4];
    upgrade.show('checking the cluster is as healthy as before');
    const expected = { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster };
    const after = await pollingWithin(input.healthSettleSeconds).awaitHealthNoWorse(spec.name, spec.nodes, expected, baseline, input.healthSettleSeconds * 1000).catch(surfaceActivityFailure);
    report.after = after.shards;
    report.findingsAfter = after.newFindings;
    report.aborted = aborted;
    const replacedCount = report.replaced.filter((r) => r.changed).length;
    op.finish(
      'succeeded',
      `${aborted !== undefined ? `Aborted (${aborted}): ` : ''}${replacedCount} nodes replaced, ${report.failovers.length} failovers; ` +
        `${report.nodes.filter((n) => n.version === input.version).length} of ${report.nodes.length} nodes on ${input.version} (${report.engines.join(', ')}).\n\n${upgrade.versionTable()}`,
    );
    return report;
  });
}

/** The distinct "engine version" values the nodes report ("valkey 8.1.1"), sorted. */
function enginesOf(nodes: readonly NodeVersion[]): string[] {
  return [...new Set(nodes.filter((n) => n.redisVersion).map((n) => formatEngineVersion({ engine: n.engine ?? 'redis', version: n.redisVersion! })))].sort();
}

/**
 * A rolling upgrade needs every shard served, with a replica in sync: refused otherwise. What the
 * cluster already lacked (the baseline) is not the upgrade's doing when health is checked later.
 */
async function checkHealthyForUpgrade(spec: ClusterSpec) {
  const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
  const health = analyzeHealth(observations, { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster });
  const blocking = [...topologyBlockers(health), ...health.findings.filter((f) => f.code === 'REPLICA_LINK_DOWN')];
  if (blocking.length > 0) {
    throw preflightFailed(`the cluster is not healthy enough for a rolling upgrade: ${blocking.map(describeFinding).join('; ')}; fix that first (clusterHealth shows how)`);
  }
  // What the cluster lacked before is not the upgrade's doing: only new findings count as a drop.
  const baseline = health.findings.filter((f) => f.severity !== 'info').map(findingKey);
  const members = observations.filter((o) => o.view).map((o) => o.address);
  return { observations, health, baseline, members };
}

