/**
 * The steps of upgradeRedis's rolling upgrade, once the cluster is checked and the plan made:
 * wave by wave, each shard's replicas replaced and awaited in sync, a CLUSTER FAILOVER to an
 * upgraded replica, the old master replaced; then the spares. Each step is one method, in the
 * runbook's order; the shards of a wave run side by side, so the methods keep the awaits the
 * workflow has always had (their interleaving decides the order of the recorded commands).
 */
import { patched } from '@temporalio/workflow';
import type { z } from 'zod';
import type { ClusterSpec } from '../activities';
import { versionTable, type NodeVersion, type ShardMember, type ShardUpgrade, type UpgradePlan } from '../cluster';
import { pollingWithin, redisCallsWithinAMinute, redisNodeReplacementWithinTenMinutes } from './activityOptions';
import { NodeHosts } from './hosts';
import type { RunControls } from './controls';
import { surfaceActivityFailure } from './failures';
import type { upgradeRedisInput } from './inputs';
import type { Operation } from './operation';
import type { UpgradeRedisReport } from './upgradeRedis';

export interface RollingUpgradeContext {
  op: Operation;
  controls: RunControls;
  spec: ClusterSpec;
  input: z.output<typeof upgradeRedisInput>;
  plan: UpgradePlan;
  /** The nodes that answered with a view of the cluster at the start. */
  members: string[];
  /** Findings the cluster had before the upgrade: only new ones count as a drop in health. */
  baseline: string[];
  /** Each node's version and role as last seen, for the version table in the Web UI. */
  nodes: Record<string, NodeVersion & { role?: string }>;
  report: UpgradeRedisReport;
}

