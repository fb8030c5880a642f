/**
 * Runbook: Upgrade Redis Version. A rolling upgrade, shard by shard: each replica is replaced
 * with the new version and awaited in sync; a coordinated CLUSTER FAILOVER hands the slots to an
 * upgraded replica; the old master, a replica now, is replaced and awaited in sync; with
 * `failback` it gets its role back. Health is checked between shards, and a drop pauses the
 * upgrade for a decision. Pause and abort take effect only where every shard has a master and an
 * in-sync replica, so an aborted upgrade leaves a mixed-version but fully redundant cluster.
 */
import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  analyzeHealth, findingKey, planUpgrade, referenceView, topologyBlockers, versionMismatches, versionTable,
  type ShardMember, type NodeVersion, type ShardUpgrade, type TopologyShard, type UpgradePlan,
} from '../cluster';
import { RunControls } from './controls';
import { invalidInput, Operation, parseInput, quick, surfaceActivityFailure, waiting } from './common';
import { upgradeRedisInput } from './inputs';

export interface UpgradeRedisReport {
  cluster: string;
  version: string;
  dryRun: boolean;
  plan: UpgradePlan;
  replaced: { address: string; from: string; changed: boolean; redisVersion?: string; tookMs: number }[];
  failovers: { slots: string; from: string; to: string; attempts: number; tookMs: number; failback: boolean }[];
  /** Each time health dropped between shards, what was new and what the operator decided. */
  healthPauses: { after: string; findings: string[]; decision: 'resumed' | 'aborted' }[];
  aborted?: string;
  /** Every node's version and redis_version at the end. */
  nodes: NodeVersion[];
  after: TopologyShard[];
  /** Findings at the end that the cluster did not have before the upgrade. */
  findingsAfter: string[];
}

const STEPS = ['Check the cluster is healthy', 'Plan the upgrade', 'Upgrade shard by shard', 'Verify redis_version on every node', 'Check the cluster is healthy again'] as const;

/** Replacing a node stops and starts it (a container may take a while); heartbeats prove the worker alive. */
const replacing = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidInput', 'TopologyChanged'] },
});

