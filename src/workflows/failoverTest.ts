/**
 * Runbook: Failover Test. Crash a master, check a replica was promoted, restart the old master
 * and check it rejoins as a replica, with canary keys to prove no acknowledged write was lost
 * and timings of every step. Optionally give the old master its role back.
 */
import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import { analyzeHealth, canaryKeys, chooseFailoverTarget, type FailoverTarget, type TopologyShard } from '../cluster';
import { invalidInput, Operation, parseInput, quick, surfaceActivityFailure, waiting } from './common';
import { failoverTestInput } from './inputs';

export interface FailoverTestReport {
  cluster: string;
  mode: 'stop' | 'kill' | 'manual';
  dryRun: boolean;
  master: { id: string; address: string };
  replica: { id: string; address: string };
  /** The replica that took over (normally `replica`). */
  promoted?: { id: string; address: string };
  /** When the master was stopped (or CLUSTER FAILOVER requested), on the worker's clock. */
  startedAt?: string;
  /** Milliseconds from `startedAt`. */
  timings: {
    failFlagMs?: number;
    promotionMs?: number;
    clusterOkMs?: number;
    rejoinMs?: number;
    linkUpMs?: number;
    failbackMs?: number;
    totalMs?: number;
  };
  /** Canary keys: written and acknowledged before the stop, read back (then deleted) after. */
  canaries: { written: number; acknowledged: boolean; lost: number; lostKeys: string[] };
  failedBack: boolean;
  before: TopologyShard[];
  after?: TopologyShard[];
  healthyAfter?: boolean;
}

const STEPS = [
  'Check the cluster is healthy',
  'Write canary keys to the master',
  'Stop the master',
  "Await a replica's promotion",
  'Await cluster_state:ok on the survivors',
  'Verify the canary keys',
  'Restart the old master',
  'Await it rejoining as a replica',
  'Fail back to the old master',
  'Check the cluster is healthy again',
] as const;