export class RollingUpgrade {
  /** The runbook step the details shown in the Web UI belong to. */
  currentStep: string;
  /** Replaced nodes that still keep the old container they could roll back to (docker). */
  private readonly replacedNotSynced = new Set<string>();
  private readonly waits: ReturnType<typeof pollingWithin>;
  private readonly healthChecks: ReturnType<typeof pollingWithin>;
  private readonly timeoutMs: number;
  /** Where each node is replaced: on its host's agent, when the cluster has hosts. */
  private readonly hosts: NodeHosts;
  /**
   * The elections of a wave's failovers take turns (each CLUSTER FAILOVER until its replica is
   * promoted), while replacements, syncs and role checks run side by side: every election is a
   * vote of all masters, and elections started together collide (same epoch, split votes) and are
   * retried node-timeouts later (measured at 45 shards at once: up to 11 attempts, a minute).
   * Runs from before this wait for nothing here.
   */
  private readonly failoversInTurn: boolean;
  private failoverTurn: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: RollingUpgradeContext,
    currentStep: string,
  ) {
    this.currentStep = currentStep;
    this.waits = pollingWithin(ctx.input.timeoutSeconds);
    this.healthChecks = pollingWithin(ctx.input.healthSettleSeconds);
    this.timeoutMs = ctx.input.timeoutSeconds * 1000;
    this.hosts = NodeHosts.of(ctx.spec);
    this.failoversInTurn = patched('upgrade-failovers-in-turn');
  }

  /** Shows `detail` under the current step, with every node's version. */
  show(detail: string): void {
    this.ctx.op.step(this.currentStep, `${detail}\n\n${this.versionTable()}`);
  }

  versionTable(): string {
    return versionTable(Object.values(this.ctx.nodes), this.ctx.input.version);
  }

  /** Upgrades the plan's waves in order, the shards of a wave side by side, checking health between waves. */
  async upgradeWaves(): Promise<void> {
    const { plan, controls, spec, input, report } = this.ctx;
    const expected = { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster };
    for (const [waveIndex, wave] of plan.waves.entries()) {
      const shards = wave.map((i) => plan.shards[i]!);
      const names = shards.map((s) => `shard ${s.slots}`).join(', ');
      if (!(await this.safePoint(`before ${names}`))) break;
      // A shard that fails does not cut the others short in the middle of a failover.
      const failed = (await Promise.allSettled(shards.map((shard) => this.upgradeShard(shard)))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (controls.aborted !== undefined || (waveIndex === plan.waves.length - 1 && plan.spares.length === 0)) break;
      this.show(`checking the cluster's health after ${names}`);
      const check = await this.healthChecks.awaitHealthNoWorse(spec.name, spec.nodes, expected, this.ctx.baseline, input.healthSettleSeconds * 1000).catch(surfaceActivityFailure);
      if (!check.ok) {
        controls.paused = true;
        this.show(`**Paused for a decision**: the cluster's health dropped after ${names}: ${check.newFindings.join('; ')}. Fix it and send \`resume\` to go on, or \`abort\` to stop here.`);
        const goOn = await controls.safePoint();
        report.healthPauses.push({ after: names, findings: check.newFindings, decision: goOn ? 'resumed' : 'aborted' });
      }
    }
  }

  /** Replaces the nodes that own no slots, in place. */
  async replaceSpares(): Promise<void> {
    for (const spare of this.ctx.plan.spares) {
      if (!(await this.safePoint(`before replacing ${spare.address}`))) break;
      await this.replaceNode(spare.address, 'in-place', `replacing ${spare.address} (it owns no slots)`);
    }
  }

  /** Lets go of the old containers still kept: spares and masters restarted in place have no sync to wait for. */
  async discardRemainingReplaced(): Promise<void> {
    const { spec } = this.ctx;
    for (const address of this.replacedNotSynced) {
      if (spec.runtime === 'docker' && patched('discard-replaced-once-in-sync')) await this.hosts.node(redisCallsWithinAMinute, address).discardReplacedNode(spec.name, address);
    }
  }

  /** Waits while paused; true when the upgrade may go on, false when it was aborted. */
  private async safePoint(where: string): Promise<boolean> {
    const { controls } = this.ctx;
    if (controls.paused && controls.aborted === undefined) {
      this.show(`**Paused** ${where}; no shard is between a failover and its old master's resync. Send \`resume\` to go on, or \`abort\` to stop here.`);
      await controls.safePoint();
    }
    return controls.aborted === undefined;
  }

  /** One shard: its replicas, then the failover and its old master (or the master in place), then the failback. */
  private async upgradeShard(shard: ShardUpgrade): Promise<void> {
    const { input, spec, members } = this.ctx;
    for (const replica of shard.replaceReplicas) {
      if (!(await this.safePoint(`before replacing ${replica.address}`))) return;
      await this.replaceNode(replica.address, 'replica', `shard ${shard.slots}: replacing replica ${replica.address}`);
      await this.awaitInSync(shard, shard.master);
    }
    if (!shard.replaceMaster || !(await this.safePoint(`before the failover of shard ${shard.slots}`))) return;
    if (!shard.failoverTo) {
      await this.replaceNode(shard.master.address, 'in-place', `shard ${shard.slots}: restarting master ${shard.master.address} in place (no replica: its slots are down meanwhile, approved)`);
      await this.waits.awaitClusterStateOk(spec.name, members, this.timeoutMs).catch(surfaceActivityFailure);
      return;
    }
    // From the failover until the old master is in sync again the shard has no in-sync
    // replica, so pause and abort wait for the end of these steps.
    await this.failover(shard, shard.master, shard.failoverTo, false);
    await this.replaceNode(shard.master.address, 'replica', `shard ${shard.slots}: replacing the old master ${shard.master.address}, a replica now`);
    await this.awaitInSync(shard, shard.failoverTo);
    if (input.failback && (await this.safePoint(`before the failback of shard ${shard.slots}`))) {
      await this.failover(shard, shard.failoverTo, shard.master, true);
      await this.awaitInSync(shard, shard.master);
    }
  }

  private async replaceNode(address: string, expect: 'replica' | 'in-place', what: string): Promise<void> {
    const { spec, input, nodes, report } = this.ctx;
    this.show(what);
    const from = nodes[address]?.version ?? '?';
    // A node that does not come up on the new version goes back to `from`, and the upgrade stops there.
    const done = await this.hosts.node(redisNodeReplacementWithinTenMinutes, address).replaceNodeVersion(spec.name, address, input.version, expect, from === '?' ? undefined : from).catch(surfaceActivityFailure);
    this.replacedNotSynced.add(address);
    nodes[address] = { ...nodes[address], address, version: input.version, redisVersion: done.redisVersion, engine: done.engine };
    report.replaced.push({ address, from, changed: done.changed, redisVersion: done.redisVersion, engine: done.engine, tookMs: done.tookMs });
  }

  private async awaitInSync(shard: ShardUpgrade, master: ShardMember): Promise<void> {
    const { spec } = this.ctx;
    const others = [shard.master, ...shard.replicas].filter((n) => n.id !== master.id);
    this.show(`shard ${shard.slots}: awaiting ${others.map((n) => n.address).join(', ')} in sync with ${master.address}`);
    await Promise.all(others.map((n) => this.waits.awaitReplicaInSync(spec.name, spec.nodes, n.address, master.id, this.timeoutMs).catch(surfaceActivityFailure)));
    // Only a node in sync on its new version lets go of the old container it could roll back to.
    for (const n of others.filter((o) => this.replacedNotSynced.delete(o.address))) {
      if (spec.runtime === 'docker' && patched('discard-replaced-once-in-sync')) await this.hosts.node(redisCallsWithinAMinute, n.address).discardReplacedNode(spec.name, n.address);
    }
  }

  private async failover(shard: ShardUpgrade, from: ShardMember, to: ShardMember, failback: boolean): Promise<void> {
    const { spec, nodes, report } = this.ctx;
    this.show(`shard ${shard.slots}: CLUSTER FAILOVER ${failback ? 'back ' : ''}to ${to.address}`);
    const elect = () => this.waits.failoverTo(spec.name, to.address, this.timeoutMs);
    // Runs from before take no turn, nor the extra await a turn costs (their commands keep their order).
    const swapped = await (this.failoversInTurn ? this.inTurn(elect) : elect()).catch(surfaceActivityFailure);
    await this.waits.awaitRolesSwapped(spec.name, to, from, this.timeoutMs).catch(surfaceActivityFailure);
    nodes[to.address] = { ...nodes[to.address]!, role: 'master' };
    nodes[from.address] = { ...nodes[from.address]!, role: 'replica' };
    report.failovers.push({ slots: shard.slots, from: from.address, to: to.address, attempts: swapped.attempts, tookMs: swapped.promotedAt - swapped.requestedAt, failback });
  }

  /** Runs an election (`failoverTo`, until the replica is promoted) once the one before it is over. */
  private async inTurn<T>(election: () => Promise<T>): Promise<T> {
    const previous = this.failoverTurn;
    let done!: () => void;
    this.failoverTurn = new Promise<void>((resolve) => (done = resolve));
    // The turn passes on whether this election worked or not: a shard's failure is its own.
    await previous;
    try {
      return await election();
    } finally {
      done();
    }
  }
}
