/**
 * Runbook: "CLUSTERDOWN Hash slot not served". Find the slots nobody serves, the open slots and
 * the members that are down; bring failed nodes back up and wait for them to rejoin; close open
 * slots the way `redis-cli --cluster fix` does, by where their keys are; only then, behind an
 * approval because their keys may be gone, give the slots still not served to live masters.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import {
  countSlots,
  expandObservations,
  diagnoseCluster,
  formatSlotRanges,
  intersectSlots,
  liveOwnerOf,
  planOpenSlot,
  planSlotAssignment,
  repairSnapshot,
  type DownNode,
  type FindingCode,
  type NodeObservation,
  type OpenSlotPlan,
  type RepairDiagnosis,
  type RepairSnapshot,
  type SlotAssignment,
  type SlotRange,
  uncoveredSlots,
} from '../cluster';
import type { Approval } from '../shared';
import { ApprovalGate } from './controls';
import { pollingWithin, redisCallsWithinAMinute, slotMigrationWithinThirtyMinutes } from './activityOptions';
import { NodeHosts } from './hosts';
import { preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { repairClusterInput } from './inputs';

export interface RestartPlan {
  node: DownNode;
  restart: boolean;
  why: string;
}

export interface RepairReport {
  cluster: string;
  dryRun: boolean;
  before: RepairSnapshot;
  plan: { restart: RestartPlan[]; openSlots: OpenSlotPlan[]; assign: SlotAssignment[] };
  nodesRestarted: string[];
  openSlotsClosed: (OpenSlotPlan & { keysMoved: number; staleCopiesDropped: string[] })[];
  slotsAssigned: SlotAssignment[];
  approval?: Approval;
  /** Why uncovered slots were left as they are, when they were. */
  assignmentDeclined?: string;
  after?: RepairSnapshot;
  /** Every slot served and none open (a dry run: before anything was done). */
  repaired: boolean;
  notes: string[];
}

const STEPS = ['Find what is broken', 'Restart failed nodes', 'Close open slots', 'Assign uncovered slots', 'Check every slot is served'] as const;

/** What "the cluster serves again" waits for; failed members that stay down are reported, not awaited. */
const SERVED: FindingCode[] = ['OPEN_SLOT', 'SLOTS_UNCOVERED', 'SLOTS_NOT_OK', 'SLOT_MAP_DISAGREEMENT', 'CLUSTER_STATE_FAIL'];

