import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InventoryError, loadInventory, parseInventory } from '../../src/config';
import { classifyRedisError, redact, resolveCredentials } from '../../src/activities/redis/connection';
import { DockerRuntime } from '../../src/runtime/docker';

const good = {
  clusters: { main: { nodes: ['127.0.0.1:7001', '127.0.0.1:7002'], runtime: 'local', backupStore: 'fs' } },
  runtimes: { local: { type: 'process', baseDir: 'nodes' } },
  stores: { fs: { type: 'fs', path: 'backups' } },
};

test('defaults are filled in and relative paths resolve against the inventory file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-inv-'));
  writeFileSync(join(dir, 'inv.json'), JSON.stringify(good));
  const inv = loadInventory(join(dir, 'inv.json'));
  expect(inv.clusters.main).toMatchObject({ masters: 3, replicasPerMaster: 1, auth: { passwordEnv: 'REDIS_REQUIREPASS' }, commandTimeoutMs: 5000 });
  expect(inv.runtimes.local).toMatchObject({ baseDir: join(dir, 'nodes'), versions: { default: 'redis-server' }, nodeTimeoutMs: 5000 });
  expect(inv.stores.fs).toEqual({ type: 'fs', path: join(dir, 'backups') });
});

test('a bad inventory lists every problem by its path in the file', () => {
  const bad = {
    clusters: {
      main: { nodes: ['127.0.0.1:7001', 'nohost', '127.0.0.1:7001'], masters: 0, runtime: 'missing', backupStore: 'nowhere', passwd: 'x' },
    },
    runtimes: { local: { type: 'kubernetes' } },
  };
  let error: InventoryError | undefined;
  try {
    parseInventory(bad, 'inv.json');
  } catch (err) {
    error = err as InventoryError;
  }
  expect(error).toBeInstanceOf(InventoryError);
  const text = error!.problems.join('\n');
  expect(text).toContain('clusters.main.nodes[1]: expected "host:port", e.g. "127.0.0.1:7001"');
  expect(text).toContain('clusters.main.masters:');
  expect(text).toContain('clusters.main: Unrecognized key: "passwd"');
  expect(text).toContain('runtimes.local.type:');
  expect(error!.message).toMatch(/^inventory inv.json is invalid:\n {2}- /);
});

test('cross references: runtime and store names must exist', () => {
  expect(() => parseInventory({ ...good, runtimes: {}, stores: {} })).toThrow(/clusters.main.runtime: no runtime "local"[\s\S]*clusters.main.backupStore: no store "fs"/);
});

test('unreadable and non-JSON files say so and how to fix it', () => {
  expect(() => loadInventory('/nonexistent/inv.json')).toThrow(/cannot read the file .*REDISFORGE_INVENTORY/);
  const dir = mkdtempSync(join(tmpdir(), 'rf-inv-'));
  writeFileSync(join(dir, 'inv.json'), '{ nope');
  expect(() => loadInventory(join(dir, 'inv.json'))).toThrow(/not valid JSON/);
});

test('credentials come from the environment variables the inventory names', () => {
  const cluster = parseInventory({ clusters: { c: { nodes: ['h:1'], auth: { usernameEnv: 'RF_USER', passwordEnv: 'RF_PASS' } } } }).clusters.c!;
  expect(resolveCredentials(cluster, { RF_USER: 'ops', RF_PASS: 'pw1' })).toEqual({ username: 'ops', password: 'pw1' });
  expect(resolveCredentials(cluster, {})).toEqual({ username: undefined, password: undefined });
});

