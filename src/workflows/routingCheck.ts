/**
 * Runbook: '"MOVED" Errors in Application'. Through the client endpoint (the Envoy proxy) and
 * on a plain connection to one node, write and read keys in every slot range, then delete
 * them, and tell whether MOVED or ASK reached the client, with the runbook's advice.
 */
import { workflowInfo } from '@temporalio/workflow';
import { expandObservations, judgeRouting, referenceView, routingProbes, unreachableVerdict, type RoutingVerdict } from '../cluster';
import { redisCallsWithinAMinute } from './activityOptions';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { routingCheckInput } from './inputs';

export interface RoutingCheckReport {
  cluster: string;
  /** The address checked as the applications' endpoint: the inventory's clientEndpoint. */
  clientEndpoint?: string;
  ranges: number;
  keysPerRange: number;
  /** What a client saw through the client endpoint; absent when there is none. */
  proxy?: RoutingVerdict;
  /** What a plain client saw on one node. */
  direct: RoutingVerdict;
  notes: string[];
}

const STEPS = ['Find the slot ranges', 'Through the client endpoint', 'Directly against one node'] as const;

export async function routingCheck(rawInput: unknown): Promise<RoutingCheckReport> {
  const op = new Operation('routingCheck', STEPS);
  return op.run(async () => {
    const input = parseInput(routingCheckInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    // The probes carry the cluster's credentials: only the inventory says where they may go.
    if (input.node !== undefined && !spec.nodes.includes(input.node)) {
      throw invalidInput([`node: "${input.node}" is not a node of cluster ${spec.name} in the worker's inventory (clusters.${spec.name}.nodes: ${spec.nodes.join(', ')}); name one of those, or leave node out`]);
    }

    op.step(STEPS[0]);
    const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
    const probes = routingProbes(referenceView(observations) ?? [], input.keysPerRange, workflowInfo().runId.slice(0, 8));
    if (probes.length === 0) {
      throw preflightFailed(`no master of cluster ${spec.name} serves slots (asked ${spec.nodes.join(', ')}): run clusterHealth`);
    }
    const notes: string[] = [];

    op.step(STEPS[1]);
    const endpoint = (await redisCallsWithinAMinute.clientEndpointOf(spec.name)).clientEndpoint;
    let proxy: RoutingVerdict | undefined;
    if (endpoint) {
      const seen = await redisCallsWithinAMinute.probeRouting(spec.name, endpoint, probes);
      proxy = seen.error ? unreachableVerdict('proxy', endpoint, seen.error) : judgeRouting('proxy', endpoint, seen.ranges);
    } else {
      notes.push(`cluster ${spec.name} has no clientEndpoint in the worker's inventory, so only the direct check ran: set clusters.${spec.name}.clientEndpoint to the proxy's "host:port" to check what applications see.`);
    }

    op.step(STEPS[2]);
    const answering = new Set(observations.filter((o) => o.view).map((o) => o.address));
    const node = input.node ?? probes.map((p) => p.owner.address).find((a) => answering.has(a)) ?? probes[0]!.owner.address;
    const seen = await redisCallsWithinAMinute.probeRouting(spec.name, node, probes);
    const direct = seen.error ? unreachableVerdict('node', node, seen.error) : judgeRouting('node', node, seen.ranges);

    const report: RoutingCheckReport = { cluster: spec.name, clientEndpoint: endpoint, ranges: probes.length, keysPerRange: input.keysPerRange, proxy, direct, notes };
    const summary = [proxy && `Through ${proxy.address}: ${proxy.asExpected ? 'no redirect reached the client' : `**${proxy.redirectedRanges.length ? `MOVED/ASK reached the client for ${proxy.redirectedRanges.length} of ${probes.length} ranges` : 'problems'}**`}.`, `Direct to ${node}: ${direct.asExpected ? 'as expected' : '**unexpected**'}.`];
    op.finish('succeeded', [...summary.filter(Boolean), '', proxy?.advice ?? notes[0], direct.advice].join('\n'));
    return report;
  });
}
