/** Many hosts: which host owns which node, the inventory's checks of `hosts`, and the runtime that refuses another host's nodes. */
import { ApplicationFailure } from '@temporalio/common';
import { HostBoundRuntime } from '../../src/activities/hostRuntime';
import { hostMapProblems, hostOwning, hostTaskQueue } from '../../src/cluster';
import { InventoryError, parseInventory } from '../../src/config';
import { checkAgentHost, HostConfigError } from '../../src/worker';
import type { NodeRuntime } from '../../src/runtime';

const nodes = ['10.0.0.1:7001', '10.0.0.2:7001', '10.0.0.3:7001', '10.0.0.1:7002', '10.0.0.2:7002', '10.0.0.3:7002'];
const hosts = {
  db1: ['10.0.0.1:7001', '10.0.0.1:7002', '10.0.0.1:7003-7005'],
  db2: ['10.0.0.2:7001', '10.0.0.2:7002'],
  db3: ['10.0.0.3:7001-7002'],
};

function inventory(cluster: Record<string, unknown>) {
  return {
    clusters: { main: { nodes, runtime: 'procs', spareNodes: ['10.0.0.1:7003-7005'], ...cluster } },
    runtimes: { procs: { type: 'process', baseDir: '/var/lib/redisforge' }, db2procs: { type: 'process', baseDir: '/srv/redis' } },
  };
}

function problems(data: unknown): string[] {
  try {
    parseInventory(data, 'inv.json');
  } catch (err) {
    if (err instanceof InventoryError) return err.problems;
    throw err;
  }
  return [];
}

test('each address belongs to the host whose entries match it: addresses, ranges', () => {
  expect(hostOwning(hosts, '10.0.0.1:7004')).toBe('db1');
  expect(hostOwning(hosts, '10.0.0.3:7002')).toBe('db3');
  expect(hostOwning(hosts, '10.0.0.9:7001')).toBeUndefined();
  expect(hostTaskQueue('db1')).toBe('redisforge-host-db1');
  expect(hostMapProblems('hosts', hosts, nodes, ['10.0.0.1:7003-7005'])).toEqual([]);
});

test('a node on no host, or on two, is named with the fix', () => {
  expect(hostMapProblems('clusters.main.hosts', { db1: ['10.0.0.1:7001'], db2: ['10.0.0.1:7001-7002'] }, ['10.0.0.1:7001', '10.0.0.1:7002', '10.0.0.2:7001'], ['10.0.0.2:7003-7004'])).toEqual([
    'clusters.main.hosts: node 10.0.0.1:7001 is listed under 2 hosts (db1, db2): a node runs on one host only',
    'clusters.main.hosts: node 10.0.0.2:7001 is on no host: list it under the host that runs it (clusters.main.hosts.<host>.nodes)',
    'clusters.main.hosts: spare address 10.0.0.2:7003 is on no host: list it under the host that runs it (clusters.main.hosts.<host>.nodes)',
    'clusters.main.hosts: spare address 10.0.0.2:7004 is on no host: list it under the host that runs it (clusters.main.hosts.<host>.nodes)',
  ]);
});

test('the inventory checks hosts against nodes, spares, runtimes and the drills host', () => {
  const good = parseInventory(inventory({ hosts: { db1: { nodes: hosts.db1 }, db2: { nodes: hosts.db2, runtime: 'db2procs' }, db3: { nodes: hosts.db3 } }, scratchPorts: '40001-40010', scratchHost: 'db3' }));
  expect(good.clusters.main!.hostAgentWaitSeconds).toBe(120);
  expect(problems(inventory({ hosts: { db1: { nodes: hosts.db1, runtime: 'nope' }, db2: { nodes: hosts.db2 } }, scratchPorts: '40001-40010' }))).toEqual([
    'clusters.main.hosts.db1.runtime: no runtime "nope" under "runtimes" (have: procs, db2procs)',
    'clusters.main.hosts: node 10.0.0.3:7001 is on no host: list it under the host that runs it (clusters.main.hosts.<host>.nodes)',
    'clusters.main.hosts: node 10.0.0.3:7002 is on no host: list it under the host that runs it (clusters.main.hosts.<host>.nodes)',
    "clusters.main.scratchHost: the cluster has hosts and scratchPorts: name the host whose agent runs verifyBackup's scratch clusters (one of db1, db2)",
  ]);
  expect(problems(inventory({ scratchHost: 'db1' }))).toEqual(['clusters.main.scratchHost: names a host, but the cluster has no "hosts" map']);
  expect(problems(inventory({ hosts: { 'db 1': { nodes: [...nodes, '10.0.0.1:7003-7005'] } } }))).toEqual(['clusters.main.hosts: "db 1" is not a host name: use letters, digits, - and _ (at most 64), as `redisforge worker --host` is given it']);
});

test('an agent name the inventory does not know stops the worker with the names it has', () => {
  const inv = parseInventory(inventory({ hosts: { db1: { nodes: hosts.db1 }, db2: { nodes: hosts.db2 }, db3: { nodes: hosts.db3 } } }));
  expect(() => checkAgentHost(inv, 'db1')).not.toThrow();
  expect(() => checkAgentHost(inv, 'db9')).toThrow(new HostConfigError('--host (REDISFORGE_HOST): no cluster of the inventory has a host "db9" (clusters.<name>.hosts has: db1, db2, db3); name this machine as the inventory does'));
  expect(() => checkAgentHost(inv, '../x')).toThrow(HostConfigError);
});

test("a host-bound runtime touches only its own host's nodes, through that host's runtime; the central worker none", async () => {
  const touched: string[] = [];
  const fake = (host: string): NodeRuntime =>
    ({
      kind: 'process',
      start: async (address: string) => void touched.push(`${host} start ${address}`),
      stop: async (address: string) => void touched.push(`${host} stop ${address}`),
    }) as unknown as NodeRuntime;
  const agent = new HostBoundRuntime('main', hosts, 'db1', fake);
  await agent.start('10.0.0.1:7004');
  const wrong = await agent.stop('10.0.0.2:7001').catch((e: unknown) => e);
  expect(wrong).toBeInstanceOf(ApplicationFailure);
  expect(wrong).toMatchObject({ type: 'WrongHost', nonRetryable: true, message: expect.stringContaining('10.0.0.2:7001 runs on host db2: its processes and files are touched only by that host\'s agent (redisforge worker --host db2, task queue redisforge-host-db2); this is the agent of host db1, so nothing was done') });
  const central = await new HostBoundRuntime('main', hosts, undefined, fake).start('10.0.0.1:7001').catch((e: unknown) => e);
  expect(central).toMatchObject({ type: 'WrongHost', message: expect.stringContaining('this is the central worker') });
  expect(await agent.stop('10.9.9.9:1').catch((e: unknown) => (e as ApplicationFailure).type)).toBe('InvalidInput');
  expect(touched).toEqual(['db1 start 10.0.0.1:7004']);
});
