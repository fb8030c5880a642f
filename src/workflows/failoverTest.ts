/**
 * Runbook: Failover Test. Crash a master, check a replica was promoted, restart the old master
 * and check it rejoins as a replica, with canary keys to prove no acknowledged write was lost
 * and timings of every step. Optionally give the old master its role back.
 *
 * Bound: each wait takes at most `timeoutSeconds`. Whatever ends the drill after the master was
 * stopped (a wait that timed out, a failure, a cancellation), the master is started again before
 * the drill ends, and the failure says so. A node that hangs is named in the failure; a hung node
 * the failover does not need (another shard's replica) does not stop the drill.
 */
import {
  ApplicationFailure, CancellationScope, CancelledFailure, isCancellation, patched, workflowInfo,
} from '@temporalio/workflow';
import { analyzeHealth, canaryKeys, chooseFailoverTarget, describeFinding, expandObservations, type FailoverTarget, type TopologyShard } from '../cluster';
import { describeFailure } from '../shared';
import { drillCleanupWithinAMinute, drillStepsWithinFiveMinutes, pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts } from './hosts';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { failoverMeasured } from './metrics';
import { Operation } from './operation';
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
    /** Until the promoted replica accepted a write: how long the shard could not be written. */
    writeUnavailableMs?: number;
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
  /** Nodes that did not answer during the drill (hung or down), besides the stopped master. */
  silentNodes?: string[];
  /** What the drill undid after it could not finish (e.g. "127.0.0.1:7001 was started again"). */
  compensation?: string;
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
  const op = new Operation('failoverTest', STEPS, { checks: 1 });
  return op.run(async () => {
    const input = parseInput(failoverTestInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const hosts = NodeHosts.of(spec);
    if (input.mode !== 'manual' && !spec.runtime) {
      throw invalidInput([`mode: "${input.mode}" stops a node, but cluster "${spec.name}" has no runtime in the inventory (clusters.${spec.name}.runtime); use mode "manual"`]);
    }
    const wait = pollingWithin(input.timeoutSeconds);
    const timeoutMs = input.timeoutSeconds * 1000;

    op.step(STEPS[0]);
    const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
    const health = analyzeHealth(observations, { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster });
    let target: FailoverTarget;
    try {
      target = chooseFailoverTarget(observations, input.master);
    } catch (err) {
      const message = (err as Error).message;
      if (message.startsWith('master: ')) throw invalidInput([message]);
      throw preflightFailed(message);
    }
    if (!health.healthy) {
      const problems = health.findings.filter((f) => f.severity !== 'info').map(describeFinding);
      throw preflightFailed(`the cluster is not healthy, so a failover drill would not be safe: ${problems.join('; ')}`, [{ problems }]);
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
    const written = await drillStepsWithinFiveMinutes.writeCanaries(spec.name, master.address, keys, value);
    report.canaries = { ...report.canaries, written: written.written, acknowledged: written.acknowledged };
    if (!written.acknowledged) {
      // A refused drill leaves nothing behind: its canaries would otherwise live a day.
      if (patched('refused-drill-removes-canaries')) await CancellationScope.nonCancellable(() => drillCleanupWithinAMinute.removeCanaries(spec.name, spec.nodes, keys)).catch(() => undefined);
      throw preflightFailed(`no replica of ${master.address} acknowledged the canary writes (WAIT 1 5000 returned 0): it would lose writes on failover`);
    }

    // Set before the stop is asked for: a stop cancelled or crashed in flight may have happened.
    let masterStopped = false;
    let masterRestarted = false;
    let canariesRemoved = false;
    const silent = new Set<string>();
    try {
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
        masterStopped = true;
        start = (await hosts.node(drillStepsWithinFiveMinutes, master.address).stopNode(spec.name, master.address, input.mode)).stoppedAt;
        op.step(STEPS[3]);
        const observers = survivors.filter((a) => !replicasOfMaster.includes(a));
        // A write to the shard once a replica took over times how long it could not be written.
        const probeKey = canaryKeys(target.master.slots, 1, `probe-${workflowInfo().runId.slice(0, 8)}`)[0];
        const promotion = await wait.awaitPromotion(spec.name, master, replicasOfMaster, observers, timeoutMs, probeKey).catch(surfaceActivityFailure);
        report.timings.failFlagMs = promotion.failFlaggedAt !== undefined ? promotion.failFlaggedAt - start : undefined;
        report.timings.promotionMs = promotion.promotedAt - start;
        if (promotion.writableAt !== undefined) report.timings.writeUnavailableMs = promotion.writableAt - start;
        (promotion.silent ?? []).forEach((a) => silent.add(a));
        newMaster = promotion.newMaster;
      }
      report.promoted = newMaster;
      report.startedAt = new Date(start).toISOString();

      op.step(STEPS[4]);
      const ok = await wait.awaitClusterStateOk(spec.name, input.mode === 'manual' ? observations.map((o) => o.address) : survivors, timeoutMs).catch(surfaceActivityFailure);
      report.timings.clusterOkMs = ok.okAt - start;
      (ok.silent ?? []).forEach((a) => silent.add(a));
      if (silent.size > 0) report.silentNodes = [...silent].sort();

      op.step(STEPS[5]);
      // Read first, delete after: a retried read must not find the keys its first attempt deleted.
      // Runs recorded before removeCanaries existed read and deleted in one step.
      const twoSteps = patched('canaries-verify-then-remove');
      const verified = await drillStepsWithinFiveMinutes.verifyCanaries(spec.name, survivors, keys, value, !twoSteps);
      report.canaries = { ...report.canaries, lost: verified.lost.length, lostKeys: verified.lost.slice(0, 20) };
      if (twoSteps) await drillStepsWithinFiveMinutes.removeCanaries(spec.name, survivors, keys);
      canariesRemoved = true;

      if (input.mode !== 'manual') {
        op.step(STEPS[6]);
        await hosts.node(drillStepsWithinFiveMinutes, master.address).startNode(spec.name, master.address);
        masterRestarted = true;
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
    } catch (err) {
      if (masterStopped && !masterRestarted) {
        // Not cancellable: a cancelled drill must not leave the master it stopped down.
        report.compensation = await CancellationScope.nonCancellable(() => hosts.node(drillStepsWithinFiveMinutes, master.address).startNode(spec.name, master.address)).then(
          () => `${master.address}, which the drill had stopped, was started again`,
          (e: unknown) => `${master.address}, which the drill had stopped, could not be started again (${describeFailure(e).message}): start it by hand`,
        );
      }
      if (!canariesRemoved && patched('failed-drill-removes-canaries')) {
        // Best effort: they expire after a day anyway, and a cluster that is down must not delay the failure long.
        const removed = await CancellationScope.nonCancellable(() => drillCleanupWithinAMinute.removeCanaries(spec.name, spec.nodes, keys)).then(() => true, () => false);
        if (!removed) report.compensation = `${report.compensation ? `${report.compensation}; ` : ''}its canary keys could not be removed (they expire within a day)`;
      }
      const outcome = report.promoted ? `; the failover itself happened: ${report.promoted.address} took over from ${master.address}` : '';
      if (isCancellation(err)) throw new CancelledFailure(`failoverTest cancelled${report.compensation ? `; ${report.compensation}` : ''}`);
      const { type, message } = describeFailure(err);
      throw ApplicationFailure.create({ type, nonRetryable: true, message: `${message}${outcome}${report.compensation ? `; ${report.compensation}` : ''}`, details: [report] });
    }
    const newMaster = report.promoted!;
    failoverMeasured(spec.name, report.timings.promotionMs, report.timings.writeUnavailableMs);
    op.finish(
      'succeeded',
      `${master.address} -> ${newMaster.address}: promoted after ${((report.timings.promotionMs ?? 0) / 1000).toFixed(1)} s, ` +
        `${report.canaries.lost} of ${report.canaries.written} canaries lost${report.failedBack ? ', roles restored' : ''}.`,
    );
    return report;
  });
}
