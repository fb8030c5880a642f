/**
 * ACL users per role on real nodes: the worker runs the runbook as the operator user, the
 * application user cannot run admin or dangerous commands, replicas sync as the replication
 * user, the default user is off; configureAcl converts a requirepass cluster; rotateCredentials
 * rotates a password under client load with both passwords valid during the roll.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import type Redis from 'ioredis';
import { Cluster } from 'ioredis';
import type { ProcessRuntime } from '../../src/runtime';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { ConfigureAclReport } from '../../src/workflows/configureAcl';
import type { RotateCredentialsReport } from '../../src/workflows/rotateCredentials';
import { ACL_CLUSTERS, aclNextEnv, aclSecrets, asTestAdmin, asUser, connectAs, startAclNodes } from '../harness/acl';
import { password, runWorkflow, runWorkflowFailure, testClient, workflowId } from '../harness/cluster';
import { startWorker, type WorkerProcess } from '../harness/worker';
import { eventually, progressReaches } from '../helpers/waitFor';
import { approveUpdate } from '../../src/shared';

const NODES = ACL_CLUSTERS.acl.nodes;
const LEGACY = ACL_CLUSTERS['acl-legacy'].nodes;
let pw: string;
let users: ReturnType<typeof aclSecrets>;
const login = (role: keyof typeof users extends infer K ? Exclude<K, 'applicationRules'> : never, i = 0) => ({ username: users[role].username, password: users[role].passwords[i] });
const runtimes: ProcessRuntime[] = [];

beforeAll(async () => {
  pw = password();
  users = aclSecrets(pw);
  runtimes.push(await startAclNodes('acl', pw));
  await runWorkflow('createCluster', { cluster: 'acl' });
});

afterAll(async () => {
  for (const [runtime, name] of runtimes.map((r, i) => [r, i === 0 ? 'acl' : 'acl-legacy'] as const)) {
    await Promise.all([...ACL_CLUSTERS[name].nodes, ...ACL_CLUSTERS[name].spare].map((n) => runtime.kill(n)));
  }
});

const errorOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.message);

/** Each replica's master_link_status and the user its master sees it logged in as. */
async function replicationLinks(nodes: readonly string[]): Promise<{ replica: string; link: string; users: string[] }[]> {
  const out = [];
  for (const address of nodes) {
    const info = await asUser(address, login('operator'), (r) => r.info('replication'));
    if (!/role:slave/.test(info)) continue;
    const master = `${/master_host:(\S+)/.exec(info)![1]}:${/master_port:(\d+)/.exec(info)![1]}`;
    const clients = await asTestAdmin(master, login('operator'), pw, (r) => r.call('CLIENT', 'LIST', 'TYPE', 'replica') as Promise<string>);
    out.push({ replica: address, link: /master_link_status:(\w+)/.exec(info)?.[1] ?? 'none', users: [...clients.matchAll(/ user=(\S+)/g)].map((m) => m[1]!) });
  }
  return out;
}

/** Every replica's link up, each master's replica connections logged in as the replication user. */
function linksUpAsReplication(nodes: readonly string[]) {
  return eventually(
    'every replica in sync as the replication user',
    () => replicationLinks(nodes),
    (links) => links.length === 3 && links.every((l) => l.link === 'up' && l.users.length > 0 && l.users.every((u) => u === users.replication.username)),
  );
}

test('the worker runs health, failoverTest, addNode and removeNode as the operator user', async () => {
  const health = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'acl' });
  expect(health.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  await runWorkflow('failoverTest', { cluster: 'acl', canaries: 50 });
  await runWorkflow('addNode', { cluster: 'acl', address: ACL_CLUSTERS.acl.spare[0], role: 'master' });
  await runWorkflow('removeNode', { cluster: 'acl', node: ACL_CLUSTERS.acl.spare[0]! });
  const after = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'acl' });
  expect(after.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  // The operator's rules cover every command these workflows sent: no node logged a refusal of it.
  for (const address of NODES) {
    const refusals = await asUser(address, login('operator'), (r) => r.call('ACL', 'LOG') as Promise<unknown[]>);
    expect(`${address}: ${JSON.stringify(refusals)}`).not.toContain(users.operator.username);
  }
});

