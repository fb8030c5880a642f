/**
 * Runbook: Adding a Node. A master: CLUSTER MEET, wait until every node knows it, rebalance a
 * fair share of slots onto it. A replica: CLUSTER MEET, CLUSTER REPLICATE, wait for its link.
 */
import { ApplicationFailure, CancellationScope, executeChild, workflowInfo } from '@temporalio/workflow';
import { analyzeHealth, compareRedisVersions, expandObservations, findingKey, referenceView, shardsOf, topologyBlockers, type TopologyShard } from '../cluster';
import { nodeLifecycleWithinThreeMinutes, pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts, versionsOnTheirHosts } from './hosts';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { addressesOutsideInventory, parseInput } from './inputChecks';
import { Operation } from './operation';
import { childWorkflowId } from './childWorkflowIds';
import { addNodeInput } from './inputs';
import { rebalance, type RebalanceReport } from './rebalance';

export interface AddNodeReport {
  cluster: string;
  address: string;
  id: string;
  role: 'master' | 'replica';
  provisioned: boolean;
  alreadyMember: boolean;
  masterAddress?: string;
  rebalance?: Pick<RebalanceReport, 'slotsMoved' | 'keysMoved' | 'keysPerSecond' | 'aborted'>;
  after: TopologyShard[];
  /** What the operator should do next, e.g. add the address to the inventory. */
  notes: string[];
}

const STEPS = [
  'Check the cluster is healthy',
  'Check the new node is empty',
  'Introduce it (CLUSTER MEET)',
  'Await every node knowing it',
  'Give it its role',
  'Check the cluster',
] as const;

