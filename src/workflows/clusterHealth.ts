/**
 * Runbook: Check Cluster Health. CLUSTER INFO and CLUSTER NODES from every node, then one
 * verdict: state ok, all 16384 slots assigned and served, the expected known nodes, a replica
 * per master, no fail/pfail flags, no open slots, one slot map agreed by all. Then the diagnosis
 * (memory, evictions, replication lag, clients, latency, slow commands, load per shard and, when
 * asked, the largest keys from replicas): findings of their own that do not change the verdict.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, patched, startChild } from '@temporalio/workflow';
import { analyzeHealth, expandObservations, FINDING_CODES, type FindingCode, type HealthReport } from '../cluster';
import { DIAGNOSIS_CODES, diagnoseCluster, type Diagnosis } from '../cluster/diagnosis';
import { diagnosisObserved, healthObserved } from './metrics';
import { keyScansWithinFifteenMinutes, redisCallsWithinAMinute } from './activityOptions';
import { surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { BIG_KEY_SCAN_DEFAULTS, clusterHealthInput } from './inputs';

export interface ClusterHealthResult extends HealthReport {
  cluster: string;
  checkedAt: string;
  /** Absent when the input said diagnose: false (and in runs from before the diagnosis). */
  diagnosis?: Diagnosis;
  /** With heal: what the check did about a cluster that is down. */
  healing?: { triggers: string[]; repairWorkflowId?: string; skipped?: string };
}

/** What makes a cluster "down" for self-healing: repairCluster's business, not an operator's choice. */
export const HEAL_TRIGGERS: readonly FindingCode[] = ['CLUSTER_STATE_FAIL', 'SLOTS_UNCOVERED', 'SLOTS_NOT_OK', 'NODE_FAILED'];

/** The one self-healing repair of a cluster: a second down check finds it running and starts none. */
export const healWorkflowId = (cluster: string) => `repairCluster-heal-${cluster}`;

const STEPS = ['Find the cluster in the inventory', 'Query every node', 'Check the answers', 'Diagnose the nodes', 'Scan replicas for big keys'] as const;

export async function clusterHealth(rawInput: unknown): Promise<ClusterHealthResult> {
  const op = new Operation('clusterHealth', STEPS);
  return op.run(async () => {
    const input = parseInput(clusterHealthInput, rawInput);
    op.recordCluster(input.cluster);

    op.step(STEPS[0]);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);

    op.step(STEPS[1], `nodes: ${spec.nodes.join(', ')}`);
    const observations = expandObservations(await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes));

    op.step(STEPS[2]);
    const report = analyzeHealth(observations, {
      masters: input.expectedMasters ?? spec.masters,
      replicasPerMaster: input.expectedReplicasPerMaster ?? spec.replicasPerMaster,
      // Pure analysis of a field the spec already carries: no command changes, so no patched() needed.
      tlsInsecure: spec.tlsInsecure,
    });
    // Histories from before the diagnosis run no diagnosis activity: they replay without it.
    let diagnosis: Diagnosis | undefined;
    if (input.diagnose && patched('health-diagnosis')) {
      op.step(STEPS[3]);
      const answered = observations.filter((o) => !o.error).map((o) => o.address);
      const nodes = await redisCallsWithinAMinute.collectNodeDiagnostics(spec.name, answered);
      let scans;
      if (input.bigKeys) {
        const limits = input.bigKeys === true ? BIG_KEY_SCAN_DEFAULTS : input.bigKeys;
        op.step(STEPS[4], `${limits.seconds} s and ${limits.keysPerSecond} keys/s per shard, on replicas`);
        const inSync = new Set(nodes.filter((n) => n.role === 'replica' && n.replication?.linkUp && !n.replication.syncInProgress).map((n) => n.address));
        scans = await keyScansWithinFifteenMinutes.scanBigKeys(
          spec.name,
          report.shards.map((s) => ({ slots: s.slots, master: s.master.address, replicas: s.replicas.map((r) => ({ address: r.address, inSync: inSync.has(r.address) })) })),
          limits,
        );
      }
      diagnosis = diagnoseCluster(nodes, report.shards, scans, input.thresholds);
      diagnosisObserved(spec.name, diagnosis, DIAGNOSIS_CODES);
    }
    healthObserved(spec.name, report, FINDING_CODES);
    const healing = input.heal ? await heal(spec.name, report) : undefined;
    const problems = report.findings.filter((f) => f.severity !== 'info');
    const concerns = (diagnosis?.findings ?? []).filter((f) => f.severity !== 'info');
    op.finish(
      'succeeded',
      (report.healthy
        ? `Healthy: ${report.summary.masters} masters, ${report.summary.replicas} replicas, ${report.summary.slotsCovered} slots served.`
        : `**Unhealthy**: ${problems.length} finding(s)\n\n${problems.map((f) => `- ${f.code}${f.node ? ` on ${f.node}` : ''}: ${f.message}`).join('\n')}`) +
        (concerns.length ? `\n\nDiagnosis: ${concerns.length} finding(s)\n\n${concerns.map((f) => `- ${f.code}${f.node ? ` on ${f.node}` : ''}: ${f.message}`).join('\n')}` : '') +
        (healing?.repairWorkflowId ? `\n\nSelf-healing: started repairCluster ${healing.repairWorkflowId}` : healing?.skipped ? `\n\nSelf-healing: ${healing.skipped}` : ''),
    );
    return { cluster: spec.name, checkedAt: new Date().toISOString(), ...report, ...(diagnosis ? { diagnosis } : {}), ...(healing ? { healing } : {}) };
  });
}

/**
 * Starts the self-healing repair when the cluster is down and nothing holds it. The repair runs on
 * its own (abandoned by this check, which ends); an operation holding the cluster (a drill, a
 * reshard, a repair waiting for its approval) is left alone.
 */
async function heal(cluster: string, report: HealthReport): Promise<NonNullable<ClusterHealthResult['healing']>> {
  const triggers = [...new Set(report.findings.filter((f) => HEAL_TRIGGERS.includes(f.code)).map((f) => f.code))];
  if (triggers.length === 0) return { triggers, ...(report.healthy ? {} : { skipped: 'the cluster is not down: nothing for repairCluster' }) };
  const holder = await redisCallsWithinAMinute.clusterLockHolder(cluster);
  if (holder) return { triggers, skipped: `${holder.operation} (${holder.workflowId}) holds the cluster; not starting a repair` };
  const workflowId = healWorkflowId(cluster);
  try {
    await startChild('repairCluster', {
      args: [{ cluster, restartFailedNodes: true, assignUncovered: true, approve: false }],
      workflowId,
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { triggers, skipped: `repairCluster ${workflowId} is already running` };
    throw err;
  }
  return { triggers, repairWorkflowId: workflowId };
}
