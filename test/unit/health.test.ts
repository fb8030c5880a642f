/** analyzeHealth on observations built from real captured replies. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeHealth, findingKey, parseClusterInfo, parseClusterNodes, type ClusterNode, type NodeObservation } from '../../src/cluster';
import { HEALTH_CHECKS, type HealthCheck } from '../../src/cluster/healthChecks';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'redis-7.0', name), 'utf8');
const expected = { masters: 3, replicasPerMaster: 1 };

/** Every node's view of the same cluster, as if each had answered with the captured reply. */
function observe(nodesReply: string, infoReply: string): NodeObservation[] {
  const base = parseClusterNodes(nodesReply).map((n) => ({ ...n, myself: false, flags: n.flags.filter((f) => f !== 'myself') }));
  const { raw: _raw, ...clusterInfo } = parseClusterInfo(infoReply);
  return base
    .filter((n) => !n.flags.includes('fail'))
    .map((me) => ({
      address: me.address,
      clusterInfo,
      view: base.map((n): ClusterNode => (n.id === me.id ? { ...n, myself: true, flags: ['myself', ...n.flags] } : n)),
      replication: { role: me.role, masterLinkUp: me.role === 'replica' ? true : null, masterSyncInProgress: false, connectedReplicas: 1, replicationOffset: 0 },
      redisVersion: '7.0.15',
    }));
}

test('a healthy cluster has no findings', () => {
  const report = analyzeHealth(observe(fixture('cluster-nodes-healthy.txt'), fixture('cluster-info-healthy.txt')), expected);
  expect(report.findings).toEqual([]);
  expect(report.healthy).toBe(true);
  expect(report.summary).toMatchObject({ masters: 3, replicas: 3, slotsCovered: 16384, clusterStateOk: 6 });
  expect(report.shards.map((s) => s.slots)).toEqual(['0-5460', '5461-10922', '10923-16383']);
});

test('a failed master with its replica: each finding names the node and what to do', () => {
  const observations: NodeObservation[] = [
    ...observe(fixture('cluster-nodes-failed.txt'), fixture('cluster-info-failed.txt')),
    { address: '127.0.0.1:30003', error: { kind: 'unreachable', message: 'connect ECONNREFUSED 127.0.0.1:30003' } },
    { address: '127.0.0.1:30004', error: { kind: 'unreachable', message: 'connect ECONNREFUSED 127.0.0.1:30004' } },
  ];
  const report = analyzeHealth(observations, expected);
  expect(report.healthy).toBe(false);
  const byCode = (code: string) => report.findings.filter((f) => f.code === code);
  expect(byCode('NODE_FAILED').map((f) => [f.node, f.slots])).toEqual([
    ['127.0.0.1:30003', '10923-16383'],
    ['127.0.0.1:30004', undefined],
  ]);
  expect(byCode('SLOTS_UNCOVERED')[0]).toMatchObject({ slots: '10923-16383', message: '5461 slots are not served: 0 assigned to no master, 5461 owned by failed masters' });
  expect(byCode('NODE_UNREACHABLE').map((f) => f.node)).toEqual(['127.0.0.1:30003', '127.0.0.1:30004']);
  expect(byCode('CLUSTER_STATE_FAIL')).toHaveLength(4);
  expect(byCode('SLOTS_NOT_OK')).toHaveLength(1);
  expect(byCode('MASTER_WITHOUT_REPLICA')[0]).toMatchObject({ node: '127.0.0.1:30003' });
  for (const f of report.findings) {
    expect(f.advice.length).toBeGreaterThan(20);
    expect(['critical', 'warning', 'info']).toContain(f.severity);
  }
});

test('unexpected size: known nodes and master count against the inventory', () => {
  const report = analyzeHealth(observe(fixture('cluster-nodes-healthy.txt'), fixture('cluster-info-healthy.txt')), { masters: 4, replicasPerMaster: 1 });
  expect(report.findings.filter((f) => f.code === 'KNOWN_NODES_MISMATCH')).toHaveLength(6);
  expect(report.findings.find((f) => f.code === 'MASTER_COUNT_MISMATCH')?.message).toBe('3 masters own slots, expected 4');
});

