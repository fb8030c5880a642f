/**
 * The worker's inventory: which clusters exist, where their nodes are, how to reach them,
 * which runtime stops and starts their nodes and where their backups go. Secrets are never in
 * this file: it names the environment variables (or files) that hold them.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { formatIssues } from './validation';
import { aclSchema, authSchema, portRange, spareEntry, tlsSchema } from './inventorySecurity';
import { HOST_NAME, hostMapProblems } from './cluster/hosts';

const address = z
  .string()
  .regex(/^[A-Za-z0-9._-]+:\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:7001"');

const hostSchema = z
  .object({
    /** The node addresses (and spare entries: "host:first-last", CIDRs) on this host. */
    nodes: z.array(spareEntry).min(1, 'list the addresses of the nodes on this host'),
    /** Key of `runtimes` that runs the nodes there. @default the cluster's runtime */
    runtime: z.string().optional(),
  })
  .strict();

const clusterSchema = z
  .object({
    /** Every node's "host:port". createCluster builds the cluster from them; checks start from them. */
    nodes: z.array(address).min(1, 'list at least one node address'),
    /** @default 3 */
    masters: z.int().min(1).default(3),
    /** @default 1 */
    replicasPerMaster: z.int().min(0).default(1),
    auth: authSchema.default({ passwordEnv: 'REDIS_REQUIREPASS' }),
    /** Connect with TLS (rediss) when present. */
    tls: tlsSchema.optional(),
    /** Distinct ACL users per role; absent: one password (requirepass) for everything. */
    acl: aclSchema.optional(),
    /** Addresses addNode and createCluster may add to the cluster besides `nodes`. */
    spareNodes: z.array(spareEntry).default([]),
    /** Ports on 127.0.0.1 verifyBackup's scratch clusters may use ("first-last"); absent: no restore drills. */
    scratchPorts: portRange.optional(),
    /** Key of `runtimes` that stops, starts and replaces this cluster's nodes. */
    runtime: z.string().optional(),
    /** Key of `stores` that holds this cluster's backups. */
    backupStore: z.string().optional(),
    /** The address applications use (the Envoy proxy), for routing checks. */
    clientEndpoint: address.optional(),
    /** @default 5000 */
    commandTimeoutMs: z.int().min(100).default(5000),
    /**
     * The machines the nodes run on, for a cluster spread over many: host name -> the addresses
     * (and spare entries) of its nodes, and the runtime there when it is not the cluster's. What
     * touches a node's processes or files runs only in its host's agent (`redisforge worker
     * --host NAME`, task queue redisforge-host-NAME). Absent: every node is the worker's own.
     */
    hosts: z.record(z.string(), hostSchema).optional(),
    /** With `hosts` and scratchPorts: the host whose agent runs verifyBackup's scratch clusters, start to teardown, on its 127.0.0.1. */
    scratchHost: z.string().optional(),
    /** How long a node-local step waits for its host's agent to take it before it fails, naming the host. @default 120 */
    hostAgentWaitSeconds: z.int().min(5).max(86_400).default(120),
  })
  .strict();

const processRuntimeSchema = z
  .object({
    type: z.literal('process'),
    /** One directory per node below it: config, data, log, pid. */
    baseDir: z.string(),
    /** Version name -> redis-server binary. */
    versions: z.record(z.string(), z.string()).default({ default: 'redis-server' }),
    defaultVersion: z.string().default('default'),
    /** @default 5000 */
    nodeTimeoutMs: z.int().min(100).default(5000),
    /** Extra redis.conf directives for every node. */
    extraConfig: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const dockerEndpointTls = z
  .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })
  .strict();