test('secrets are redacted and connection errors classified', () => {
  expect(redact('AUTH ops hunter2 failed for hunter2', ['hunter2', undefined])).toBe('AUTH ops *** failed for ***');
  expect(classifyRedisError(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toBe('auth');
  expect(classifyRedisError(new Error('NOAUTH Authentication required.'))).toBe('auth');
  expect(classifyRedisError(new Error('connect ECONNREFUSED 127.0.0.1:7001'))).toBe('unreachable');
  expect(classifyRedisError(new Error('ERR This instance has cluster support disabled'))).toBe('cluster-disabled');
  expect(classifyRedisError(new Error('ERR unknown command'))).toBe('other');
});

test('security settings: unchecked TLS must say insecure, ACL users name where their password is, spare and scratch ranges are checked', () => {
  const withMain = (extra: Record<string, unknown>) => ({ ...good, clusters: { main: { ...good.clusters.main, ...extra } } });
  const problems = (data: unknown) => {
    try {
      parseInventory(data);
      return [];
    } catch (err) {
      return (err as InventoryError).problems;
    }
  };
  expect(problems(withMain({ tls: { rejectUnauthorized: false } }))).toEqual([expect.stringMatching(/^clusters\.main\.tls\.rejectUnauthorized: .*"insecure": true/)]);
  expect(problems(withMain({ tls: { rejectUnauthorized: false, insecure: true } }))).toEqual([]);
  // Nodes that serve TLS need a CA for the clients' and each other's certificates: refused when the worker loads the file.
  expect(problems(withMain({ tls: { server: { certFile: 'n.crt', keyFile: 'n.key' } } }))).toEqual([expect.stringMatching(/^clusters\.main\.tls\.server\.caFile: name the CA/)]);
  expect(problems(withMain({ acl: { operator: { username: 'op' }, replication: { passwordEnv: 'R' }, application: { passwordFile: 'app.pw' } } }))).toEqual([
    expect.stringMatching(/^clusters\.main\.acl\.operator: name passwordEnv or passwordFile/),
  ]);
  expect(problems(withMain({ spareNodes: ['127.0.0.1:7007-7010', '10.0.0.0/24:6379', 'nohost'], scratchPorts: '40001' }))).toEqual([
    expect.stringMatching(/^clusters\.main\.spareNodes\[2\]: expected "host:port"/),
    expect.stringMatching(/^clusters\.main\.scratchPorts: expected "first-last"/),
  ]);
  const inv = parseInventory(withMain({ acl: { operator: { passwordEnv: 'OP' }, replication: { passwordEnv: 'R' }, application: { passwordEnv: 'A', nextPasswordEnv: 'A_NEXT' } } }));
  expect(inv.clusters.main!.acl!.operator.username).toBe('redisforge-operator');
  expect(resolveCredentials(inv.clusters.main!, { OP: 'op-pass', R: 'r', A: 'a' })).toEqual({ username: 'redisforge-operator', password: 'op-pass' });
});

test('docker images: a version is a tag of `image`, or the whole reference `images` gives it; read back by the same names; a bad reference or registryAuth is named by its path', () => {
  const inv = parseInventory({
    ...good,
    runtimes: {
      local: {
        type: 'docker', image: 'registry.example:5000/redisforge/redis',
        images: { 'valkey-8.1': 'registry.example:5000/redisforge/valkey:8.1' },
        registryAuth: { usernameEnv: 'REGISTRY_USER', passwordEnv: 'REGISTRY_PASSWORD' },
      },
    },
  });
  const config = inv.runtimes.local;
  if (config?.type !== 'docker') throw new Error('expected a docker runtime');
  const runtime = new DockerRuntime('main', config);
  expect(runtime.imageFor('7.0.15')).toBe('registry.example:5000/redisforge/redis:7.0.15');
  expect(runtime.imageFor('valkey-8.1')).toBe('registry.example:5000/redisforge/valkey:8.1');
  expect(runtime.versionOf('registry.example:5000/redisforge/redis:7.0.15')).toBe('7.0.15');
  expect(runtime.versionOf('registry.example:5000/redisforge/valkey:8.1')).toBe('valkey-8.1');
  // An image the runtime did not name keeps its whole reference: "8.1" alone would say too little.
  expect(runtime.versionOf('other/valkey:8.1')).toBe('other/valkey:8.1');

  expect(() => parseInventory({ ...good, runtimes: { local: { type: 'docker', images: { v: 'has spaces' }, registryAuth: { usernameEnv: 'U' } } } })).toThrow(
    /runtimes\.local\.images\.v: expected a whole image reference[\s\S]*runtimes\.local\.registryAuth\.passwordEnv/,
  );
});