test('an auth failure and a node with cluster mode off are reported as such', () => {
  const report = analyzeHealth(
    [
      { address: '127.0.0.1:1', error: { kind: 'auth', message: 'WRONGPASS invalid username-password pair' } },
      { address: '127.0.0.1:2', error: { kind: 'cluster-disabled', message: 'ERR This instance has cluster support disabled' } },
    ],
    expected,
  );
  expect(report.findings.map((f) => [f.code, f.node])).toEqual([
    ['AUTH_FAILED', '127.0.0.1:1'],
    ['CLUSTER_MODE_DISABLED', '127.0.0.1:2'],
  ]);
  expect(report.findings[0]!.advice).toMatch(/passwordEnv/);
});

test('a replica whose link is down, mixed versions, and an epoch collision', () => {
  const observations = observe(fixture('cluster-nodes-healthy.txt'), fixture('cluster-info-healthy.txt'));
  const replica = observations.find((o) => o.view!.find((n) => n.myself)!.role === 'replica')!;
  replica.replication = { ...replica.replication!, masterLinkUp: false };
  replica.redisVersion = '8.0.2';
  for (const o of observations) for (const n of o.view!) if (n.role === 'master') n.configEpoch = 7;
  const report = analyzeHealth(observations, expected);
  expect(report.findings.find((f) => f.code === 'REPLICA_LINK_DOWN')?.node).toBe(replica.address);
  expect(report.findings.find((f) => f.code === 'MIXED_VERSIONS')).toMatchObject({ severity: 'info', message: 'nodes run different Redis versions: 7.0.15, 8.0.2' });
  expect(report.findings.find((f) => f.code === 'CONFIG_EPOCH_COLLISION')?.severity).toBe('warning');
});

test('TLS without certificate checks is a warning that says how to turn the checks back on', () => {
  const observations = observe(fixture('cluster-nodes-healthy.txt'), fixture('cluster-info-healthy.txt'));
  expect(analyzeHealth(observations, { ...expected, tlsInsecure: false }).findings).toEqual([]);
  const report = analyzeHealth(observations, { ...expected, tlsInsecure: true });
  expect(report.findings).toEqual([expect.objectContaining({ code: 'TLS_UNVERIFIED', severity: 'warning' })]);
  expect(report.findings[0]!.advice).toMatch(/tls\.caFile/);
  expect(report.healthy).toBe(false);
});

test('a finding is keyed by its code and, when it has one, its node', () => {
  expect(findingKey({ code: 'NODE_FAILED', node: '127.0.0.1:30003' })).toBe('NODE_FAILED 127.0.0.1:30003');
  expect(findingKey({ code: 'SLOTS_UNCOVERED' })).toBe('SLOTS_UNCOVERED');
});

/** The README row a check documents itself with: code, severity, meaning, advice (one line per case). */
function readmeRow(check: HealthCheck): string {
  const advice = typeof check.advice === 'string' ? check.advice : Object.entries(check.advice).map(([when, text]) => `*${when}*: ${text}`).join('<br>');
  return `| \`${check.code}\` | ${check.severity} | ${check.meaning} | ${advice} |`;
}

test("the README's findings table is the table of checks, row for row", () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').split('\n');
  const header = readme.indexOf('| code | severity | what it means | advice |');
  expect(header).toBeGreaterThan(0);
  const rows = readme.slice(header + 2, readme.findIndex((line, i) => i > header + 1 && !line.startsWith('| ')));
  const codeOf = (row: string) => /^\| `([A-Z_]+)` \|/.exec(row)?.[1] ?? row;
  const problems: string[] = [];
  for (const check of HEALTH_CHECKS) {
    const row = rows.find((r) => codeOf(r) === check.code);
    if (row === undefined) problems.push(`${check.code} is missing from the README; add: ${readmeRow(check)}`);
    else if (row !== readmeRow(check)) problems.push(`${check.code} differs (code, severity, meaning or advice); the check says: ${readmeRow(check)}`);
  }
  for (const row of rows) if (!HEALTH_CHECKS.some((c) => c.code === codeOf(row))) problems.push(`${codeOf(row)} is in the README but no check has it`);
  if (problems.length === 0 && rows.join('\n') !== HEALTH_CHECKS.map(readmeRow).join('\n')) problems.push('the README lists the codes in another order than analyzeHealth runs them');
  expect(problems).toEqual([]);
  expect(new Set(HEALTH_CHECKS.map((c) => c.code)).size).toBe(HEALTH_CHECKS.length);
});