const dockerRuntimeSchema = z
  .object({
    type: z.literal('docker'),
    /** Docker endpoint: a unix socket path, tcp://host:port or ssh://user@host. */
    endpoint: z.string().default('/var/run/docker.sock'),
    /** Client certificates for a tcp:// endpoint (Docker's TLS). */
    tls: dockerEndpointTls.optional(),
    /** ssh:// endpoints: the known_hosts file their host keys must be in. */
    sshKnownHostsFile: z.string().optional(),
    /** Allow tcp:// without TLS and ssh:// without a known host key. @default false */
    insecure: z.boolean().default(false),
    /** Per-node endpoints ("host:port" -> endpoint) for a cluster spread over many hosts. */
    nodeEndpoints: z.record(z.string(), z.string()).default({}),
    /** The image repository; a version is its tag. @default "redisforge/redis" */
    image: z.string().default('redisforge/redis'),
    /**
     * Version names that are not tags of `image` -> whole image references, for another engine's
     * repository: e.g. {"valkey-8.1": "redisforge/valkey:8.1"}, so upgradeRedis can move to Valkey.
     */
    images: z.record(z.string(), z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/, 'expected a whole image reference, e.g. "redisforge/valkey:8.1"')).default({}),
    /**
     * The worker's environment variables that hold the registry user and password for pulls
     * (never an input); absent: pulls go without credentials.
     */
    registryAuth: z.object({ usernameEnv: z.string().min(1), passwordEnv: z.string().min(1) }).strict().optional(),
    /** @default "7.0.15" */
    defaultVersion: z.string().default('7.0.15'),
    /** Where the node's data volume is mounted in the container. @default "/data" */
    dataDir: z.string().default('/data'),
    /** @default 5000 */
    nodeTimeoutMs: z.int().min(100).default(5000),
    /** Extra redis.conf directives for nodes this runtime provisions. */
    extraConfig: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const storeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('fs'), path: z.string() }).strict(),
  z
    .object({
      type: z.literal('s3'),
      bucket: z.string().min(1),
      prefix: z.string().default(''),
      region: z.string().default('us-east-1'),
      endpoint: z.url().optional(),
      forcePathStyle: z.boolean().default(false),
    })
    .strict(),
]);

/** A proxy in front of a cluster (Envoy): a container that upgradeEnvoy replaces. */
const proxySchema = z
  .object({
    /** Key of a `docker` runtime under `runtimes`: the Docker endpoint the container runs on. */
    runtime: z.string(),
    /** The container's name, e.g. "redisforge-envoy-1" (compose names it <project>-<service>-1). */
    container: z.string().min(1, 'the name of the proxy container, e.g. "redisforge-envoy-1"'),
    /** The client port, "host:port"; readiness is a PING answered there when there is no adminUrl. */
    address,
    /** Envoy's admin endpoint, e.g. "http://127.0.0.1:9901"; ready when GET /ready answers 200 LIVE. */
    adminUrl: z.url().optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    clusters: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'cluster names use letters, digits, - and _'), clusterSchema),
    runtimes: z.record(z.string(), z.discriminatedUnion('type', [processRuntimeSchema, dockerRuntimeSchema])).default({}),
    stores: z.record(z.string(), storeSchema).default({}),
    proxies: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'proxy names use letters, digits, - and _'), proxySchema).default({}),
  })
  .strict();

export type Inventory = z.infer<typeof inventorySchema>;
export type ClusterConfig = Inventory['clusters'][string];
export type RuntimeConfig = Inventory['runtimes'][string];
export type ProcessRuntimeConfig = Extract<RuntimeConfig, { type: 'process' }>;
export type DockerRuntimeConfig = Extract<RuntimeConfig, { type: 'docker' }>;
export type StoreConfig = Inventory['stores'][string];
export type ProxyConfig = Inventory['proxies'][string];

