/** Plain-text renderings of workflow results for terminals (the demo and the CLI). */
import { findingKey, type HealthReport } from '../cluster';
import type { FailoverTestReport } from '../workflows/failoverTest';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

export function formatHealthReport(cluster: string, report: HealthReport): string {
  const s = report.summary;
  const lines = [
    `Cluster ${cluster}: ${report.healthy ? 'HEALTHY' : 'UNHEALTHY'}`,
    `  ${s.nodesReachable}/${s.nodesObserved} nodes reachable, ${s.masters} masters, ${s.replicas} replicas, ` +
      `${s.slotsCovered}/16384 slots served, cluster_state:ok on ${s.clusterStateOk}, Redis ${s.versions.join(', ') || 'unknown'}`,
    '',
    ...table([
      ['SLOTS', 'MASTER', 'NODE ID', 'EPOCH', 'REPLICAS'],
      ...report.shards.map((sh) => [sh.slots, sh.master.address, sh.master.id.slice(0, 8), String(sh.master.configEpoch), sh.replicas.map((r) => r.address).join(', ') || '-']),
    ]).map((l) => `  ${l}`),
    '',
  ];
  if (report.findings.length === 0) {
    lines.push('  No findings.');
  } else {
    lines.push(`  ${report.findings.length} finding(s):`);
    for (const f of report.findings) {
      lines.push(`  ${f.severity.toUpperCase().padEnd(8)} ${findingKey(f)}${f.slots ? ` slots ${f.slots}` : ''}: ${f.message}`);
      lines.push(`           -> ${f.advice}`);
    }
  }
  return lines.join('\n');
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function summaryTable(rows: { procedure: string; result: string; durationMs: number; link?: string }[]): string {
  return table([
    ['PROCEDURE', 'RESULT', 'DURATION', 'WEB UI'],
    ...rows.map((r) => [r.procedure, r.result, formatDuration(r.durationMs), r.link ?? '']),
  ]).join('\n');
}

export function formatFailoverReport(report: FailoverTestReport): string {
  const t = report.timings;
  const s = (ms?: number) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
  return [
    `Failover test on ${report.cluster} (mode ${report.mode}): ${report.master.address} -> ${report.promoted?.address ?? '?'}`,
    `  flagged fail ${s(t.failFlagMs)}, replica promoted ${s(t.promotionMs)}, cluster_state:ok ${s(t.clusterOkMs)}, ` +
      `old master back as replica ${s(t.rejoinMs)}, link up ${s(t.linkUpMs)}${report.failedBack ? `, failback ${s(t.failbackMs)}` : ''}`,
    `  canaries: ${report.canaries.written} written and acknowledged by a replica, ${report.canaries.lost} lost`,
    `  roles ${report.failedBack ? 'restored' : 'left swapped'}; cluster ${report.healthyAfter ? 'healthy' : 'NOT healthy'} afterwards`,
  ].join('\n');
}