export async function repairCluster(rawInput: unknown): Promise<RepairReport> {
  const op = new Operation('repairCluster', STEPS, { checks: 1 });
  const gate = new ApprovalGate('repairCluster');
  return op.run(async () => {
    const input = parseInput(repairClusterInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const hosts = NodeHosts.of(spec);
    const expected = { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster };
    const timeoutMs = input.timeoutSeconds * 1000;
    let seeds = spec.nodes;
    const observe = async (): Promise<{ observations: NodeObservation[]; diagnosis: RepairDiagnosis }> => {
      const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, seeds));
      return { observations, diagnosis: diagnoseCluster(observations) };
    };

    op.step(STEPS[0]);
    let { observations, diagnosis } = await observe();
    if (diagnosis.liveMasters.length === 0) {
      throw preflightFailed(`no master of cluster ${spec.name} answers (tried ${seeds.join(', ')}): bring at least one back by hand`);
    }
    const report: RepairReport = {
      cluster: spec.name, dryRun: input.dryRun, before: repairSnapshot(observations, expected), plan: { restart: [], openSlots: [], assign: [] },
      nodesRestarted: [], openSlotsClosed: [], slotsAssigned: [], repaired: false, notes: [...diagnosis.notes],
    };
    report.plan.restart = await planRestarts(diagnosis.down, spec.name, input.restartFailedNodes, spec.runtime !== undefined, hosts);
    report.plan.openSlots = await planOpenSlots(spec.name, diagnosis);

    if (input.dryRun) {
      // Slots of masters about to be restarted are expected back; the rest would be assigned.
      const back = report.plan.restart.filter((r) => r.restart).flatMap((r) => r.node.slots);
      const uncovered = intersectSlots(diagnosis.uncovered, uncoveredSlots(back));
      report.plan.assign = await planAssignment(spec.name, diagnosis, uncovered);
      if (!input.assignUncovered && report.plan.assign.length > 0) report.notes.push('assignUncovered is false: these slots would be left unassigned');
      report.repaired = report.before.slotsUncoveredCount === 0 && report.before.openSlots.length === 0;
      op.finish('succeeded', `Dry run: ${describePlan(report)}`);
      return report;
    }
    await op.lock(spec.name);

    op.step(STEPS[1]);
    const toStart = report.plan.restart.filter((r) => r.restart).map((r) => r.node);
    for (const node of toStart) {
      op.step(STEPS[1], `starting ${node.address} (${node.role}${node.slots.length ? `, slots ${formatSlotRanges(node.slots)}` : ''})`);
      await hosts.node(redisCallsWithinAMinute, node.address).startNode(spec.name, node.address);
      report.nodesRestarted.push(node.address);
    }
    if (toStart.length > 0) {
      seeds = [...new Set([...seeds, ...toStart.map((n) => n.address)])];
      op.step(STEPS[1], `waiting for ${toStart.map((n) => n.address).join(', ')} to rejoin`);
      await pollingWithin(input.timeoutSeconds).awaitNodesRejoined(spec.name, seeds, toStart.map((n) => n.id), timeoutMs).catch(surfaceActivityFailure);
      ({ observations, diagnosis } = await observe());
      report.plan.openSlots = await planOpenSlots(spec.name, diagnosis);
    }

    op.step(STEPS[2], `${report.plan.openSlots.length} open slots`);
    const masters = diagnosis.liveMasters.map((m) => m.address);
    for (const plan of report.plan.openSlots) {
      op.step(STEPS[2], `slot ${plan.slot}: ${plan.action} (${plan.why})`);
      const closed = await slotMigrationWithinThirtyMinutes.closeOpenSlot(spec.name, { slot: plan.slot, owner: plan.owner, masters }).catch(surfaceActivityFailure);
      report.openSlotsClosed.push({ ...plan, ...closed });
    }
    if (report.openSlotsClosed.length > 0) ({ observations, diagnosis } = await observe());

    op.step(STEPS[3]);
    const uncovered = diagnosis.uncovered;
    if (countSlots(uncovered) > 0 && !input.assignUncovered) {
      report.assignmentDeclined = 'assignUncovered is false';
      report.notes.push(`${countSlots(uncovered)} slots (${formatSlotRanges(uncovered)}) are still not served: their master is down and did not come back. Run repairCluster with assignUncovered: true to give them to live masters; their keys are lost unless a node still holds them.`);
    } else if (countSlots(uncovered) > 0) {
      report.plan.assign = await planAssignment(spec.name, diagnosis, uncovered);
      const targets = report.plan.assign.map((a) => `${formatSlotRanges(a.slots)} (${a.slotCount} slots${a.slotsWithKeys ? `, ${a.slotsWithKeys} holding ${a.keys} keys there` : ''}) to ${a.master.address}`).join('; ');
      op.step(STEPS[3], `**approval needed**: ${countSlots(uncovered)} slots (${formatSlotRanges(uncovered)}) are served by no live master; keys no live node holds in them are lost. Plan: ${targets}. Send the \`approve\` update to assign them, or the \`abort\` update to leave them unassigned.`);
      const decision = await gate.decide({ preApproved: input.approve, timeoutSeconds: input.approvalTimeoutSeconds });
      if (!decision.approved) {
        report.assignmentDeclined = decision.declined;
        report.notes.push(`assigning ${countSlots(uncovered)} uncovered slots was declined (${decision.declined}); they stay unassigned`);
      } else {
        report.approval = decision.approval;
        // The cluster may have changed while the approval was pending: assign only what is still uncovered.
        ({ observations, diagnosis } = await observe());
        const still = intersectSlots(diagnosis.uncovered, uncovered);
        const assign = countSlots(still) === countSlots(uncovered) ? report.plan.assign : await planAssignment(spec.name, diagnosis, still);
        for (const assignment of assign) {
          op.step(STEPS[3], `assigning ${assignment.slotCount} slots to ${assignment.master.address}`);
          await slotMigrationWithinThirtyMinutes.assignUncoveredSlots(spec.name, { master: assignment.master, slots: assignment.slots }).catch(surfaceActivityFailure);
          report.slotsAssigned.push(assignment);
        }
      }
    }

    op.step(STEPS[4]);
    if (report.assignmentDeclined === undefined) {
      await pollingWithin(input.timeoutSeconds).awaitClusterHealthy(spec.name, seeds, expected, timeoutMs, SERVED).catch(surfaceActivityFailure);
    }
    report.after = repairSnapshot(expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, seeds)), expected);
    // A master the worker cannot reach, not agreed failed, may or may not serve its slots: not repaired.
    report.repaired = report.after.slotsUncoveredCount === 0 && report.after.openSlots.length === 0 && report.after.mastersUnconfirmed.length === 0;
    const lost = report.plan.restart.filter((r) => !r.restart);
    for (const { node, why } of lost) report.notes.push(`${node.address} (${node.id.slice(0, 8)}) was not restarted: ${why}`);
    if (report.slotsAssigned.length > 0) report.notes.push('the assigned slots make the masters uneven: run rebalance; replace lost nodes with removeNode (their old ids) and addNode');
    const unconfirmed = report.after.mastersUnconfirmed.length ? ` ${report.after.mastersUnconfirmed.join(', ')} do not answer this worker and are not agreed failed: their slots were left alone.` : '';
    op.finish('succeeded', `${report.repaired ? 'Every slot is served.' : '**Not repaired**: slots are still not served.'}${unconfirmed} ${describePlan(report)}`);
    return report;
  });
}