export class InventoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`inventory ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InventoryError';
  }
}

type Loose = Record<string, unknown> | undefined;
const asRecord = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * Names that point elsewhere in the file (runtime, backupStore) and duplicate addresses.
 * Checked on the raw data so these problems are listed together with the schema's own.
 */
function crossReferenceProblems(data: unknown): string[] {
  const root = asRecord(data);
  const runtimes = Object.keys(asRecord(root?.runtimes) ?? {});
  const stores = Object.keys(asRecord(root?.stores) ?? {});
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(asRecord(root?.clusters) ?? {})) {
    const cluster = asRecord(raw);
    if (typeof cluster?.runtime === 'string' && !runtimes.includes(cluster.runtime)) {
      problems.push(`clusters.${name}.runtime: no runtime "${cluster.runtime}" under "runtimes" (have: ${runtimes.join(', ') || 'none'})`);
    }
    if (typeof cluster?.backupStore === 'string' && !stores.includes(cluster.backupStore)) {
      problems.push(`clusters.${name}.backupStore: no store "${cluster.backupStore}" under "stores" (have: ${stores.join(', ') || 'none'})`);
    }
    if (Array.isArray(cluster?.nodes) && new Set(cluster.nodes).size !== cluster.nodes.length) {
      problems.push(`clusters.${name}.nodes: an address is listed twice`);
    }
    problems.push(...hostProblems(name, cluster, runtimes));
  }
  for (const [name, raw] of Object.entries(asRecord(root?.proxies) ?? {})) {
    const runtime = asRecord(raw)?.runtime;
    if (typeof runtime !== 'string') continue;
    const type = asRecord(asRecord(root?.runtimes)?.[runtime])?.type;
    if (!runtimes.includes(runtime)) problems.push(`proxies.${name}.runtime: no runtime "${runtime}" under "runtimes" (have: ${runtimes.join(', ') || 'none'})`);
    else if (type !== 'docker') problems.push(`proxies.${name}.runtime: runtime "${runtime}" is of type ${String(type)}; a proxy runs in a container, so name a runtime of type docker`);
  }
  return problems;
}

/** A cluster's `hosts` and `scratchHost` against its nodes, spares and the runtimes. */
function hostProblems(name: string, cluster: Loose, runtimes: string[]): string[] {
  const hosts = asRecord(cluster?.hosts);
  const field = `clusters.${name}.hosts`;
  if (!hosts) {
    return typeof cluster?.scratchHost === 'string' ? [`clusters.${name}.scratchHost: names a host, but the cluster has no "hosts" map`] : [];
  }
  const problems: string[] = [];
  const map: Record<string, string[]> = {};
  for (const [host, raw] of Object.entries(hosts)) {
    const entry = asRecord(raw);
    if (!HOST_NAME.test(host)) problems.push(`${field}: "${host}" is not a host name: use letters, digits, - and _ (at most 64), as \`redisforge worker --host\` is given it`);
    map[host] = Array.isArray(entry?.nodes) ? entry.nodes.filter((n): n is string => typeof n === 'string') : [];
    if (typeof entry?.runtime === 'string' && !runtimes.includes(entry.runtime)) {
      problems.push(`${field}.${host}.runtime: no runtime "${entry.runtime}" under "runtimes" (have: ${runtimes.join(', ') || 'none'})`);
    }
  }
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []);
  problems.push(...hostMapProblems(field, map, strings(cluster?.nodes), strings(cluster?.spareNodes)));
  if (typeof cluster?.scratchHost === 'string' && !Object.hasOwn(map, cluster.scratchHost)) {
    problems.push(`clusters.${name}.scratchHost: no host "${cluster.scratchHost}" under ${field} (have: ${Object.keys(map).join(', ')})`);
  }
  if (cluster?.scratchPorts !== undefined && typeof cluster?.scratchHost !== 'string') {
    problems.push(`clusters.${name}.scratchHost: the cluster has hosts and scratchPorts: name the host whose agent runs verifyBackup's scratch clusters (one of ${Object.keys(map).join(', ')})`);
  }
  return problems;
}

/** Validates parsed JSON; relative paths are resolved against `baseDir`. */
export function parseInventory(data: unknown, file = '<inline>', baseDir = process.cwd()): Inventory {
  const result = inventorySchema.safeParse(data);
  const problems = [...(result.success ? [] : formatIssues(result.error)), ...crossReferenceProblems(data)];
  if (!result.success || problems.length > 0) throw new InventoryError(file, problems);
  const inv = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  for (const runtime of Object.values(inv.runtimes)) {
    if (runtime.type === 'process') runtime.baseDir = abs(runtime.baseDir);
    if (runtime.type === 'docker' && runtime.sshKnownHostsFile) runtime.sshKnownHostsFile = abs(runtime.sshKnownHostsFile);
    if (runtime.type === 'docker' && runtime.tls) {
      for (const k of ['caFile', 'certFile', 'keyFile'] as const) if (runtime.tls[k]) runtime.tls[k] = abs(runtime.tls[k]);
    }
  }
  for (const store of Object.values(inv.stores)) if (store.type === 'fs') store.path = abs(store.path);
  for (const cluster of Object.values(inv.clusters)) {
    if (cluster.tls) for (const k of ['caFile', 'certFile', 'keyFile'] as const) if (cluster.tls[k]) cluster.tls[k] = abs(cluster.tls[k]);
    if (cluster.auth.passwordFile) cluster.auth.passwordFile = abs(cluster.auth.passwordFile);
    if (cluster.tls?.server) for (const k of ['caFile', 'certFile', 'keyFile'] as const) if (cluster.tls.server[k]) cluster.tls.server[k] = abs(cluster.tls.server[k]);
    for (const user of cluster.acl ? [cluster.acl.operator, cluster.acl.replication, cluster.acl.application] : []) {
      if (user.passwordFile) user.passwordFile = abs(user.passwordFile);
      if (user.nextPasswordFile) user.nextPasswordFile = abs(user.nextPasswordFile);
    }
  }
  return inv;
}

export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InventoryError(file, [`cannot read the file (${(err as Error).message}); set REDISFORGE_INVENTORY to its path`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InventoryError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseInventory(data, file, dirname(resolve(file)));
}

/** Where the worker reads its inventory: REDISFORGE_INVENTORY, else ./redisforge.json. */
export function inventoryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDISFORGE_INVENTORY ?? resolve('redisforge.json');
}
