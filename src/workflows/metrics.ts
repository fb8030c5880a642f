/**
 * RedisForge's own metrics, recorded from workflow code through Temporal's workflow metric meter:
 * the worker exports them with the SDK's own on its Prometheus endpoint (REDISFORGE_METRICS_ADDRESS),
 * and the SDK skips them on replay, so a replayed history counts nothing twice. The worker adds
 * namespace, taskQueue and workflowType to every one; ours add only bounded labels: the cluster
 * (an inventory name), the outcome, a finding code. No key names, no node ids.
 */
import { metricMeter } from '@temporalio/workflow';
import type { Finding } from '../cluster';

/** Every metric name RedisForge exports, with its type: the dashboard and the alert rules use these. */
export const METRICS = {
  operationsStarted: 'redisforge_operations_started',
  operationsFinished: 'redisforge_operations_finished',
  operationDuration: 'redisforge_operation_duration_seconds',
  clusterHealthy: 'redisforge_cluster_healthy',
  slotsCovered: 'redisforge_cluster_slots_covered',
  nodesUnreachable: 'redisforge_cluster_nodes_unreachable',
  findings: 'redisforge_cluster_findings',
  backupLastSuccess: 'redisforge_backup_last_success_timestamp_seconds',
  backupBytes: 'redisforge_backup_bytes',
  backupKeys: 'redisforge_backup_keys',
  backupDuration: 'redisforge_backup_duration_seconds',
  failoverPromotion: 'redisforge_failover_promotion_seconds',
  failoverWriteUnavailable: 'redisforge_failover_write_unavailable_seconds',
  memoryUsedRatio: 'redisforge_cluster_memory_used_ratio',
  replicationLag: 'redisforge_cluster_replication_lag_bytes',
  evictedKeys: 'redisforge_cluster_evicted_keys',
  keysMigrated: 'redisforge_keys_migrated',
  slotsMigrated: 'redisforge_slots_migrated',
} as const;

export type Outcome = 'succeeded' | 'failed' | 'cancelled';

/** Histogram buckets are the runtime's (seconds); values here are seconds as floats. */
const seconds = (ms: number) => ms / 1000;

export function operationStarted(cluster: string): void {
  metricMeter.createCounter(METRICS.operationsStarted, undefined, 'Operations started, by workflow type and cluster').add(1, { cluster });
}

export function operationFinished(cluster: string, outcome: Outcome, durationMs: number): void {
  metricMeter.createCounter(METRICS.operationsFinished, undefined, 'Operations finished, by workflow type, cluster and outcome').add(1, { cluster, outcome });
  metricMeter.createHistogram(METRICS.operationDuration, 'float', undefined, 'Operation duration from its start, by workflow type and outcome').record(seconds(durationMs), { cluster, outcome });
}

/**
 * What a health check found, as gauges: healthy (1 or 0), slots served, nodes unreachable, and
 * findings by code. Every code the check knows is set (0 when absent), so a fixed problem's series
 * goes to 0 instead of keeping its last value.
 */
export function healthObserved(cluster: string, report: { healthy: boolean; summary: { slotsCovered: number; nodesObserved: number; nodesReachable: number }; findings: Pick<Finding, 'code'>[] }, codes: readonly string[]): void {
  metricMeter.createGauge(METRICS.clusterHealthy, 'int', undefined, '1 when the last health check found the cluster healthy').set(report.healthy ? 1 : 0, { cluster });
  metricMeter.createGauge(METRICS.slotsCovered, 'int', undefined, 'Slots served (of 16384) at the last health check').set(report.summary.slotsCovered, { cluster });
  metricMeter.createGauge(METRICS.nodesUnreachable, 'int', undefined, 'Nodes that did not answer the last health check').set(report.summary.nodesObserved - report.summary.nodesReachable, { cluster });
  const gauge = metricMeter.createGauge(METRICS.findings, 'int', undefined, 'Findings of the last health check, by code');
  for (const code of codes) gauge.set(report.findings.filter((f) => f.code === code).length, { cluster, code });
}

/**
 * What a diagnosis found: the fullest node's used/maxmemory (only when a node has a limit), the
 * most bytes a replica is behind, evicted keys summed over nodes, and diagnosis findings by code
 * on the same findings gauge as the health check's.
 */
export function diagnosisObserved(cluster: string, d: { memoryUsedRatioMax?: number; replicationLagBytesMax: number; evictedKeys: number; findings: { code: string }[] }, codes: readonly string[]): void {
  if (d.memoryUsedRatioMax !== undefined) metricMeter.createGauge(METRICS.memoryUsedRatio, 'float', undefined, 'The highest used_memory / maxmemory over the nodes with a limit, at the last health check').set(d.memoryUsedRatioMax, { cluster });
  metricMeter.createGauge(METRICS.replicationLag, 'int', undefined, 'The most bytes a replica was behind its master at the last health check').set(d.replicationLagBytesMax, { cluster });
  metricMeter.createGauge(METRICS.evictedKeys, 'int', undefined, 'Keys evicted since the nodes started, summed over nodes, at the last health check').set(d.evictedKeys, { cluster });
  const gauge = metricMeter.createGauge(METRICS.findings, 'int', undefined, 'Findings of the last health check, by code');
  for (const code of codes) gauge.set(d.findings.filter((f) => f.code === code).length, { cluster, code });
}

/** Slots and keys a reshard moved (rebalance, a drain before removeNode), counted as they move. */
export function keysMigrated(cluster: string, slots: number, keys: number): void {
  if (slots > 0) metricMeter.createCounter(METRICS.slotsMigrated, undefined, 'Slots moved between masters').add(slots, { cluster });
  if (keys > 0) metricMeter.createCounter(METRICS.keysMigrated, undefined, 'Keys moved between masters').add(keys, { cluster });
}

export function backupSucceeded(cluster: string, report: { bytes: number; keys: number }, durationMs: number, finishedAtMs: number): void {
  metricMeter.createGauge(METRICS.backupLastSuccess, 'float', undefined, 'When the last complete backup finished (Unix seconds)').set(seconds(finishedAtMs), { cluster });
  metricMeter.createGauge(METRICS.backupBytes, 'int', undefined, 'Size of the last complete backup in bytes').set(report.bytes, { cluster });
  metricMeter.createGauge(METRICS.backupKeys, 'int', undefined, 'Keys in the last complete backup').set(report.keys, { cluster });
  metricMeter.createHistogram(METRICS.backupDuration, 'float', undefined, 'Backup duration').record(seconds(durationMs), { cluster });
}

export function failoverMeasured(cluster: string, promotionMs: number | undefined, writeUnavailableMs: number | undefined): void {
  if (promotionMs !== undefined) metricMeter.createHistogram(METRICS.failoverPromotion, 'float', undefined, 'From the master stopped (or CLUSTER FAILOVER sent) to a replica promoted').record(seconds(promotionMs), { cluster });
  if (writeUnavailableMs !== undefined) metricMeter.createHistogram(METRICS.failoverWriteUnavailable, 'float', undefined, 'How long the shard could not be written during a failover drill').record(seconds(writeUnavailableMs), { cluster });
}
