/**
 * Where the worker serves Prometheus metrics: REDISFORGE_METRICS_ADDRESS ("host:port"; unset:
 * none). The endpoint, /metrics on it, carries the Temporal SDK's own metrics (prefixed
 * temporal_) and RedisForge's (redisforge_*, recorded by the workflows: src/workflows/metrics.ts).
 */
import type { RuntimeOptions } from '@temporalio/worker';

export const METRICS_ADDRESS_ENV = 'REDISFORGE_METRICS_ADDRESS';

export class MetricsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsConfigError';
  }
}

/** The address to serve metrics on, checked; undefined when the variable is unset or empty. */
export function metricsAddressFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[METRICS_ADDRESS_ENV]?.trim();
  if (!value) return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new MetricsConfigError(`${METRICS_ADDRESS_ENV}: expected "host:port" to serve Prometheus metrics on, e.g. "127.0.0.1:9464", not "${value}"; unset it for no metrics`);
  }
  return value;
}

/**
 * Buckets (seconds) of RedisForge's histograms, for the bounds operators alert on: a failover's
 * promotion within 30 s, a backup within the hour.
 */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  redisforge_operation_duration_seconds: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400],
  redisforge_backup_duration_seconds: [1, 5, 10, 30, 60, 300, 900, 3600, 14400],
  redisforge_failover_promotion_seconds: [0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120],
  redisforge_failover_write_unavailable_seconds: [0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120],
};

/** The runtime's telemetry for that address: Prometheus conventions (counters end in _total, durations in seconds). */
export function metricsTelemetry(address: string | undefined): RuntimeOptions['telemetryOptions'] {
  if (!address) return undefined;
  return { metrics: { prometheus: { bindAddress: address, countersTotalSuffix: true, useSecondsForDurations: true, histogramBucketOverrides: HISTOGRAM_BUCKETS } } };
}
