import { metricsAddressFromEnv, MetricsConfigError, metricsTelemetry } from '../../src/worker/metrics';
import { METRICS } from '../../src/workflows/metrics';
import { dashboardMetrics } from '../helpers/dashboard';

test('REDISFORGE_METRICS_ADDRESS: host:port, or unset for none; anything else names the variable and the fix', () => {
  expect(metricsAddressFromEnv({})).toBeUndefined();
  expect(metricsAddressFromEnv({ REDISFORGE_METRICS_ADDRESS: ' 127.0.0.1:9464 ' })).toBe('127.0.0.1:9464');
  expect(metricsAddressFromEnv({ REDISFORGE_METRICS_ADDRESS: '[::1]:9464' })).toBe('[::1]:9464');
  for (const bad of ['9464', 'http://127.0.0.1:9464', '127.0.0.1:99999']) {
    expect(() => metricsAddressFromEnv({ REDISFORGE_METRICS_ADDRESS: bad })).toThrow(MetricsConfigError);
  }
  expect(() => metricsAddressFromEnv({ REDISFORGE_METRICS_ADDRESS: '9464' })).toThrow('REDISFORGE_METRICS_ADDRESS: expected "host:port" to serve Prometheus metrics on, e.g. "127.0.0.1:9464", not "9464"');
  expect(metricsTelemetry(undefined)).toBeUndefined();
  expect(metricsTelemetry('127.0.0.1:9464')?.metrics).toMatchObject({ prometheus: { bindAddress: '127.0.0.1:9464', countersTotalSuffix: true } });
});

test("the dashboard queries RedisForge's metrics by their exported names (counters with _total), and no other redisforge_ name", () => {
  const ours = new Set<string>(Object.values(METRICS));
  const queried = dashboardMetrics().filter((m) => m.startsWith('redisforge_'));
  expect(queried.filter((m) => !ours.has(m.replace(/_total$/, '')))).toEqual([]);
  // Counters are exported with _total: the dashboard must say so.
  for (const counter of [METRICS.operationsStarted, METRICS.operationsFinished]) expect(queried).toContain(`${counter}_total`);
});
