/**
 * A restore drill: restores a backup into a scratch cluster (process runtime, on ports of this
 * worker's machine that the inventory reserves in the cluster's scratchPorts), checks every
 * shard's key count against the manifest, and tears the scratch cluster down whatever happened.
 * Schedule it after the nightly backup. The scratch cluster is the worker's allocation, carried
 * here (ports and directory) and handed to the restore as its internal second argument.
 */
import { CancellationScope, ChildWorkflowCancellationType, executeChild, workflowInfo } from '@temporalio/workflow';
import { scratchAddresses, type ScratchAllocation } from '../cluster/scratch';
import { redisCallsWithinAMinute } from './activityOptions';
import { NodeHosts } from './hosts';
import { preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { childWorkflowId } from './childWorkflowIds';
import { verifyBackupInput } from './inputs';
import { restoreCluster, type RestoreInternalArgument, type RestoreReport } from './restoreCluster';

export interface VerifyBackupReport {
  cluster: string;
  backupId: string;
  scratchNodes: string[];
  /** The directory the scratch nodes ran in (removed at the end). */
  scratchDir: string;
  keys: RestoreReport['keys'];
  bytesRead: number;
  restoreMs: number;
  durationMs: number;
}

const STEPS = ['Find the backup', 'Restore into a scratch cluster', 'Tear the scratch cluster down'] as const;

export async function verifyBackup(rawInput: unknown): Promise<VerifyBackupReport> {
  const op = new Operation('verifyBackup', STEPS, { checks: 1 });
  return op.run(async () => {
    const input = parseInput(verifyBackupInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const started = Date.now();

    op.step(STEPS[0]);
    const store = await redisCallsWithinAMinute.describeStore(spec.name, input.store ?? '').catch(surfaceActivityFailure);
    let backupId = input.backupId;
    if (!backupId) {
      backupId = (await redisCallsWithinAMinute.listBackups(spec.name, store.name)).find((b) => b.complete)?.backupId;
      if (!backupId) throw preflightFailed(`cluster ${spec.name} has no complete backup in ${store.description}: run backupCluster first`);
    }
    const manifest = await redisCallsWithinAMinute.readBackupManifest(spec.name, store.name, backupId).catch(surfaceActivityFailure);
    const masters = manifest.shards.length;
    const replicasPerMaster = Math.round((manifest.nodes.length - masters) / masters);
    // Refused here, before any node starts, when the ports are not free or not reserved for drills.
    // On a cluster over many hosts, the drill runs on its scratchHost, start to teardown: its copy of the data never leaves that host.
    const onScratchHost = NodeHosts.allOn(spec.scratchHost, spec.hostAgentWaitSeconds);
    const scratch: ScratchAllocation = await onScratchHost
      .cluster(redisCallsWithinAMinute)
      .allocateScratchCluster({ source: spec.name, basePort: input.basePort, masters, replicasPerMaster, workflowId: workflowInfo().workflowId })
      .catch(surfaceActivityFailure);

    op.step(STEPS[1], `backup \`${backupId}\` into scratch nodes ${scratchAddresses(scratch).join(', ')}`);
    let restored: RestoreReport;
    try {
      const internal: RestoreInternalArgument = { scratch };
      restored = await executeChild(restoreCluster, {
        args: [{ cluster: spec.name, from: spec.name, store: store.name, backupId, approve: true, timeoutSeconds: input.timeoutSeconds }, internal],
        workflowId: childWorkflowId(workflowInfo().workflowId, 'restore'),
        // A cancelled drill waits for the restore to stop before tearing its nodes down.
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
    } finally {
      op.step(STEPS[2]);
      // Also when the drill is cancelled: scratch servers must not outlive it.
      await CancellationScope.nonCancellable(() => NodeHosts.allOn(scratch.host, spec.hostAgentWaitSeconds).cluster(redisCallsWithinAMinute).destroyScratchCluster(scratch));
    }
    const report: VerifyBackupReport = {
      cluster: spec.name,
      backupId,
      scratchNodes: scratchAddresses(scratch),
      scratchDir: scratch.dir,
      keys: restored.keys,
      bytesRead: restored.bytesRead,
      restoreMs: restored.durationMs,
      durationMs: Date.now() - started,
    };
    op.finish('succeeded', `backup \`${backupId}\` restores: ${manifest.keys} keys in ${manifest.shards.length} shards, every count as in the manifest.`);
    return report;
  });
}