export async function failoverTest(rawInput: unknown): Promise<FailoverTestReport> {
  const op = new Operation('failoverTest', STEPS);
  return op.run(async () => {
    const input = parseInput(failoverTestInput, rawInput);
    op.forCluster(input.cluster);
    const spec = await quick.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    if (input.mode !== 'manual' && !spec.runtime) {
      throw invalidInput([`mode: "${input.mode}" stops a node, but cluster "${spec.name}" has no runtime in the inventory (clusters.${spec.name}.runtime); use mode "manual"`]);
    }
    const wait = waiting(input.timeoutSeconds);
    const timeoutMs = input.timeoutSeconds * 1000;

    op.step(STEPS[0]);
    const observations = await quick.collectClusterState(spec.name, spec.nodes);
    const health = analyzeHealth(observations, { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster });
    let target: FailoverTarget;
    try {
      target = chooseFailoverTarget(observations, input.master);
    } catch (err) {
      const message = (err as Error).message;
      if (message.startsWith('master: ')) throw invalidInput([message]);
      throw ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message });
    }
    if (!health.healthy) {
      const problems = health.findings.filter((f) => f.severity !== 'info').map((f) => `${f.code}${f.node ? ` ${f.node}` : ''}: ${f.message}`);
      throw ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message: `the cluster is not healthy, so a failover drill would not be safe: ${problems.join('; ')}`, details: [{ problems }] });
    }
    const master = { id: target.master.id, address: target.master.address };
    const replica = target.replica;
    const keys = canaryKeys(target.master.slots, input.canaries, workflowInfo().runId.slice(0, 8));
    const value = workflowInfo().workflowId;
    const report: FailoverTestReport = {
      cluster: spec.name, mode: input.mode, dryRun: input.dryRun, master, replica, timings: {},
      canaries: { written: 0, acknowledged: false, lost: 0, lostKeys: [] }, failedBack: false, before: health.shards,
    };
    if (input.dryRun) {
      op.finish('succeeded', `Dry run: would fail over ${master.address} to ${replica.address} (${input.mode}).`);
      return report;
    }
    await op.lock(spec.name);
    const replicasOfMaster = health.shards.find((s) => s.master.id === master.id)!.replicas.map((r) => r.address);
    const survivors = observations.map((o) => o.address).filter((a) => a !== master.address);

    op.step(STEPS[1], `${keys.length} keys in the slots of ${master.address}`);
    const written = await quick.writeCanaries(spec.name, master.address, keys, value);
    report.canaries = { ...report.canaries, written: written.written, acknowledged: written.acknowledged };
    if (!written.acknowledged) {
      throw ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message: `no replica of ${master.address} acknowledged the canary writes (WAIT 1 5000 returned 0): it would lose writes on failover` });
    }

    let start: number;
    let newMaster: { id: string; address: string };
    if (input.mode === 'manual') {
      op.step(STEPS[2], `CLUSTER FAILOVER on ${replica.address}`);
      const swapped = await wait.failoverTo(spec.name, replica.address, timeoutMs).catch(surfaceActivityFailure);
      start = swapped.requestedAt;
      report.timings.promotionMs = swapped.promotedAt - start;
      newMaster = replica;
    } else {
      op.step(STEPS[2], `${input.mode === 'kill' ? 'SIGKILL' : 'graceful stop'} of ${master.address}`);
      start = (await quick.stopNode(spec.name, master.address, input.mode)).stoppedAt;
      op.step(STEPS[3]);
      const promotion = await wait.awaitPromotion(spec.name, master, replicasOfMaster, survivors.filter((a) => !replicasOfMaster.includes(a)), timeoutMs).catch(surfaceActivityFailure);
      report.timings.failFlagMs = promotion.failFlaggedAt !== undefined ? promotion.failFlaggedAt - start : undefined;
      report.timings.promotionMs = promotion.promotedAt - start;
      newMaster = promotion.newMaster;
    }
    report.promoted = newMaster;
    report.startedAt = new Date(start).toISOString();

    op.step(STEPS[4]);
    const ok = await wait.awaitClusterStateOk(spec.name, input.mode === 'manual' ? observations.map((o) => o.address) : survivors, timeoutMs).catch(surfaceActivityFailure);
    report.timings.clusterOkMs = ok.okAt - start;

    op.step(STEPS[5]);
    const verified = await quick.verifyCanaries(spec.name, survivors, keys, value, true);
    report.canaries = { ...report.canaries, lost: verified.lost.length, lostKeys: verified.lost.slice(0, 20) };

    if (input.mode !== 'manual') {
      op.step(STEPS[6]);
      await quick.startNode(spec.name, master.address);
    }
    op.step(STEPS[7]);
    const rejoined = await wait.awaitReplicaOf(spec.name, master.address, newMaster.id, timeoutMs).catch(surfaceActivityFailure);
    report.timings.rejoinMs = rejoined.replicaAt - start;
    report.timings.linkUpMs = rejoined.linkUpAt - start;

    const expected = { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster };
    if (input.failback) {
      op.step(STEPS[8], `CLUSTER FAILOVER on ${master.address}`);
      // Every node must see the old master as a working replica first (no fail flag left, one
      // slot map), or the other masters refuse to vote for it and the failover times out.
      // Added after the first release: histories from before it replay without this wait.
      if (patched('failback-awaits-health')) {
        await wait.awaitClusterHealthy(spec.name, spec.nodes, expected, timeoutMs).catch(surfaceActivityFailure);
      }
      const back = await wait.failoverTo(spec.name, master.address, timeoutMs).catch(surfaceActivityFailure);
      await wait.awaitReplicaOf(spec.name, newMaster.address, master.id, timeoutMs).catch(surfaceActivityFailure);
      report.timings.failbackMs = back.promotedAt - back.requestedAt;
      report.failedBack = true;
    }

    op.step(STEPS[9]);
    const after = await wait.awaitClusterHealthy(spec.name, spec.nodes, expected, timeoutMs).catch(surfaceActivityFailure);
    report.after = after.shards;
    report.healthyAfter = after.healthy;
    report.timings.totalMs = Date.now() - start;
    op.finish(
      'succeeded',
      `${master.address} -> ${newMaster.address}: promoted after ${((report.timings.promotionMs ?? 0) / 1000).toFixed(1)} s, ` +
        `${report.canaries.lost} of ${report.canaries.written} canaries lost${report.failedBack ? ', roles restored' : ''}.`,
    );
    return report;
  });
}