export async function upgradeRedis(rawInput: unknown): Promise<UpgradeRedisReport> {
  const op = new Operation('upgradeRedis', STEPS);
  const controls = new RunControls('upgradeRedis');

  return op.run(async () => {
    const input = parseInput(upgradeRedisInput, rawInput);
    op.forCluster(input.cluster);
    const spec = await quick.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    if (!spec.runtime) throw invalidInput([`cluster: "${spec.name}" has no runtime in the worker's inventory (clusters.${spec.name}.runtime); an upgrade replaces nodes through one`]);
    const wait = waiting(input.timeoutSeconds);
    const settling = waiting(input.healthSettleSeconds);
    const timeoutMs = input.timeoutSeconds * 1000;
    const expected = { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster };

    op.step(STEPS[0]);
    const observations = await quick.collectClusterState(spec.name, spec.nodes);
    const health = analyzeHealth(observations, expected);
    const blocking = [...topologyBlockers(health), ...health.findings.filter((f) => f.code === 'REPLICA_LINK_DOWN')];
    if (blocking.length > 0) {
      throw ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message: `the cluster is not healthy enough for a rolling upgrade: ${blocking.map((f) => `${findingKey(f)}: ${f.message}`).join('; ')}; fix that first (clusterHealth shows how)` });
    }
    // What the cluster lacked before is not the upgrade's doing: only new findings count as a drop.
    const baseline = health.findings.filter((f) => f.severity !== 'info').map(findingKey);
    const members = observations.filter((o) => o.view).map((o) => o.address);

    op.step(STEPS[1]);
    const found = await quick.describeNodeVersions(spec.name, members, input.version).catch(surfaceActivityFailure);
    const plan = planUpgrade(observations, Object.fromEntries(found.map((n) => [n.address, n.version])), input.version, input.shardsInParallel);
    const roles = new Map((referenceView(observations) ?? []).map((n) => [n.address, n.role as string]));
    const nodes: Record<string, NodeVersion & { role?: string }> = Object.fromEntries(found.map((n) => [n.address, { ...n, role: roles.get(n.address) }]));
    const report: UpgradeRedisReport = {
      cluster: spec.name, version: input.version, dryRun: input.dryRun, plan, replaced: [], failovers: [], healthPauses: [], nodes: found, after: health.shards, findingsAfter: [],
    };
    let current: string = STEPS[1];
    const show = (detail: string) => op.step(current, `${detail}\n\n${versionTable(Object.values(nodes), input.version)}`);

    const lonely = plan.shards.filter((s) => s.downtime);
    if (input.dryRun) {
      op.finish('succeeded', `Dry run: ${plan.nodesToReplace} nodes to replace in ${plan.shards.length} shards, ${plan.alreadyUpgraded.length} already on ${input.version}${lonely.length ? `; ${lonely.length} shards without a replica would be down while their master restarts` : ''}.`);
      return report;
    }
    if (lonely.length > 0 && !input.approve) {
      throw ApplicationFailure.create({
        type: 'PreflightFailed', nonRetryable: true,
        message: `${lonely.map((s) => `shard ${s.slots} (master ${s.master.address})`).join(', ')} has no replica: upgrading it restarts its master and its slots are down meanwhile; add a replica first (addNode with role replica), or pass approve: true to accept the downtime`,
      });
    }
    await op.lock(spec.name);

    const safePoint = async (where: string): Promise<boolean> => {
      if (controls.paused && controls.aborted === undefined) {
        show(`**Paused** ${where}; no shard is between a failover and its old master's resync. Send \`resume\` to go on, or \`abort\` to stop here.`);
        await controls.safePoint();
      }
      return controls.aborted === undefined;
    };

    const replacedNotSynced = new Set<string>();
    const replaceNode = async (address: string, expect: 'replica' | 'in-place', what: string) => {
      show(what);
      const from = nodes[address]?.version ?? '?';
      // A node that does not come up on the new version goes back to `from`, and the upgrade stops there.
      const done = await replacing.replaceNodeVersion(spec.name, address, input.version, expect, from === '?' ? undefined : from).catch(surfaceActivityFailure);
      replacedNotSynced.add(address);
      nodes[address] = { ...nodes[address], address, version: input.version, redisVersion: done.redisVersion };
      report.replaced.push({ address, from, changed: done.changed, redisVersion: done.redisVersion, tookMs: done.tookMs });
    };

    const awaitInSync = async (shard: ShardUpgrade, master: ShardMember) => {
      const others = [shard.master, ...shard.replicas].filter((n) => n.id !== master.id);
      show(`shard ${shard.slots}: awaiting ${others.map((n) => n.address).join(', ')} in sync with ${master.address}`);
      await Promise.all(others.map((n) => wait.awaitReplicaInSync(spec.name, spec.nodes, n.address, master.id, timeoutMs).catch(surfaceActivityFailure)));
      // Only a node in sync on its new version lets go of the old container it could roll back to.
      for (const n of others.filter((o) => replacedNotSynced.delete(o.address))) {
        if (spec.runtime === 'docker' && patched('discard-replaced-once-in-sync')) await quick.discardReplacedNode(spec.name, n.address);
      }
    };

    const failover = async (shard: ShardUpgrade, from: ShardMember, to: ShardMember, failback: boolean) => {
      show(`shard ${shard.slots}: CLUSTER FAILOVER ${failback ? 'back ' : ''}to ${to.address}`);
      const swapped = await wait.failoverTo(spec.name, to.address, timeoutMs).catch(surfaceActivityFailure);
      await wait.awaitRolesSwapped(spec.name, to, from, timeoutMs).catch(surfaceActivityFailure);
      nodes[to.address] = { ...nodes[to.address]!, role: 'master' };
      nodes[from.address] = { ...nodes[from.address]!, role: 'replica' };
      report.failovers.push({ slots: shard.slots, from: from.address, to: to.address, attempts: swapped.attempts, tookMs: swapped.promotedAt - swapped.requestedAt, failback });
    };

    const upgradeShard = async (shard: ShardUpgrade): Promise<void> => {
      for (const replica of shard.replaceReplicas) {
        if (!(await safePoint(`before replacing ${replica.address}`))) return;
        await replaceNode(replica.address, 'replica', `shard ${shard.slots}: replacing replica ${replica.address}`);
        await awaitInSync(shard, shard.master);
      }
      if (!shard.replaceMaster || !(await safePoint(`before the failover of shard ${shard.slots}`))) return;
      if (!shard.failoverTo) {
        await replaceNode(shard.master.address, 'in-place', `shard ${shard.slots}: restarting master ${shard.master.address} in place (no replica: its slots are down meanwhile, approved)`);
        await wait.awaitClusterStateOk(spec.name, members, timeoutMs).catch(surfaceActivityFailure);
        return;
      }
      // From the failover until the old master is in sync again the shard has no in-sync
      // replica, so pause and abort wait for the end of these steps.
      await failover(shard, shard.master, shard.failoverTo, false);
      await replaceNode(shard.master.address, 'replica', `shard ${shard.slots}: replacing the old master ${shard.master.address}, a replica now`);
      await awaitInSync(shard, shard.failoverTo);
      if (input.failback && (await safePoint(`before the failback of shard ${shard.slots}`))) {
        await failover(shard, shard.failoverTo, shard.master, true);
        await awaitInSync(shard, shard.master);
      }
    };

    current = STEPS[2];
    for (const [w, wave] of plan.waves.entries()) {
      const shards = wave.map((i) => plan.shards[i]!);
      const names = shards.map((s) => `shard ${s.slots}`).join(', ');
      if (!(await safePoint(`before ${names}`))) break;
      // A shard that fails does not cut the others short in the middle of a failover.
      const failed = (await Promise.allSettled(shards.map(upgradeShard))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (controls.aborted !== undefined || (w === plan.waves.length - 1 && plan.spares.length === 0)) break;
      show(`checking the cluster's health after ${names}`);
      const check = await settling.awaitHealthNoWorse(spec.name, spec.nodes, expected, baseline, input.healthSettleSeconds * 1000).catch(surfaceActivityFailure);
      if (!check.ok) {
        controls.paused = true;
        show(`**Paused for a decision**: the cluster's health dropped after ${names}: ${check.newFindings.join('; ')}. Fix it and send \`resume\` to go on, or \`abort\` to stop here.`);
        const goOn = await controls.safePoint();
        report.healthPauses.push({ after: names, findings: check.newFindings, decision: goOn ? 'resumed' : 'aborted' });
      }
    }
    for (const spare of plan.spares) {
      if (!(await safePoint(`before replacing ${spare.address}`))) break;
      await replaceNode(spare.address, 'in-place', `replacing ${spare.address} (it owns no slots)`);
    }

    current = STEPS[3];
    // Spares and masters restarted in place have no sync to wait for: they answered, that is all.
    for (const address of replacedNotSynced) {
      if (spec.runtime === 'docker' && patched('discard-replaced-once-in-sync')) await quick.discardReplacedNode(spec.name, address);
    }
    show('reading every node\'s version');
    report.nodes = await quick.describeNodeVersions(spec.name, members).catch(surfaceActivityFailure);
    for (const n of report.nodes) nodes[n.address] = { ...nodes[n.address], ...n };
    controls.close('every shard has been handled; the upgrade is checking versions');
    const aborted = controls.aborted;
    const mismatches = aborted === undefined ? versionMismatches(report.nodes, input.version) : [];
    if (mismatches.length > 0) {
      throw ApplicationFailure.create({ type: 'UpgradeNotVerified', nonRetryable: true, message: `the upgrade to ${input.version} did not take on every node: ${mismatches.join('; ')}`, details: [{ mismatches, nodes: report.nodes }] });
    }

    current = STEPS[4];
    show('checking the cluster is as healthy as before');
    const after = await settling.awaitHealthNoWorse(spec.name, spec.nodes, expected, baseline, input.healthSettleSeconds * 1000).catch(surfaceActivityFailure);
    report.after = after.shards;
    report.findingsAfter = after.newFindings;
    report.aborted = aborted;
    const replacedCount = report.replaced.filter((r) => r.changed).length;
    op.finish(
      'succeeded',
      `${aborted !== undefined ? `Aborted (${aborted}): ` : ''}${replacedCount} nodes replaced, ${report.failovers.length} failovers; ` +
        `${report.nodes.filter((n) => n.version === input.version).length} of ${report.nodes.length} nodes on ${input.version}.\n\n${versionTable(Object.values(nodes), input.version)}`,
    );
    return report;
  });
}