export async function addNode(rawInput: unknown): Promise<AddNodeReport> {
  const op = new Operation('addNode', STEPS, { checks: 2 });
  return op.run(async () => {
    const input = parseInput(addNodeInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const hosts = NodeHosts.of(spec);
    // Refusals that need only the input and the inventory come before the cluster is taken.
    const problems = addressesOutsideInventory({ address: input.address }, spec);
    if (input.replicaOf !== undefined && input.role !== 'replica') problems.push('replicaOf: only for role "replica"');
    if (problems.length > 0) throw invalidInput(problems);
    await op.lock(spec.name);
    const wait = pollingWithin(input.timeoutSeconds);
    const timeoutMs = input.timeoutSeconds * 1000;

    op.step(STEPS[0]);
    const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));
    const view = referenceView(observations) ?? [];
    const members = observations.filter((o) => !o.error).map((o) => o.address).filter((a) => a !== input.address);
    const alreadyMember = view.some((n) => n.address === input.address);
    const health = analyzeHealth(observations.filter((o) => o.address !== input.address), { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster, nodes: members.length });
    const critical = topologyBlockers(health, input.address);
    if (critical.length > 0) {
      throw preflightFailed(`the cluster is not healthy: ${critical.map(findingKey).join(', ')}; fix that first (clusterHealth shows how)`);
    }

    // Every refusal that needs nothing from the new node comes before anything is started.
    const shards = shardsOf(view);
    let master: TopologyShard['master'] | undefined;
    if (input.role === 'replica') {
      master = input.replicaOf
        ? shards.find((s) => s.master.id === input.replicaOf || s.master.address === input.replicaOf)?.master
        : [...shards].sort((a, b) => a.replicas.length - b.replicas.length)[0]?.master;
      if (!master) throw invalidInput([`replicaOf: "${input.replicaOf}" is not a master that owns slots; masters: ${shards.map((s) => s.master.address).join(', ')}`]);
    }
    const clusterVersions = [...new Set(observations.filter((o) => shards.some((s) => s.master.address === o.address) && o.redisVersion).map((o) => o.redisVersion!))];

    op.step(STEPS[1], input.address);
    const like = shards.map((s) => s.master.address);
    // Over many hosts, the masters' versions are read where each runs; the new node's agent knows only its own host.
    const likeVersions = spec.runtime && hosts.distributed ? (await versionsOnTheirHosts(hosts, redisCallsWithinAMinute, spec.name, like).catch(surfaceActivityFailure)).map((n) => n.version) : undefined;
    const provisioned = spec.runtime ? (await hosts.node(nodeLifecycleWithinThreeMinutes, input.address).provisionNode(spec.name, input.address, like, likeVersions).catch(surfaceActivityFailure)).provisioned : false;
    let met = false;
    let nodeId: string | undefined;
    const report: AddNodeReport = { cluster: spec.name, address: input.address, id: '', role: input.role, provisioned, alreadyMember, after: [], notes: [] };
    try {
      const [probe] = await redisCallsWithinAMinute.probeNodes(spec.name, [input.address]);
      if (probe!.error) throw preflightFailed(`${input.address}: cannot be queried (${probe!.error}); start it first${spec.runtime ? '' : ' (the cluster has no runtime to start it)'}`);
      const outsiders = probe!.knows.filter((a) => !members.includes(a));
      if (outsiders.length > 0) {
        throw ApplicationFailure.create({ type: 'NodeNotEmpty', nonRetryable: true, message: `${input.address} belongs to another cluster (knows ${outsiders.join(', ')}); run CLUSTER RESET on it first` });
      }
      if (!alreadyMember && (probe!.keys > 0 || probe!.slotCount > 0)) {
        throw ApplicationFailure.create({ type: 'NodeNotEmpty', nonRetryable: true, message: `${input.address} holds ${probe!.keys} keys and ${probe!.slotCount} slots; a node joins empty (FLUSHALL and CLUSTER RESET it, or pick another)` });
      }
      const version = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, [input.address])).find((o) => o.address === input.address)?.redisVersion;
      // MIGRATE cannot carry keys from a newer Redis to an older one, and a replica cannot sync from one.
      const newer = clusterVersions.filter((v) => version && compareRedisVersions(v, version) > 0);
      if (newer.length > 0) {
        throw preflightFailed(`${input.address} runs Redis ${version}, older than the cluster's ${newer.join(', ')}: keys cannot move to it; run the cluster's version there`);
      }
      nodeId = probe!.id!;
      report.id = nodeId;

      op.step(STEPS[2]);
      met = true;
      await redisCallsWithinAMinute.meetNodes(spec.name, [...members, input.address]);
      op.step(STEPS[3]);
      await wait.awaitNodesKnown(spec.name, [...members, input.address], timeoutMs).catch(surfaceActivityFailure);
      // The new node learns the slot map from the masters' pings; moving slots before it agrees
      // would look like a split cluster.
      await wait
        .awaitClusterHealthy(spec.name, [...members, input.address], { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster }, timeoutMs, ['SLOT_MAP_DISAGREEMENT', 'CLUSTER_STATE_FAIL'])
        .catch(surfaceActivityFailure);
    } catch (err) {
      // A refused or failed join leaves nothing behind: the node we started goes, and the cluster forgets it.
      if (provisioned && !alreadyMember) {
        await CancellationScope.nonCancellable(async () => {
          if (met && nodeId) await pollingWithin(60).forgetNode(spec.name, nodeId, members).catch(() => undefined);
          await hosts.node(nodeLifecycleWithinThreeMinutes, input.address).deprovisionNode(spec.name, input.address);
        });
      }
      throw err;
    }

    if (master) {
      op.step(STEPS[4], `CLUSTER REPLICATE ${master.address}`);
      await redisCallsWithinAMinute.replicateNodes(spec.name, [{ address: input.address, masterAddress: master.address }]);
      await wait.awaitReplicaOf(spec.name, input.address, master.id, timeoutMs).catch(surfaceActivityFailure);
      report.masterAddress = master.address;
    } else if (input.rebalance) {
      op.step(STEPS[4], 'rebalancing slots onto it (child workflow)');
      const moved = await executeChild(rebalance, {
        args: [{ cluster: spec.name, useEmptyMasters: true }],
        workflowId: childWorkflowId(workflowInfo().workflowId, 'rebalance'),
      });
      report.rebalance = { slotsMoved: moved.slotsMoved, keysMoved: moved.keysMoved, keysPerSecond: moved.keysPerSecond, aborted: moved.aborted };
    }

    op.step(STEPS[5]);
    const after = analyzeHealth(expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, [...spec.nodes, input.address])), { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster });
    report.after = after.shards;
    if (!spec.nodes.includes(input.address)) report.notes.push(`add "${input.address}" to clusters.${spec.name}.nodes in the worker's inventory`);
    if (after.shards.length !== spec.masters) report.notes.push(`the cluster now has ${after.shards.length} masters: update clusters.${spec.name}.masters in the inventory`);
    if (input.role === 'master') report.notes.push(`${input.address} has no replica yet: addNode with role "replica" and replicaOf "${input.address}"`);
    op.finish('succeeded', `${input.address} joined as ${input.role}${report.masterAddress ? ` of ${report.masterAddress}` : ''}.`);
    return report;
  });
}
