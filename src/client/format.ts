/** Plain-text renderings of workflow results for terminals (the demo and the CLI). */
import { findingKey, formatSlotRanges, normalizeRanges, parseSlotRange, type Finding, type HealthReport } from '../cluster';
import { mib, size, type Diagnosis } from '../cluster/diagnosis';
import type { FailoverTestReport } from '../workflows/failoverTest';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

export function formatHealthReport(cluster: string, report: HealthReport & { diagnosis?: Diagnosis }): string {
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
    const groups = groupFindings(report.findings);
    lines.push(`  ${report.findings.length} finding(s)${groups.length < report.findings.length ? `, ${groups.length} after grouping those that differ only in their slots` : ''}:`);
    for (const { finding: f, count, slots } of groups) {
      const more = count > 1 ? ` (${count} findings; the first: ${f.message})` : `: ${f.message}`;
      lines.push(`  ${f.severity.toUpperCase().padEnd(8)} ${findingKey(f)}${slots ? ` slots ${slots}` : ''}${more}`);
      lines.push(`           -> ${f.advice}`);
    }
  }
  if (report.diagnosis) lines.push('', ...formatDiagnosis(report.diagnosis));
  return lines.join('\n');
}

const thousands = (n: number) => n.toLocaleString('en-US');

/** The diagnosis part of a health report: per node, per shard, the largest keys, then its findings. */
export function formatDiagnosis(d: Diagnosis): string[] {
  const nodeRows = d.nodes.map((n) => {
    if (n.error || !n.memory) return [n.address, '-', `not diagnosed: ${n.error ?? '?'}`];
    const m = n.memory;
    const repl = n.role === 'replica'
      ? `link ${n.replication?.linkUp ? 'up' : 'DOWN'}, last io ${n.replication?.lastIoSecondsAgo ?? '?'} s`
      : `${n.replication?.replicas.length ?? 0} replica(s)`;
    const slow = n.slowlog?.[0];
    return [
      n.address, n.role ?? '?',
      m.maxmemory > 0 ? `${mib(m.used)} of ${mib(m.maxmemory)} (${Math.round((m.used / m.maxmemory) * 100)}%)` : `${mib(m.used)} (no limit)`,
      m.fragmentationRatio.toFixed(2), thousands(n.keys ?? 0), thousands(n.stats?.evictedKeys ?? 0),
      `${n.clients?.connected ?? 0} (${n.clients?.blocked ?? 0} blocked)`, repl,
      slow ? `${(slow.micros / 1000).toFixed(1)} ms ${slow.command}` : '-',
    ];
  });
  const lines = [
    '  Diagnosis, per node:',
    ...table([['NODE', 'ROLE', 'MEMORY', 'FRAG', 'KEYS', 'EVICTED', 'CLIENTS', 'REPLICATION', 'SLOWEST COMMAND'], ...nodeRows]).map((l) => `  ${l}`),
    '',
    '  Per shard:',
    ...table([
      ['SLOTS', 'MASTER', 'KEYS', 'x MEAN', 'DATA', 'x MEAN', 'REPLICAS (bytes behind)'],
      ...d.shards.map((sh) => [
        sh.slots, sh.master, thousands(sh.keys), String(sh.keysVsMean), mib(sh.datasetBytes), String(sh.bytesVsMean),
        sh.replicas.map((r) => `${r.address} ${r.lagBytes === undefined ? '?' : thousands(r.lagBytes)}`).join(', ') || '-',
      ]),
    ]).map((l) => `  ${l}`),
  ];
  if (d.bigKeys) {
    lines.push('', '  Largest keys (MEMORY USAGE, scanned on replicas):');
    const rows = d.bigKeys.flatMap((scan) => {
      const where = scan.skipped ? `not scanned: ${scan.skipped}` : `${thousands(scan.scanned)} of ${thousands(scan.keysInShard)} keys on ${scan.replica}${scan.complete ? '' : ' (time budget reached)'}`;
      return [[scan.slots, where, '', ''], ...scan.largest.slice(0, 5).map((k) => ['', `  ${k.key}`, k.type, size(k.bytes)])];
    });
    lines.push(...table([['SLOTS', 'KEY', 'TYPE', 'SIZE'], ...rows]).map((l) => `  ${l}`));
  }
  lines.push('');
  if (d.findings.length === 0) {
    lines.push('  No diagnosis findings.');
  } else {
    lines.push(`  ${d.findings.length} diagnosis finding(s):`);
    for (const f of d.findings) {
      lines.push(`  ${f.severity.toUpperCase().padEnd(8)} ${f.code}${f.node ? ` ${f.node}` : ''}${f.slots ? ` slots ${f.slots}` : ''}: ${f.message}`);
      lines.push(`           -> ${f.advice}`);
    }
  }
  return lines;
}

/**
 * Findings that differ only in their slots (one per open slot, say) as one line each: the
 * first finding, how many there are, and their slots merged into ranges. Order of first
 * appearance is kept.
 */
export function groupFindings(findings: readonly Finding[]): { finding: Finding; count: number; slots?: string }[] {
  const groups = new Map<string, { finding: Finding; count: number; ranges: ReturnType<typeof parseSlotRange>[] }>();
  findings.forEach((f, i) => {
    const ranges = slotRangesOf(f.slots);
    const key = ranges ? `${f.severity}|${findingKey(f)}|${f.advice}` : `#${i}`;
    const group = groups.get(key) ?? { finding: f, count: 0, ranges: [] };
    group.count++;
    group.ranges.push(...(ranges ?? []));
    groups.set(key, group);
  });
  return [...groups.values()].map(({ finding, count, ranges }) => ({ finding, count, slots: ranges.length > 0 ? formatSlotRanges(normalizeRanges(ranges)) : finding.slots }));
}

/** A finding's slots as ranges; undefined when it names none, or names them in a form of its own. */
function slotRangesOf(slots: string | undefined): ReturnType<typeof parseSlotRange>[] | undefined {
  if (!slots) return undefined;
  try {
    return slots.split(',').map((r) => parseSlotRange(r.trim()));
  } catch {
    return undefined;
  }
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
