/**
 * The run's ACL clusters: `acl` (21311-21316, spare 21317-21319), whose nodes start with one
 * user per role, and `acl-legacy` (21341-21346), whose nodes start with requirepass only, for
 * configureAcl. The users' passwords are fresh per run, derived from the run's password.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { parseInventory } from '../../src/config';
import { resolveNodeSecrets, type Credentials, type NodeSecrets } from '../../src/credentials';
import { splitAddress } from '../../src/cluster/address';
import { ProcessRuntime } from '../../src/runtime';
import { NODES_DIR, NODE_TIMEOUT_MS, testInventory } from './env';
import { ports } from './ports';

export const ACL_ROLES = ['operator', 'replication', 'application'] as const;
export type AclRole = (typeof ACL_ROLES)[number];

const envName = (role: AclRole, next = false) => `REDISFORGE_TEST_ACL_${role.toUpperCase()}${next ? '_NEXT' : ''}`;

/** Environment of the worker: the ACL users' current passwords (the next ones are for a rotation's own worker). */
export function aclEnv(runPassword: string): Record<string, string> {
  return Object.fromEntries(ACL_ROLES.map((role) => [envName(role), `${runPassword}-${role}`]));
}

/** The next password of each user, for the worker that runs rotateCredentials. */
export function aclNextEnv(runPassword: string): Record<string, string> {
  return Object.fromEntries(ACL_ROLES.map((role) => [envName(role, true), `${runPassword}-${role}-next`]));
}

export const ACL_CLUSTERS = {
  acl: { nodes: ports(21311), spare: ports(21317, 3), spareNodes: ['127.0.0.1:21317-21319'] },
  'acl-legacy': { nodes: ports(21341), spare: ports(21347, 3), spareNodes: ['127.0.0.1:21347-21349'] },
} as const;
export type AclClusterName = keyof typeof ACL_CLUSTERS;

/** Inventory entries (clusters and runtimes) of the ACL clusters. */
export function aclInventory(): { clusters: Record<string, unknown>; runtimes: Record<string, unknown> } {
  const acl = Object.fromEntries(ACL_ROLES.map((role) => [role, { passwordEnv: envName(role), nextPasswordEnv: envName(role, true) }]));
  const clusters: Record<string, unknown> = {};
  const runtimes: Record<string, unknown> = {};
  for (const [name, { nodes, spareNodes }] of Object.entries(ACL_CLUSTERS)) {
    clusters[name] = { nodes, spareNodes, masters: 3, replicasPerMaster: 1, runtime: `nodes-${name}`, commandTimeoutMs: 2000, acl, auth: { passwordEnv: 'REDIS_REQUIREPASS' } };
    runtimes[`nodes-${name}`] = { type: 'process', baseDir: join(NODES_DIR, name), versions: { '7.0.15': 'redis-server' }, defaultVersion: '7.0.15', nodeTimeoutMs: NODE_TIMEOUT_MS };
  }
  return { clusters, runtimes };
}

/** What the test process knows of the users: the worker's environment, computed the same way. */
export function aclSecrets(runPassword: string, name: AclClusterName = 'acl', next = false): NonNullable<NodeSecrets['acl']> {
  const cluster = parseInventory(testInventory()).clusters[name]!;
  return resolveNodeSecrets(cluster, { ...aclEnv(runPassword), ...(next ? aclNextEnv(runPassword) : {}) }).acl!;
}

/**
 * Starts six empty nodes of an ACL cluster: `acl` with its users (as the runtime writes them),
 * `acl-legacy` with requirepass only. Whatever ran there before is killed and removed.
 */
export async function startAclNodes(name: AclClusterName, runPassword: string): Promise<ProcessRuntime> {
  const inventory = parseInventory(testInventory());
  const secrets: NodeSecrets = name === 'acl' ? resolveNodeSecrets(inventory.clusters[name]!, aclEnv(runPassword)) : { password: runPassword };
  const config = inventory.runtimes[`nodes-${name}`];
  if (config?.type !== 'process') throw new Error(`nodes-${name} is not a process runtime`);
  const runtime = new ProcessRuntime(config, secrets);
  await Promise.all([...ACL_CLUSTERS[name].nodes, ...ACL_CLUSTERS[name].spare].map((n) => runtime.kill(n)));
  rmSync(join(NODES_DIR, name), { recursive: true, force: true });
  await Promise.all(ACL_CLUSTERS[name].nodes.map((n) => runtime.provision(n)));
  return runtime;
}

/**
 * A connection as one user (or none): for the tests' own checks of who may do what. AUTH is sent
 * here, so a refused login fails with Redis's own reply (WRONGPASS), not "Connection is closed".
 */
export async function connectAs(address: string, login: Credentials): Promise<Redis> {
  const { host, port } = splitAddress(address);
  const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    if (login.password) await (login.username ? redis.call('AUTH', login.username, login.password) : redis.call('AUTH', login.password));
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

/** Runs `fn` as one user on a node; the connection is closed afterwards. */
export async function asUser<T>(address: string, login: Credentials, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectAs(address, login);
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * The tests' own admin user on a node (CLIENT LIST/KILL, which no role has), made with the
 * operator's ACL rights: an operator that can run ACL SETUSER can make any user, which is why
 * the operator's password is the cluster's most sensitive secret.
 */
export async function asTestAdmin<T>(address: string, operator: Credentials, runPassword: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const admin = { username: 'rf-test-admin', password: `${runPassword}-test-admin` };
  await asUser(address, operator, (r) => r.call('ACL', 'SETUSER', admin.username, 'on', `>${admin.password}`, '~*', '&*', '+@all'));
  return asUser(address, admin, fn);
}
