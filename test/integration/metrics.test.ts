/**
 * Metrics and alert rules (issue #14 items 1 and 5), with real parts: the run's worker serves
 * Prometheus metrics (REDISFORGE_METRICS_ADDRESS), Debian's prometheus scrapes it every second
 * with monitoring/redisforge-alerts.yml loaded, and after real operations on a real cluster the
 * test reads RedisForge's metrics back through Prometheus's HTTP API, beside the SDK's own.
 * promtool checks the rules and runs their unit tests.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { runCli } from '../../src/client/cli/program';
import { processIo } from '../../src/client/cli/session';
import { FINDING_CODES } from '../../src/cluster';
import { DIAGNOSIS_CODES } from '../../src/cluster/diagnosis';
import { METRICS } from '../../src/workflows/metrics';
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { runWorkflow, runWorkflowFailure, TestCluster, withRedis } from '../harness/cluster';
import { testDataConverter } from '../harness/codec';
import { loadDataset } from '../harness/dataset';
import { PROMETHEUS_PORT, ROOT, STATE_DIR, TEMPORAL_ADDRESS, WORKER_METRICS_ADDRESS } from '../harness/env';
import { startPrometheus, type Prometheus } from '../harness/prometheus';
import { dashboardMetrics } from '../helpers/dashboard';
import { eventually } from '../helpers/waitFor';

const RULES = join(ROOT, 'monitoring', 'redisforge-alerts.yml');
const RULE_TESTS = join(ROOT, 'monitoring', 'redisforge-alerts.test.yml');
const name = 'metrics';
let cluster: TestCluster;
let prometheus: Prometheus | undefined;
let dir: string;

const hasPrometheus = ['/usr/bin/prometheus', '/usr/bin/promtool'].every((bin) => existsSync(bin));
const describeWithPrometheus = hasPrometheus ? describe : describe.skip;
if (!hasPrometheus && process.env.CI === 'true') {
  test('prometheus and promtool are installed', () => {
    throw new Error('CI=true and no /usr/bin/prometheus or /usr/bin/promtool: scripts/setup.sh installs Debian\'s prometheus');
  });
}

describeWithPrometheus('metrics through a real Prometheus', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(STATE_DIR, 'prometheus-'));
    [cluster, prometheus] = await Promise.all([
      TestCluster.start(name),
      startPrometheus({ port: PROMETHEUS_PORT, dir, target: WORKER_METRICS_ADDRESS, ruleFiles: [RULES] }),
    ]);
    await loadDataset(cluster.nodes[0]!, 2_000, 1, 100);
  });
  afterAll(async () => {
    await prometheus?.stop();
    await cluster?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The series of `expr` once Prometheus has them as `ok` wants; fails with what it last had. */
  const scraped = (what: string, expr: string, ok: (series: { metric: Record<string, string>; value: number }[]) => boolean) =>
    eventually(`Prometheus to have ${what} (${expr})`, () => prometheus!.query(expr), ok, { timeoutMs: 30_000, everyMs: 500 });

  test('after clusterHealth, backupCluster, failoverTest, a failed operation and a rebalance, Prometheus has their metrics, labelled by cluster and outcome, beside the SDK\'s', async () => {
    const started = Date.now() / 1000;
    await runWorkflow('clusterHealth', { cluster: name });
    const backup = await runWorkflow<BackupReport>('backupCluster', { cluster: name });
    const drill = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: name, mode: 'stop' });
    await cluster.healthUntil((r) => r.findings.length === 0);
    // A memory limit on every node (after the drill restarted one), so the diagnosis exports the fullest node's share of it.
    await Promise.all(cluster.nodes.map((a) => withRedis(a, (r) => r.call('CONFIG', 'SET', 'maxmemory', String(256 * 1024 ** 2)))));
    const now = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: name });
    await runWorkflowFailure('restoreCluster', { cluster: name, backupId: 'not-a-backup', dryRun: true });
    // A small reshard: the first master takes a larger share.
    const moved = await runWorkflow<RebalanceReport>('rebalance', { cluster: name, weights: { [now.shards[0]!.master.address]: 1.2 }, thresholdPercent: 1 });
    expect(moved.keysMoved).toBeGreaterThan(0);

    const finished = await scraped('the operations finished on the cluster', `sum by (workflowType, outcome) (${METRICS.operationsFinished}_total{cluster="${name}"})`, (s) =>
      ['clusterHealth/succeeded', 'backupCluster/succeeded', 'failoverTest/succeeded', 'restoreCluster/failed'].every((k) => s.some((x) => `${x.metric.workflowType}/${x.metric.outcome}` === k)));
    const byType = Object.fromEntries(finished.map((s) => [`${s.metric.workflowType}/${s.metric.outcome}`, s.value]));
    expect(byType).toMatchObject({ 'clusterHealth/succeeded': expect.any(Number), 'backupCluster/succeeded': 1, 'failoverTest/succeeded': 1, 'restoreCluster/failed': 1 });
    const startedCount = await scraped('the operations started', `sum(${METRICS.operationsStarted}_total{cluster="${name}"})`, (s) => s.length === 1);
    expect(startedCount[0]!.value).toBeGreaterThanOrEqual(4);

    expect((await scraped('the cluster healthy', `${METRICS.clusterHealthy}{cluster="${name}"}`, (s) => s.length === 1))[0]!.value).toBe(1);
    expect((await scraped('the slots served', `${METRICS.slotsCovered}{cluster="${name}"}`, (s) => s.length === 1))[0]!.value).toBe(16384);
    // Every finding code is a series, 0 when absent: a fixed problem's series goes back to 0.
    const findings = await scraped('the findings by code', `${METRICS.findings}{cluster="${name}"}`, (s) => s.length >= FINDING_CODES.length + DIAGNOSIS_CODES.length);
    expect(findings.filter((s) => FINDING_CODES.includes(s.metric.code as never) && s.value !== 0)).toEqual([]);
    expect(findings.filter((s) => ['MEMORY_NEAR_LIMIT', 'MEMORY_NO_LIMIT', 'REPLICA_LAGGING', 'KEYS_EVICTED'].includes(s.metric.code!) && s.value !== 0)).toEqual([]);
    // The diagnosis: the fullest node's share of its 256 MiB limit, replicas in step, nothing evicted.
    const memory = await scraped('the memory used ratio', `${METRICS.memoryUsedRatio}{cluster="${name}"}`, (s) => s.length === 1);
    expect(memory[0]!.value).toBeGreaterThan(0);
    expect(memory[0]!.value).toBeLessThan(0.1);
    expect((await prometheus!.query(`${METRICS.evictedKeys}{cluster="${name}"}`))[0]!.value).toBe(0);
    expect(await prometheus!.query(`${METRICS.replicationLag}{cluster="${name}"}`)).toHaveLength(1);

    const backupAt = await scraped('the last good backup', `${METRICS.backupLastSuccess}{cluster="${name}"}`, (s) => s.length === 1);
    expect(backupAt[0]!.value).toBeGreaterThanOrEqual(started - 1);
    expect((await prometheus!.query(`${METRICS.backupKeys}{cluster="${name}"}`))[0]!.value).toBe(backup.keys);
    expect((await prometheus!.query(`${METRICS.backupBytes}{cluster="${name}"}`))[0]!.value).toBe(backup.bytes);

    const migrated = await scraped('the keys migrated', `${METRICS.keysMigrated}_total{cluster="${name}"}`, (x) => x.length === 1 && x[0]!.value === moved.keysMoved);
    expect(migrated[0]!.metric.workflowType).toBe('rebalance');
    expect((await prometheus!.query(`${METRICS.slotsMigrated}_total{cluster="${name}"}`))[0]!.value).toBe(moved.slotsMoved);

    const promotion = await scraped('the failover promotion histogram', `${METRICS.failoverPromotion}_sum{cluster="${name}"}`, (s) => s.length === 1);
    expect(promotion[0]!.value).toBeCloseTo(drill.timings.promotionMs! / 1000, 2);
    // The alert rule's bound is a bucket of its own.
    expect(await prometheus!.query(`${METRICS.failoverPromotion}_bucket{cluster="${name}",le="30"}`)).toHaveLength(1);

    // The SDK's own metrics come from the same endpoint.
    expect((await scraped('the SDK\'s workflow completions', 'sum(temporal_workflow_completed_total)', (s) => s.length === 1 && s[0]!.value > 0))[0]!.value).toBeGreaterThan(0);

    // The failed restore's activity is counted by the SDK, by activity type (the dashboard's legend).
    const activityFailures = await prometheus!.query('sum by (activity_type) (temporal_activity_execution_failed_total)');
    expect(activityFailures.map((s) => s.metric.activity_type)).toContain('readBackupManifest');

    // Bounded labels only: no key, node id or address among them.
    const series = await prometheus!.get<Record<string, string>[]>(`/api/v1/series?match[]=${encodeURIComponent('{__name__=~"redisforge_.*"}')}`);
    const labels = [...new Set(series.flatMap((s) => Object.keys(s)))].sort();
    expect(labels).toEqual(['__name__', 'cluster', 'code', 'instance', 'job', 'le', 'namespace', 'outcome', 'taskQueue', 'workflowType'].filter((l) => labels.includes(l)));
    expect(labels).toEqual(expect.arrayContaining(['cluster', 'outcome', 'code', 'workflowType']));
  });

  test('every metric the Grafana dashboard queries is one the worker exported', async () => {
    const exported = new Set(await prometheus!.get<string[]>('/api/v1/label/__name__/values'));
    const queried = dashboardMetrics();
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((m) => ![m, `${m}_bucket`, `${m}_count`, `${m}_sum`].some((n) => exported.has(n)))).toEqual([]);
  });

  test('Prometheus loaded the alert rules, and none about the healthy cluster fires', async () => {
    const rules = await prometheus!.get<{ groups: { name: string; rules: { name: string; health: string }[] }[] }>('/api/v1/rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(['RedisClusterDown', 'RedisClusterFailoverSlow', 'RedisClusterMemoryHigh', 'RedisClusterNoRecentBackup', 'RedisClusterNodeUnreachable', 'RedisClusterReplicaLagging', 'RedisClusterSlotsNotCovered', 'RedisForgeOperationFailed']);
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
    // Nothing about this healthy cluster fires (the run's other suites plant problems on theirs);
    // only the failed restore of the first test may.
    const { alerts } = await prometheus!.get<{ alerts: { labels: Record<string, string> }[] }>('/api/v1/alerts');
    expect(alerts.filter((a) => a.labels.cluster === name && a.labels.alertname !== 'RedisForgeOperationFailed').map((a) => a.labels.alertname)).toEqual([]);
  });

  test('redisforge schedule health runs clusterHealth every 2 s: a stopped node shows in Prometheus with no check started by hand, and goes back to 0 once it runs again', async () => {
    const lines: string[] = [];
    const connect = async () => new Client({ connection: await Connection.connect({ address: TEMPORAL_ADDRESS }), dataConverter: testDataConverter() });
    const io = { ...processIo(), connect, stdout: (text: string) => void lines.push(text.replace(/\n$/, '')) };
    const cli = (...argv: string[]) => runCli(['schedule', ...argv], io);
    expect(await cli('health', '--cluster', name, '--every', 'often')).toBe(2);
    expect(await cli('health', '--cluster', name, '--every', '2s')).toBe(0);
    expect(lines[0]).toBe(`created schedule health-${name}: clusterHealth of ${name} every 2s`);
    const unreachable = `max(${METRICS.nodesUnreachable}{cluster="${name}"})`;
    try {
      const replica = (await cluster.health()).shards[0]!.replicas[0]!.address;
      await cluster.runtime.stop(replica);
      try {
        await scraped('the stopped node counted by a scheduled check', unreachable, (s) => s[0]?.value === 1);
        const findings = await prometheus!.query(`${METRICS.findings}{cluster="${name}",code="NODE_UNREACHABLE"}`);
        expect(findings.map((s) => s.value)).toEqual([1]);
      } finally {
        await cluster.runtime.start(replica);
      }
      await scraped('the node counted back by a scheduled check', unreachable, (s) => s[0]?.value === 0);
      expect(await cli('list', '--json')).toBe(0);
      expect(JSON.parse(lines.at(-1)!)).toEqual(expect.arrayContaining([expect.objectContaining({ scheduleId: `health-${name}`, every: '2s', paused: false })]));
      expect(await cli('pause', '--cluster', name, '--health')).toBe(0);
      expect(lines.at(-1)).toBe(`paused health-${name}`);
    } finally {
      expect(await cli('delete', '--cluster', name, '--health')).toBe(0);
    }
  });

  test('promtool checks the rules and passes their unit tests', async () => {
    const run = (args: string[]) => promisify(execFile)('promtool', args, { cwd: join(ROOT, 'monitoring') });
    expect((await run(['check', 'rules', RULES])).stdout).toContain('SUCCESS: 8 rules found');
    expect((await run(['test', 'rules', RULE_TESTS])).stdout).toContain('SUCCESS');
  });
});
