/**
 * Runbook: Removing a Node. A master with slots is drained first (its slots spread over the
 * other masters); its replicas are re-pointed, not orphaned; every other node forgets it
 * within the 60 s ban window; then it is reset and stopped. A dead master that still owns
 * slots loses their keys: that needs an approval (input approve, or the approve update).
 */
import { ApplicationFailure, executeChild, workflowInfo } from '@temporalio/workflow';
import { countSlots, deathVerdict, expandObservations, formatSlotRanges, referenceView, shardsOf, SLOT_FINDINGS, type TopologyShard } from '../cluster';
import type { Approval } from '../shared';
import { ApprovalGate } from './controls';
import { nodeLifecycleWithinThreeMinutes, pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts } from './hosts';
import { invalidInput, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { childWorkflowId } from './childWorkflowIds';
import { removeNodeInput } from './inputs';
import { rebalance } from './rebalance';

export interface RemoveNodeReport {
  cluster: string;
  node: { id: string; address: string; role: 'master' | 'replica' };
  wasAlive: boolean;
  slotsDrained: number;
  keysMoved: number;
  /** Slots of a dead master given to another master, their keys lost. */
  slotsTakenOver: number;
  replicasRepointed: { address: string; masterAddress: string }[];
  approval?: Approval;
  stopped: boolean;
  after: TopologyShard[];
  notes: string[];
}

const STEPS = ['Find the node', 'Drain its slots', 'Re-point its replicas', 'Forget it on every other node', 'Reset and stop it', 'Check the cluster'] as const;

export async function removeNode(rawInput: unknown): Promise<RemoveNodeReport> {
  const op = new Operation('removeNode', STEPS, { checks: 1 });
  const gate = new ApprovalGate('removeNode');
  return op.run(async () => {
    const input = parseInput(removeNodeInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const hosts = NodeHosts.of(spec);
    await op.lock(spec.name);
    const timeoutMs = input.timeoutSeconds * 1000;

    op.step(STEPS[0]);
    const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
    const view = referenceView(observations) ?? [];
    const node = view.find((n) => n.id === input.node || n.address === input.node);
    if (!node) throw invalidInput([`node: no node "${input.node}" in cluster ${spec.name}; nodes: ${view.map((n) => `${n.address} (${n.id.slice(0, 8)})`).join(', ')}`]);
    const alive = observations.some((o) => o.address === node.address && !o.error);
    const others = observations.filter((o) => !o.error && o.address !== node.address).map((o) => o.address);
    const report: RemoveNodeReport = {
      cluster: spec.name, node: { id: node.id, address: node.address, role: node.role }, wasAlive: alive, slotsDrained: 0, keysMoved: 0,
      slotsTakenOver: 0, replicasRepointed: [], stopped: false, after: [], notes: [],
    };
    const otherMasters = shardsOf(view).filter((s) => s.master.id !== node.id);
    if (node.role === 'master' && otherMasters.length < 3) throw invalidInput([`node: removing ${node.address} would leave ${otherMasters.length} masters; a cluster needs at least 3`]);

    // The worker not reaching a master proves nothing (it may hang, or only the worker may be cut
    // off from it) and it may still serve writes: only the cluster's own `fail` verdict counts.
    const confirmDead = async (obs: typeof observations) => {
      const verdict = deathVerdict(obs, node.id, otherMasters.map((s) => s.master.id));
      if (!verdict.dead) {
        throw ApplicationFailure.create({
          type: 'NodeNotConfirmedDead', nonRetryable: true, details: [{ node: node.address, ...verdict }],
          message: `${node.address} does not answer the worker, but the cluster does not count it dead: ${verdict.why}. It may be hung or cut off from the worker only, and still serve its slots, so they are not given away; retry once the cluster flags it fail, or bring it back`,
        });
      }
    };
    if (node.role === 'master' && node.slots.length > 0 && !alive) await confirmDead(observations);

    if (node.role === 'master' && node.slots.length > 0) {
      if (alive) {
        op.step(STEPS[1], `draining ${countSlots(node.slots)} slots (child workflow)`);
        const drained = await executeChild(rebalance, {
          args: [{ cluster: spec.name, drain: [node.id], thresholdPercent: 0, ...(input.weighBy ? { weighBy: input.weighBy } : {}), ...(input.maxMemoryAfter ? { maxMemoryAfter: input.maxMemoryAfter } : {}) }],
          workflowId: childWorkflowId(workflowInfo().workflowId, 'drain'),
        });
        if (drained.aborted) throw ApplicationFailure.create({ type: 'Aborted', nonRetryable: true, message: `draining ${node.address} was aborted (${drained.aborted}); it still owns slots and stays in the cluster` });
        report.slotsDrained = drained.slotsMoved;
        report.keysMoved = drained.keysMoved;
      } else {
        const slots = formatSlotRanges(node.slots);
        op.step(STEPS[1], `**approval needed**: ${node.address} is down and still owns slots ${slots}; no replica took them over, so their keys are lost. Send the \`approve\` update to give them to another master, or \`abort\` to decline.`);
        const decision = await gate.decide({ preApproved: input.approve, timeoutSeconds: input.approvalTimeoutSeconds });
        if (!decision.approved) {
          throw ApplicationFailure.create({ type: 'Declined', nonRetryable: true, message: `giving the slots of ${node.address} to another master was declined (${decision.declined}); the node stays in the cluster and its slots stay unserved` });
        }
        report.approval = decision.approval;
        // The approval may have waited long: the node may be back by now.
        const now = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
        if (now.some((o) => o.address === node.address && !o.error)) {
          throw ApplicationFailure.create({ type: 'NodeNotConfirmedDead', nonRetryable: true, message: `${node.address} answers again: its slots are not given away; run removeNode again to drain it` });
        }
        await confirmDead(now);
        const target = [...otherMasters].sort((a, b) => a.slotCount - b.slotCount)[0]!.master;
        report.slotsTakenOver = (await redisCallsWithinAMinute.takeOverSlots(spec.name, node.slots, target, others)).slots;
      }
    }

    op.step(STEPS[2]);
    const replicas = view.filter((n) => n.masterId === node.id && !n.flags.includes('fail'));
    if (replicas.length > 0) {
      const counts = new Map(otherMasters.map((s) => [s.master.address, s.replicas.length] as const));
      const plan = replicas.map((r) => {
        const master = [...counts.entries()].sort((a, b) => a[1] - b[1])[0]![0];
        counts.set(master, counts.get(master)! + 1);
        return { address: r.address, masterAddress: master };
      });
      await redisCallsWithinAMinute.replicateNodes(spec.name, plan);
      report.replicasRepointed = plan;
    }

    op.step(STEPS[3]);
    await pollingWithin(60).forgetNode(spec.name, node.id, others).catch(surfaceActivityFailure);

    op.step(STEPS[4]);
    if (alive) await nodeLifecycleWithinThreeMinutes.resetNode(spec.name, node.address, node.id);
    if (input.stop && spec.runtime) {
      // Its data goes too: a later start on this address (addNode replacing the host) begins empty.
      await hosts.node(nodeLifecycleWithinThreeMinutes, node.address).deprovisionNode(spec.name, node.address);
      report.stopped = true;
    }

    op.step(STEPS[5]);
    const after = await pollingWithin(input.timeoutSeconds)
      .awaitClusterHealthy(spec.name, others, { masters: otherMasters.length, replicasPerMaster: spec.replicasPerMaster }, timeoutMs, [...SLOT_FINDINGS])
      .catch(surfaceActivityFailure);
    report.after = after.shards;
    if (spec.nodes.includes(node.address)) report.notes.push(`remove "${node.address}" from clusters.${spec.name}.nodes in the worker's inventory`);
    op.finish('succeeded', `${node.address} removed${report.slotsDrained ? ` after draining ${report.slotsDrained} slots` : ''}.`);
    return report;
  });
}