test('the application user can read and write but not CONFIG, FLUSHALL or CLUSTER RESET', async () => {
  const app = new Cluster([{ host: '127.0.0.1', port: 21311 }], { enableReadyCheck: false, redisOptions: { ...login('application'), enableReadyCheck: false } });
  app.on('error', () => undefined);
  try {
    await app.set('acl:test', 'v');
    expect(await app.get('acl:test')).toBe('v');
  } finally {
    app.disconnect();
  }
  await asUser(NODES[0]!, login('application'), async (r) => {
    for (const cmd of [['CONFIG', 'GET', 'maxmemory'], ['CONFIG', 'SET', 'maxmemory', '1'], ['FLUSHALL'], ['CLUSTER', 'RESET'], ['KEYS', '*'], ['ACL', 'LIST']]) {
      expect(`${cmd.join(' ')}: ${await errorOf(r.call(cmd[0]!, ...cmd.slice(1)))}`).toMatch(/NOPERM/);
    }
  });
});

test('the default user cannot log in, and replicas sync as the replication user', async () => {
  for (const address of NODES) {
    expect(await errorOf(asUser(address, { password: pw }, (r) => r.ping()))).toMatch(/WRONGPASS/);
    expect(await errorOf(asUser(address, {}, (r) => r.ping()))).toMatch(/NOAUTH/);
  }
  // A fresh sync: each master drops its replicas, which log in again with masteruser/masterauth.
  for (const address of NODES) await asTestAdmin(address, login('operator'), pw, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'replica'));
  await linksUpAsReplication(NODES);
});

test('configureAcl converts a requirepass cluster: users on every node, the default user off', async () => {
  runtimes.push(await startAclNodes('acl-legacy', pw));
  await runWorkflow('createCluster', { cluster: 'acl-legacy' });
  expect(await errorOf(asUser(LEGACY[0]!, { password: pw }, (r) => r.ping()))).toBe('ok');

  const plan = await runWorkflow<ConfigureAclReport>('configureAcl', { cluster: 'acl-legacy', dryRun: true });
  expect(plan.alreadyConfigured).toEqual([]);
  expect(plan.created[LEGACY[0]!]).toEqual(['operator', 'replication', 'application']);
  expect(await errorOf(asUser(LEGACY[0]!, login('operator'), (r) => r.ping()))).toMatch(/WRONGPASS/);

  // The users are created at once; the default user goes only after an approval.
  const client = await testClient();
  const handle = await client.workflow.start('configureAcl', { taskQueue: 'redisforge-ops', workflowId: workflowId('configure-acl'), args: [{ cluster: 'acl-legacy' }] });
  const gate = await progressReaches(handle, 'the approval gate', (p) => Boolean(p.detail?.includes('approval needed')));
  expect(gate.detail).toContain('the default user goes off on 6 nodes');
  expect(await errorOf(asUser(LEGACY[0]!, { password: pw }, (r) => r.ping()))).toBe('ok');
  expect(await errorOf(asUser(LEGACY[0]!, login('operator'), (r) => r.ping()))).toBe('ok');
  expect(await handle.executeUpdate(approveUpdate, { args: [{ by: 'acl-test', reason: 'clients moved' }] })).toBe('approved by acl-test');
  const report = (await handle.result()) as ConfigureAclReport;
  expect(report.approval).toMatchObject({ by: 'acl-test' });
  expect(report.notRewritten).toEqual([]);
  for (const address of LEGACY) {
    expect(await errorOf(asUser(address, { password: pw }, (r) => r.ping()))).toMatch(/WRONGPASS/);
    expect(await errorOf(asUser(address, login('operator'), (r) => r.ping()))).toBe('ok');
    expect(await errorOf(asUser(address, login('application'), (r) => r.call('FLUSHALL')))).toMatch(/NOPERM/);
  }
  for (const address of LEGACY) await asTestAdmin(address, login('operator'), pw, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'replica'));
  await linksUpAsReplication(LEGACY);
  const health = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: 'acl-legacy' });
  expect(health.findings.filter((f) => f.severity !== 'info')).toEqual([]);

  // redis.conf keeps the users and no longer holds the old password.
  const conf = readFileSync(join(runtimes[1]!.nodeDir(LEGACY[0]!), 'redis.conf'), 'utf8');
  expect(conf).toContain(`user ${users.operator.username} on`);
  expect(conf).not.toContain(pw + '"');
  expect(conf).toMatch(/masteruser "?redisforge-replication/);

  const again = await runWorkflow<ConfigureAclReport>('configureAcl', { cluster: 'acl-legacy', approve: true });
  expect(again.alreadyConfigured.sort()).toEqual([...LEGACY].sort());
});

