/**
 * Runbook: Check Cluster Health. CLUSTER INFO and CLUSTER NODES from every node, then one
 * verdict: state ok, all 16384 slots assigned and served, the expected known nodes, a replica
 * per master, no fail/pfail flags, no open slots, one slot map agreed by all.
 */
import { analyzeHealth, FINDING_CODES, type HealthReport } from '../cluster';
import { healthObserved } from './metrics';
import { redisCallsWithinAMinute } from './activityOptions';
import { surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { clusterHealthInput } from './inputs';

export interface ClusterHealthResult extends HealthReport {
  cluster: string;
  checkedAt: string;
}

const STEPS = ['Find the cluster in the inventory', 'Query every node', 'Check the answers'] as const;

export async function clusterHealth(rawInput: unknown): Promise<ClusterHealthResult> {
  const op = new Operation('clusterHealth', STEPS);
  return op.run(async () => {
    const input = parseInput(clusterHealthInput, rawInput);
    op.recordCluster(input.cluster);

    op.step(STEPS[0]);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);

    op.step(STEPS[1], `nodes: ${spec.nodes.join(', ')}`);
    const observations = await redisCallsWithinAMinute.collectClusterState(spec.name, spec.nodes);

    op.step(STEPS[2]);
    const report = analyzeHealth(observations, {
      masters: input.expectedMasters ?? spec.masters,
      replicasPerMaster: input.expectedReplicasPerMaster ?? spec.replicasPerMaster,
      // Pure analysis of a field the spec already carries: no command changes, so no patched() needed.
      tlsInsecure: spec.tlsInsecure,
    });
    healthObserved(spec.name, report, FINDING_CODES);
    const problems = report.findings.filter((f) => f.severity !== 'info');
    op.finish(
      'succeeded',
      report.healthy
        ? `Healthy: ${report.summary.masters} masters, ${report.summary.replicas} replicas, ${report.summary.slotsCovered} slots served.`
        : `**Unhealthy**: ${problems.length} finding(s)\n\n${problems.map((f) => `- ${f.code}${f.node ? ` on ${f.node}` : ''}: ${f.message}`).join('\n')}`,
    );
    return { cluster: spec.name, checkedAt: new Date().toISOString(), ...report };
  });
}
