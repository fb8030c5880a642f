/**
 * Rebalance (used by addNode and removeNode): plan the moves as a pure function of the topology,
 * then migrate slot batches, one (source, target) pair at a time or all pairs in parallel. Pause, resume,
 * throttle and abort arrive as signals and take effect between batches; abort leaves no slot
 * open. The workflow continues as new every `batchesPerRun` batches to bound its history.
 */
import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, patched } from '@temporalio/workflow';
import { analyzeHealth, expandObservations, topologyBlockers, batchSlots, countSlots, describeFinding, findingKey, planRebalance, referenceView, removeSlots, SLOT_FINDINGS, type RebalancePlan, type TopologyShard } from '../cluster';
import { headroomProblems, planMemoryRebalance } from '../cluster/capacity';
import { mib } from '../cluster/diagnosis';
import type { MigrationProgress } from '../shared';
import { keysMigrated } from './metrics';
import { RunControls } from './controls';
import { pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { moveSlotBatches } from './slotMoves';
import { rebalanceInput, type RebalanceInput } from './inputs';
import { carriedState, type RebalanceState } from './rebalanceState';

export type { RebalanceState } from './rebalanceState';

export interface RebalanceReport {
  cluster: string;
  dryRun: boolean;
  plan: RebalancePlan;
  slotsMoved: number;
  keysMoved: number;
  keysReplaced: number;
  keysPerSecond: number;
  runs: number;
  aborted?: string;
  after?: TopologyShard[];
  /** Findings left after the move that are not about slots, e.g. a new master without a replica. */
  findingsAfter?: string[];
}

const STEPS = ['Check the cluster is healthy', 'Plan the moves', 'Check for keys too large to move', 'Move slots', 'Check the cluster is healthy again'] as const;

/** `carried` is internal: the state one run hands the next when it continues as new (see rebalanceState.ts). */
export async function rebalance(rawInput: unknown, carried?: unknown): Promise<RebalanceReport> {
  const op = new Operation('rebalance', STEPS, { checks: 3 });
  return op.run(async () => {
    const input = parseInput(rebalanceInput, rawInput);
    let state = carriedState(carried);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const wait = pollingWithin(600);

    // Installed before preflight, so an abort or a throttle sent while it runs is kept, not dropped.
    const controls = new RunControls('rebalance', { maxKeysPerSecond: state ? state.maxKeysPerSecond : input.maxKeysPerSecond });
    if (state?.aborted) controls.aborted = state.aborted;

    // A continued run holds the cluster under the same workflow id.
    if (state) await op.lock(spec.name);
    if (!state) {
      op.step(STEPS[0]);
      const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
      const health = analyzeHealth(observations, { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster });
      const blocking = topologyBlockers(health);
      if (blocking.length > 0) {
        throw preflightFailed(`the cluster is not healthy enough to move slots: ${blocking.map(describeFinding).join('; ')}`);
      }
      op.step(STEPS[1]);
      const view = referenceView(observations) ?? [];
      const masters = view.filter((n) => n.role === 'master' && !n.flags.includes('fail')).map((n) => ({ id: n.id, address: n.address, slots: n.slots }));
      const unknown: string[] = [];
      const resolve = (ref: string, field: string) => {
        const master = masters.find((n) => n.id === ref || n.address === ref);
        if (!master) unknown.push(`${field}: "${ref}" is not a master of cluster ${spec.name}; masters: ${masters.map((n) => n.address).join(', ')}`);
        return master?.id ?? ref;
      };
      const weights: Record<string, number> = {};
      for (const [ref, weight] of Object.entries(input.weights ?? {})) weights[resolve(ref, `weights.${ref}`)] = weight;
      (input.drain ?? []).forEach((ref, i) => (weights[resolve(ref, `drain[${i}]`)] = 0));
      if (unknown.length > 0) throw invalidInput(unknown);
      // Runs from before capacity awareness planned by slot counts and checked no headroom: they replay so.
      const capacityAware = patched('rebalance-capacity');
      const loads = capacityAware ? await redisCallsWithinAMinute.collectSlotLoads(spec.name, masters, { slotBytes: input.weighBy === 'memory' ? 'always' : 'when-limited' }) : [];
      let plan: RebalancePlan;
      try {
        plan = input.weighBy === 'memory' && capacityAware
          ? planMemoryRebalance(loads.filter((l) => input.useEmptyMasters || l.slots.length > 0 || weights[l.id] === 0), { weights, thresholdPercent: input.thresholdPercent })
          : planRebalance(masters, { weights, thresholdPercent: input.thresholdPercent, useEmptyMasters: input.useEmptyMasters });
      } catch (err) {
        throw invalidInput([(err as Error).message]);
      }
      const tight = headroomProblems(plan, loads, input.maxMemoryAfter);
      if (tight.length > 0) {
        throw preflightFailed(
          `the masters taking the slots lack memory headroom: ${tight.map((p) => `${p.master} uses ${mib(p.usedBytes)} and would take about ${mib(p.incomingBytes)} more, past ${Math.round(input.maxMemoryAfter * 100)}% of its maxmemory ${mib(p.maxmemory)}`).join('; ')}. ` +
            'Add a master first (redisforge add --role master), raise maxmemory on them, or set maxMemoryAfter higher to accept it; nothing was moved',
        );
      }
      if (input.dryRun) {
        op.finish('succeeded', `Dry run: ${plan.slotsToMove} slots would move in ${plan.moves.length} moves.`);
        return { cluster: spec.name, dryRun: true, plan, slotsMoved: 0, keysMoved: 0, keysReplaced: 0, keysPerSecond: 0, runs: 1 };
      }
      await op.lock(spec.name);

      op.step(STEPS[2]);
      if (!input.allowLargeKeys) {
        const samples = await Promise.all(plan.moves.map((m) => {
          const slots = batchSlots(m.slots, 1).map((b) => b[0]!);
          const step = Math.max(1, Math.floor(slots.length / 64));
          return redisCallsWithinAMinute.findLargeKeys(spec.name, m.from.address, slots.filter((_, i) => i % step === 0), input.maxKeyBytes);
        }));
        const large = samples.flat();
        if (large.length > 0) {
          throw ApplicationFailure.create({ type: 'LargeKeys', nonRetryable: true, message: `keys larger than maxKeyBytes (${input.maxKeyBytes}) would block MIGRATE: ${large.slice(0, 5).map((k) => `${k.key} (${k.bytes} bytes, slot ${k.slot})`).join(', ')}; set allowLargeKeys to move them anyway`, details: [{ large }] });
        }
      }
      state = { plan, masters: masters.map((m) => m.address), remaining: plan.moves, slotsDone: 0, keysMoved: 0, keysReplaced: 0, movingMs: 0, runs: 1, maxKeysPerSecond: controls.maxKeysPerSecond };
    } else {
      state.runs++;
    }

    // Narrowed for the closures below: by here a first run has planned, a continued one carried its state.
    const migration = state;
    const progress = (): MigrationProgress => {
      const rate = migration.movingMs > 0 ? Math.round((migration.keysMoved * 1000) / migration.movingMs) : 0;
      const slotRate = migration.movingMs > 0 ? migration.slotsDone / migration.movingMs : 0;
      return {
        slotsTotal: migration.plan.slotsToMove, slotsDone: migration.slotsDone, keysMoved: migration.keysMoved, keysPerSecond: rate,
        etaSeconds: slotRate > 0 ? Math.round((migration.plan.slotsToMove - migration.slotsDone) / slotRate / 1000) : undefined,
        paused: controls.paused, aborting: controls.aborted !== undefined, maxKeysPerSecond: controls.maxKeysPerSecond,
      };
    };

    op.step(STEPS[3]);
    let batches = 0;
    for (;;) {
      if (controls.paused) {
        op.recordMigration(progress(), 'paused: send the resume update to go on');
        await controls.safePoint();
      }
      migration.aborted = controls.aborted;
      migration.maxKeysPerSecond = controls.maxKeysPerSecond;
      if (migration.aborted !== undefined || migration.remaining.length === 0) break;
      if (batches >= input.batchesPerRun) {
        // A control the last task accepted is applied (it is in `migration`) before this run hands over.
        await condition(allHandlersFinished);
        migration.aborted = controls.aborted;
        migration.maxKeysPerSecond = controls.maxKeysPerSecond;
        await continueAsNew<typeof rebalance>(rawInput as RebalanceInput, migration);
      }
      // One batch per (source, target) pair at a time; pairs move in parallel. Redis runs each
      // node's commands one at a time, so parallel batches only overlap the round trips.
      const picked = input.parallel ? migration.remaining : migration.remaining.slice(0, 1);
      const started = Date.now();
      // A failed or cancelled batch has its open slots closed before this throws (see slotMoves.ts).
      const results = await moveSlotBatches(
        spec.name,
        picked.map((move) => {
          const slots = batchSlots(move.slots, input.slotsPerBatch)[0]!;
          const others = migration.masters.filter((a) => a !== move.from.address && a !== move.to.address);
          const rate = migration.maxKeysPerSecond ? Math.max(1, Math.floor(migration.maxKeysPerSecond / picked.length)) : undefined;
          return { from: move.from, to: move.to, slots, others, keysPerMigrate: input.keysPerMigrate, maxKeysPerSecond: rate };
        }),
      );
      migration.movingMs += Date.now() - started;
      keysMigrated(spec.name, results.reduce((n, b) => n + b.slots.length, 0), results.reduce((n, b) => n + b.keysMoved, 0));
      for (const batch of results) {
        migration.slotsDone += batch.slots.length;
        migration.keysMoved += batch.keysMoved;
        migration.keysReplaced += batch.keysReplaced;
        migration.remaining = migration.remaining.map((m) => ({ ...m, slots: removeSlots(m.slots, batch.slots) })).filter((m) => countSlots(m.slots) > 0);
      }
      batches++;
      op.recordMigration(progress(), `${migration.slotsDone} of ${migration.plan.slotsToMove} slots moved, ${migration.keysMoved} keys`);
    }

    controls.close(migration.aborted ? `the rebalance stopped (${migration.aborted}) and is checking the cluster` : 'every slot has moved; the rebalance is checking the cluster');
    op.step(STEPS[4]);
    // Success here is about slots: one slot map, no open slot, every slot served. Other findings
    // (a new master without a replica yet) are reported, not waited for.
    const after = await wait
      .awaitClusterHealthy(spec.name, spec.nodes, { masters: countMasters(migration), replicasPerMaster: spec.replicasPerMaster }, 120_000, [...SLOT_FINDINGS])
      .catch(surfaceActivityFailure);
    const report: RebalanceReport = {
      cluster: spec.name, dryRun: false, plan: migration.plan, slotsMoved: migration.slotsDone, keysMoved: migration.keysMoved, keysReplaced: migration.keysReplaced,
      keysPerSecond: progress().keysPerSecond, runs: migration.runs, aborted: migration.aborted, after: after.shards,
      findingsAfter: after.findings.map(findingKey),
    };
    op.finish('succeeded', migration.aborted ? `Aborted (${migration.aborted}) after ${migration.slotsDone} of ${migration.plan.slotsToMove} slots; no slot is left open.` : `${migration.slotsDone} slots and ${migration.keysMoved} keys moved (${report.keysPerSecond} keys/s).`);
    return report;
  });
}

function countMasters(migration: RebalanceState): number {
  return Object.values(migration.plan.targets).filter((n) => n > 0).length;
}