describe('rotateCredentials', () => {
  const queue = 'acl-rotation';
  let worker: WorkerProcess;
  beforeAll(async () => {
    worker = await startWorker(pw, { ...aclNextEnv(pw), REDISFORGE_TASK_QUEUE: queue }, 'worker-acl-rotation.log');
  });
  afterAll(async () => {
    await worker?.stop();
  });

  async function rotate(user: string): Promise<RotateCredentialsReport> {
    const client = await testClient();
    return client.workflow.execute('rotateCredentials', { taskQueue: queue, workflowId: workflowId(`rotate-${user}`), args: [{ cluster: 'acl', user }] });
  }

  test('a rotation without a next password is refused; a dry run changes nothing', async () => {
    const failure = await runWorkflowFailure('rotateCredentials', { cluster: 'acl', user: 'application' });
    expect(failure.message).toMatch(/REDISFORGE_TEST_ACL_APPLICATION_NEXT/);
    const client = await testClient();
    const plan = await client.workflow.execute('rotateCredentials', { taskQueue: queue, workflowId: workflowId('rotate-dry'), args: [{ cluster: 'acl', user: 'application', dryRun: true }] });
    expect(plan).toMatchObject({ dryRun: true, added: [], removed: [] });
    const next = aclSecrets(pw, 'acl', true).application.passwords[1]!;
    expect(await errorOf(asUser(NODES[0]!, { username: users.application.username, password: next }, (r) => r.ping()))).toMatch(/WRONGPASS/);
  });

  test('application: clients with the old connection and clients reconnecting with the new password never fail', async () => {
    const next = { username: users.application.username, password: aclSecrets(pw, 'acl', true).application.passwords[1] };
    const slots = (await asUser(NODES[0]!, login('operator'), (r) => r.call('CLUSTER', 'SLOTS'))) as [number, number, [string, number]][];
    const keyOn = (address: string, n: number) => {
      const ranges = slots.filter((s) => `${s[2][0]}:${s[2][1]}` === address);
      for (let i = 0; ; i++) if (ranges.some(([a, b]) => calculateSlot(`load:${n}:${i}`) >= a && calculateSlot(`load:${n}:${i}`) <= b)) return `load:${n}:${i}`;
    };
    const masters = [...new Set(slots.map((s) => `${s[2][0]}:${s[2][1]}`))];
    const kept: Redis[] = await Promise.all(masters.map((m) => connectAs(m, login('application'))));
    const errors: string[] = [];
    let done = 0;
    let stop = false;
    // Connected before the rotation with the old password: such connections stay logged in.
    const steady = kept.map(async (redis, n) => {
      for (let i = 0; !stop; i++) await redis.set(keyOn(masters[n]!, n), String(i)).then(() => done++, (e: Error) => errors.push(`steady: ${e.message}`));
    });
    // A client in rotation: a fresh connection each round, the new password first, the old one when refused.
    let newLogins = 0;
    const reconnecting = (async () => {
      for (let i = 0; !stop; i++) {
        const address = masters[i % masters.length]!;
        const redis = await connectAs(address, next).then((r) => (newLogins++, r), () => connectAs(address, login('application')));
        await redis.set(keyOn(address, i % masters.length), 'x').then(() => done++, (e: Error) => errors.push(`reconnecting: ${e.message}`));
        redis.disconnect();
      }
    })();
    const report = await rotate('application');
    stop = true;
    await Promise.all([...steady, reconnecting]);
    kept.forEach((r) => r.disconnect());
    expect(errors).toEqual([]);
    expect(done).toBeGreaterThan(0);
    expect(newLogins).toBeGreaterThan(0);
    expect(report.removed.sort()).toEqual([...NODES].sort());
    expect(report.notes.join(' ')).toMatch(/passwordEnv/);
    for (const address of NODES) {
      expect(await errorOf(asUser(address, next, (r) => r.ping()))).toBe('ok');
      expect(await errorOf(asUser(address, login('application'), (r) => r.ping()))).toMatch(/WRONGPASS/);
    }
  });

  test('replication: replicas move to the new password and stay in sync', async () => {
    const report = await rotate('replication');
    expect(report.removed.sort()).toEqual([...NODES].sort());
    // Links made after the rotation log in with the new masterauth.
    for (const address of NODES) await asTestAdmin(address, login('operator'), pw, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'replica'));
    await linksUpAsReplication(NODES);
    expect(await errorOf(asUser(NODES[0]!, login('replication'), (r) => r.ping()))).toMatch(/WRONGPASS/);
  });

  // Last: afterwards only a worker holding the next operator password can reach the cluster.
  test('operator: the worker goes on with the next password once the old one is gone', async () => {
    const report = await rotate('operator');
    expect(report.removed.sort()).toEqual([...NODES].sort());
    expect(await errorOf(asUser(NODES[0]!, login('operator'), (r) => r.ping()))).toMatch(/WRONGPASS/);
    const client = await testClient();
    const health = await client.workflow.execute<(input: unknown) => Promise<ClusterHealthResult>>('clusterHealth', { taskQueue: queue, workflowId: workflowId('health-after-rotation'), args: [{ cluster: 'acl' }] });
    expect(health.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  });
});