/** Which down members to start: only through a runtime, and only those whose data is still their own. */
async function planRestarts(down: DownNode[], cluster: string, enabled: boolean, hasRuntime: boolean, hosts: NodeHosts): Promise<RestartPlan[]> {
  if (!enabled) return down.map((node) => ({ node, restart: false, why: 'restartFailedNodes is false' }));
  if (!hasRuntime) return down.map((node) => ({ node, restart: false, why: `cluster ${cluster} has no runtime in the inventory: start it by hand` }));
  return Promise.all(
    down.map(async (node): Promise<RestartPlan> => {
      // Read on the node's host: a host whose agent does not answer keeps its nodes down (named here), the rest is repaired.
      const state = await hosts.node(redisCallsWithinAMinute, node.address).inspectDownNode(cluster, node.address, node.id).catch((err: unknown) => {
        if (err instanceof ApplicationFailure && err.type === 'HostAgentUnavailable') return { status: 'unknown' as const, data: 'unreachable' as const, detail: err.message };
        throw err;
      });
      if (state.data === 'unreachable') return { node, restart: false, why: `its host does not answer: ${state.detail}` };
      if (state.data !== 'intact') {
        return { node, restart: false, why: `it is lost (${state.detail}); starting it would make a new, empty node. Replace it: removeNode ${node.id}, then addNode` };
      }
      if (state.status === 'running') return { node, restart: false, why: 'it runs but does not answer (hung, or still loading its data): check its log' };
      return { node, restart: true, why: `stopped, ${state.detail}` };
    }),
  );
}

async function planOpenSlots(cluster: string, diagnosis: RepairDiagnosis): Promise<OpenSlotPlan[]> {
  if (diagnosis.openSlots.length === 0) return [];
  const facts = await redisCallsWithinAMinute.inspectOpenSlots(cluster, diagnosis.liveMasters.map((m) => m.address), diagnosis.openSlots);
  return facts.map((f) => planOpenSlot(f, liveOwnerOf(diagnosis, f.slot)));
}

async function planAssignment(cluster: string, diagnosis: RepairDiagnosis, uncovered: SlotRange[]): Promise<SlotAssignment[]> {
  if (countSlots(uncovered) === 0) return [];
  const counts = await redisCallsWithinAMinute.countKeysInSlots(cluster, diagnosis.liveMasters.map((m) => m.address), uncovered);
  return planSlotAssignment(uncovered, counts, diagnosis.liveMasters);
}

function describePlan(r: RepairReport): string {
  const restarts = r.dryRun ? r.plan.restart.filter((p) => p.restart).map((p) => p.node.address) : r.nodesRestarted;
  const closed = r.dryRun ? r.plan.openSlots.length : r.openSlotsClosed.length;
  const assigned = (r.dryRun ? r.plan.assign : r.slotsAssigned).reduce((n, a) => n + a.slotCount, 0);
  const would = r.dryRun ? 'would be ' : '';
  return `${restarts.length} nodes ${would}restarted${restarts.length ? ` (${restarts.join(', ')})` : ''}, ${closed} open slots ${would}closed, ${assigned} slots ${would}assigned.`;
}
