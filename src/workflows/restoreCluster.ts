/**
 * Runbook: Restore from Backup. The backup is checked first (manifest, every object's
 * sha256, enough nodes) and the plan shown; nothing is touched before an approval. Then the
 * runbook's steps: stop all nodes, clean their data, extract each shard's AOF into the node
 * that will master its slots, write each node's nodes.conf (same node ids and epochs, new
 * addresses), start, await cluster ok, and check every shard's key count against the manifest.
 */
import { ApplicationFailure, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { backupRdbFormat, describeEngine, expandObservations, liveMembersOutside, planRestore, rdbFormatProblem, restoredNodesConf, SLOT_FINDINGS, type RestoreAssignment } from '../cluster';
import { scratchAddresses, scratchAllocationSchema, type ScratchAllocation } from '../cluster/scratch';
import type { Approval } from '../shared';
import { ApprovalGate } from './controls';
import { backupDownloadWithinSixHours, pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts } from './hosts';
import { invalidInput, preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { restoreClusterInput, type RestoreClusterInput } from './inputs';

export interface RestoreReport {
  cluster: string;
  from: string;
  backupId: string;
  backupTakenAt: string;
  dryRun: boolean;
  /** same-shape: every node of the backup restored (ids kept); new-shape: the slot map rebuilt for another node count. */
  mode: 'same-shape' | 'new-shape';
  plan: RestoreAssignment[];
  /** Old address -> new address. */
  moved: Record<string, string>;
  approval?: Approval;
  /** Per shard: keys in the manifest and on the restored master. */
  keys: { shard: number; master: string; expected: number; restored: number }[];
  bytesRead: number;
  /** From the start until every master served its slots (cluster_state:ok everywhere). */
  servingMs?: number;
  durationMs: number;
}

const STEPS = ['Check the backup', 'Plan the restore', 'Wait for approval', 'Stop all nodes', "Load each node's data", 'Start the nodes', 'Await cluster ok', 'Verify key counts', 'Await replicas in sync'] as const;

/**
 * The second argument, internal to verifyBackup: the scratch cluster its drill restores into,
 * as the worker allocated it. No input names a scratch cluster; this argument is accepted only
 * from a verifyBackup's own restore child, and validated like an input.
 */
export const restoreInternalArgument = z.object({ scratch: scratchAllocationSchema }).strict();
export type RestoreInternalArgument = z.input<typeof restoreInternalArgument>;

function scratchTarget(input: RestoreClusterInput, raw: unknown): ScratchAllocation {
  const { parent, workflowId } = workflowInfo();
  if (!parent || workflowId !== `${parent.workflowId}-restore`) {
    throw invalidInput(['(second argument): internal to verifyBackup, whose drill restores into scratch clusters; start restoreCluster with one input object']);
  }
  const { scratch } = parseInput(restoreInternalArgument, raw);
  if (scratch.workflowId !== parent.workflowId) throw invalidInput([`scratch.workflowId: ${scratch.workflowId} is not this restore's verifyBackup (${parent.workflowId})`]);
  if (scratch.source !== input.cluster || (input.from ?? input.cluster) !== scratch.source) throw invalidInput([`scratch.source: ${scratch.source} is not the cluster being restored (${input.cluster})`]);
  return scratch;
}

export async function restoreCluster(rawInput: unknown, rawInternal?: unknown): Promise<RestoreReport> {
  const op = new Operation('restoreCluster', STEPS, { checks: 2 });
  // At the approval gate, abort declines: the restore ends with nothing touched.
  const gate = new ApprovalGate('restoreCluster');
  return op.run(async () => {
    const input = parseInput(restoreClusterInput, rawInput);
    // A verifyBackup drill restores the cluster's backup into its scratch cluster instead.
    const scratch = rawInternal === undefined ? undefined : scratchTarget(input, rawInternal);
    const target = scratch?.name ?? input.cluster;
    op.recordCluster(target);
    // A scratch cluster on a host is known only to that host's agent: every step of it runs there.
    const drill = NodeHosts.allOn(scratch?.host);
    const spec = await drill.cluster(redisCallsWithinAMinute).loadClusterSpec(target).catch(surfaceActivityFailure);
    const hosts = scratch ? drill : NodeHosts.of(spec);
    const calls = hosts.cluster(redisCallsWithinAMinute);
    const downloads = hosts.cluster(backupDownloadWithinSixHours);
    if (scratch && spec.nodes.join(',') !== scratchAddresses(scratch).join(',')) {
      throw invalidInput([`scratch.ports: ${scratch.ports.join(',')} are not the ports this worker allocated to ${scratch.name} (${spec.nodes.join(', ')})`]);
    }
    const from = input.from ?? input.cluster;
    const started = Date.now();
    if (!spec.runtime) {
      throw preflightFailed(`cluster ${spec.name} has no runtime in the worker's inventory: a restore stops, fills and starts its nodes; name one in clusters.${spec.name}.runtime`);
    }

    op.step(STEPS[0], `backup \`${input.backupId}\` of \`${from}\``);
    const store = await calls.describeStore(from, input.store ?? '').catch(surfaceActivityFailure);
    const manifest = await calls.readBackupManifest(from, store.name, input.backupId).catch(surfaceActivityFailure);
    const checked = await downloads.verifyBackupObjects(store.name, manifest).catch(surfaceActivityFailure);

    op.step(STEPS[1]);
    const plan = planRestore(manifest, spec.nodes);
    if (plan.problems.length > 0) {
      throw preflightFailed(`cannot restore ${input.backupId} into ${spec.name}: ${plan.problems.join('; ')}`);
    }
    // A member the restore would not stop brings the old topology back into the restored cluster.
    if (!scratch && patched('restore-refuses-members-outside')) {
      const observed = expandObservations(await calls.collectClusterState(spec.name, spec.nodes).catch(surfaceActivityFailure));
      // A target whose engine cannot read the backup's RDB format would not start on it.
      const tooOld = rdbFormatProblem(backupRdbFormat(manifest), `backup ${input.backupId} (taken on ${manifest.engine ? describeEngine(manifest.engine) : `Redis ${manifest.redisVersion}`})`,
        observed.flatMap((o) => (o.engine && spec.nodes.includes(o.address) ? [{ address: o.address, engine: o.engine }] : [])));
      if (tooOld) {
        throw preflightFailed(`${tooOld}: upgrade ${spec.name} to the backup's version or newer first (upgradeRedis), or restore onto nodes that run it; nothing was changed`);
      }
      const outside = liveMembersOutside(observed, spec.nodes);
      if (outside.length > 0) {
        throw preflightFailed(
          `${outside.join(', ')} ${outside.length > 1 ? 'are members' : 'is a member'} of ${spec.name} but not among its nodes in the inventory (clusters.${spec.name}.nodes), so the restore would leave ${outside.length > 1 ? 'them' : 'it'} running, and ${outside.length > 1 ? 'they' : 'it'} would gossip the topology of before the restore back into the restored cluster: take ${outside.length > 1 ? 'them' : 'it'} out first (removeNode), or list ${outside.length > 1 ? 'them' : 'it'} in the inventory's nodes; nothing was changed`,
        );
      }
    }
    const report: RestoreReport = {
      cluster: spec.name,
      from,
      backupId: input.backupId,
      backupTakenAt: manifest.startedAt,
      dryRun: input.dryRun,
      mode: plan.mode,
      plan: plan.assignments,
      moved: plan.moved,
      keys: [],
      bytesRead: checked.bytes,
      durationMs: 0,
    };
    const planTable = [
      '| node of the backup | restored on | role | slots |',
      '|---|---|---|---|',
      ...plan.assignments.map((a) => `| ${a.fromAddress || 'new node'} (${a.fromId.slice(0, 8)}) | ${a.toAddress}${a.fromAddress && a.toAddress !== a.fromAddress ? ' (moved)' : ''} | ${a.role} | ${a.slots || '-'} |`),
    ].join('\n');
    if (input.dryRun) {
      op.finish('succeeded', `dry run: backup \`${input.backupId}\` (${manifest.keys} keys) checked; the plan:\n\n${planTable}`);
      report.durationMs = Date.now() - started;
      return report;
    }

    await op.lock(spec.name);
    op.step(
      STEPS[2],
      `**approval needed**: every node of \`${spec.name}\` will be stopped and its data replaced by backup \`${input.backupId}\` (taken ${manifest.startedAt}, ${manifest.keys} keys). Send the \`approve\` update to go on, or the \`abort\` update to decline.\n\n${planTable}`,
    );
    const decision = await gate.decide({ preApproved: input.approve, timeoutSeconds: input.approvalTimeoutSeconds });
    if (!decision.approved) {
      throw ApplicationFailure.create({ type: 'Declined', nonRetryable: true, message: `restore of ${input.backupId} into ${spec.name} declined (${decision.declined}); no node was touched` });
    }
    report.approval = decision.approval;

    op.step(STEPS[3]);
    // A node that cannot be stopped is stopped again by restoreNodeData; a cancellation is not swallowed.
    await Promise.all(spec.nodes.map((address) => hosts.node(redisCallsWithinAMinute, address).stopNode(spec.name, address, 'stop').catch(rethrowCancellation)));

    op.step(STEPS[4]);
    const read = await Promise.all(
      plan.assignments.map((a) =>
        hosts.node(backupDownloadWithinSixHours, a.toAddress).restoreNodeData({
          cluster: spec.name,
          store: store.name,
          address: a.toAddress,
          object: a.shard === undefined ? undefined : manifest.shards.find((s) => s.index === a.shard)!.object,
          compression: manifest.compression,
          nodesConf: restoredNodesConf(manifest, plan, a.toAddress),
        }),
      ),
    );
    report.bytesRead += read.reduce((n, r) => n + r.bytes, 0);

    op.step(STEPS[5]);
    await Promise.all(plan.assignments.map((a) => hosts.node(redisCallsWithinAMinute, a.toAddress).startNode(spec.name, a.toAddress)));
    // A scratch port answering proves nothing: each must be the node this restore wrote.
    if (scratch) await calls.confirmScratchNodes(spec.name, Object.fromEntries(plan.assignments.map((a) => [a.toAddress, a.fromId]))).catch(surfaceActivityFailure);

    op.step(STEPS[6]);
    const nodes = plan.assignments.map((a) => a.toAddress);
    const expected = { masters: manifest.shards.length, replicasPerMaster: Math.floor((nodes.length - manifest.shards.length) / manifest.shards.length), nodes: nodes.length };
    const wait = hosts.cluster(pollingWithin(input.timeoutSeconds));
    await wait.awaitClusterHealthy(spec.name, nodes, expected, input.timeoutSeconds * 1000, [...SLOT_FINDINGS, 'NODE_UNREACHABLE', 'KNOWN_NODES_MISMATCH']).catch(surfaceActivityFailure);
    report.servingMs = Date.now() - started;

    op.step(STEPS[7]);
    const masters = plan.assignments.filter((a) => a.shard !== undefined);
    const counts = await calls.countKeys(spec.name, masters.map((m) => m.toAddress));
    report.keys = masters.map((m) => ({ shard: m.shard!, master: m.toAddress, expected: manifest.shards.find((s) => s.index === m.shard)!.keys, restored: counts[m.toAddress]! }));
    const wrong = report.keys.filter((k) => k.expected !== k.restored);
    if (wrong.length > 0) {
      throw ApplicationFailure.create({
        type: 'RestoreMismatch',
        nonRetryable: true,
        message: `restored key counts differ from the backup: ${wrong.map((k) => `shard ${k.shard} on ${k.master}: ${k.restored} keys, backup has ${k.expected}`).join('; ')} (keys with a TTL that passed since the backup are dropped on load)`,
        details: [report],
      });
    }

    // Replicas got no data: each does a full sync from its master, which serves meanwhile.
    op.step(STEPS[8]);
    await wait.awaitClusterHealthy(spec.name, nodes, expected, input.timeoutSeconds * 1000, ['REPLICA_LINK_DOWN']).catch(surfaceActivityFailure);
    report.durationMs = Date.now() - started;
    const movedCount = Object.keys(plan.moved).length;
    op.finish('succeeded', `backup \`${input.backupId}\` restored: ${manifest.keys} keys in ${manifest.shards.length} shards${movedCount ? `, ${movedCount} nodes on new addresses` : ''}.`);
    return report;
  });
}

function rethrowCancellation(err: unknown): void {
  if (isCancellation(err)) throw err;
}
