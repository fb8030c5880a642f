/**
 * Forms a Redis Cluster from empty nodes, like `redis-cli --cluster create`: assign slots
 * evenly, MEET, REPLICATE, and wait until every node agrees and reports cluster_state:ok.
 * Every step is idempotent, so an interrupted run resumes where it stopped.
 */
import { createClusterPreflight, layoutInPlace, planClusterLayout, type ClusterLayout, type HealthReport } from '../cluster';
import { clusterFormingWithinFiveMinutes, nodeLifecycleWithinThreeMinutes, pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts } from './hosts';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { addressesOutsideInventory, parseInput } from './inputChecks';
import { Operation } from './operation';
import { createClusterInput } from './inputs';

export interface CreateClusterResult {
  cluster: string;
  dryRun: boolean;
  /** True when the nodes already formed this layout and nothing was changed. */
  alreadyFormed: boolean;
  layout: ClusterLayout;
  report?: HealthReport;
}

const STEPS = [
  'Check the nodes are empty',
  'Assign slots to the masters',
  'Introduce the nodes (CLUSTER MEET)',
  'Await every node knowing every other',
  'Attach the replicas (CLUSTER REPLICATE)',
  'Await cluster_state:ok on every node',
] as const;

export async function createCluster(rawInput: unknown): Promise<CreateClusterResult> {
  const op = new Operation('createCluster', STEPS, { checks: 1 });
  return op.run(async () => {
    const input = parseInput(createClusterInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const nodes = input.nodes ?? spec.nodes;
    const replicasPerMaster = input.replicasPerMaster ?? spec.replicasPerMaster;

    // Every node is checked against the inventory before one is probed: a probe carries the credentials.
    const refused = input.nodes ? addressesOutsideInventory(Object.fromEntries(input.nodes.map((n, i) => [`nodes[${i}]`, n])), spec) : [];
    let layout: ClusterLayout | undefined;
    try {
      layout = planClusterLayout(nodes, replicasPerMaster);
    } catch (err) {
      refused.push((err as Error).message);
    }
    if (refused.length > 0 || !layout) throw invalidInput(refused);

    if (input.provision && !input.dryRun) {
      if (!spec.runtime) throw invalidInput([`provision: cluster "${spec.name}" has no runtime in the worker's inventory (clusters.${spec.name}.runtime) to start its nodes with`]);
      op.step(STEPS[0], `starting ${nodes.length} nodes on their hosts`);
      const hosts = NodeHosts.of(spec);
      await Promise.all(nodes.map((address) => hosts.node(nodeLifecycleWithinThreeMinutes, address).provisionNode(spec.name, address).catch(surfaceActivityFailure)));
    }

    op.step(STEPS[0]);
    const probes = await redisCallsWithinAMinute.probeNodes(spec.name, nodes);
    const problems = createClusterPreflight(probes);
    if (problems.length > 0) {
      throw preflightFailed(`cannot create the cluster: ${problems.join('; ')}`, [{ problems }]);
    }
    const alreadyFormed = layoutInPlace(layout, probes);
    if (input.dryRun) {
      op.finish('succeeded', 'Dry run: nothing was changed.');
      return { cluster: spec.name, dryRun: true, alreadyFormed, layout };
    }
    await op.lock(spec.name);

    const wait = pollingWithin(input.timeoutSeconds);
    const timeoutMs = input.timeoutSeconds * 1000;
    if (!alreadyFormed) {
      op.step(STEPS[1], layout.masters.map((m) => `${m.address}: ${m.slots}`).join(', '));
      await Promise.all(layout.masters.map((m) => clusterFormingWithinFiveMinutes.assignSlots(spec.name, m).catch(surfaceActivityFailure)));

      op.step(STEPS[2]);
      await clusterFormingWithinFiveMinutes.meetNodes(spec.name, nodes);

      op.step(STEPS[3]);
      await wait.awaitNodesKnown(spec.name, nodes, timeoutMs).catch(surfaceActivityFailure);

      op.step(STEPS[4], layout.replicas.map((r) => `${r.address} -> ${r.masterAddress}`).join(', '));
      await clusterFormingWithinFiveMinutes.replicateNodes(spec.name, layout.replicas);
    }

    op.step(STEPS[5]);
    const report = await wait
      .awaitClusterHealthy(spec.name, nodes, { masters: layout.masters.length, replicasPerMaster, nodes: nodes.length }, timeoutMs)
      .catch(surfaceActivityFailure);
    op.finish('succeeded', `Cluster formed: ${layout.masters.length} masters, ${layout.replicas.length} replicas, 16384 slots.`);
    return { cluster: spec.name, dryRun: false, alreadyFormed, layout, report };
  });
}
