/**
 * The run's TLS clusters: a CA, node and client certificates made with openssl in globalSetup,
 * and the inventory entries of the clusters that use them. `tls` (21301-21306, spare
 * 21307-21309) runs the TLS suite; `tls-restored` (21321-21326) is where its backup is restored
 * onto other addresses. Their nodes serve TLS only: a plaintext client is refused.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { parseInventory } from '../../src/config';
import { splitAddress } from '../../src/cluster/address';
import { createRuntime, DockerRuntime, type NodeRuntime } from '../../src/runtime';
import { NODES_DIR, NODE_TIMEOUT_MS, REDIS_8_BINARY, STATE_DIR, testInventory } from './env';
import { ports } from './ports';

/** Where the certificates are (a function: env.ts imports this module, so STATE_DIR is read late). */
export function tlsDir(): string {
  return join(STATE_DIR, 'tls');
}

const file = (name: string) => join(tlsDir(), name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A key and a certificate signed by the run's CA, with the given extensions. */
function issue(name: string, subject: string, extensions: string): void {
  const ext = file(`${name}.ext`);
  execFileSync('sh', ['-c', 'cat > "$0"', ext], { input: extensions });
  openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-out', file(`${name}.crt`), '-extfile', ext);
  chmodSync(file(`${name}.key`), 0o600);
}

/** Makes the CA and the certificates under tlsDir() (globalSetup, before the worker starts). */
export async function prepareTls(): Promise<void> {
  mkdirSync(tlsDir(), { recursive: true, mode: 0o700 });
  openssl('req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=redisforge-test-ca');
  chmodSync(file('ca.key'), 0o600);
  // A node's certificate is also its client certificate (towards its master, on the cluster bus).
  issue('node', '/CN=redisforge-test-node', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  issue('client', '/CN=redisforge-worker', 'extendedKeyUsage=clientAuth\n');
}

export const TLS_CLUSTERS = {
  tls: { nodes: ports(21301, 6), spare: ports(21307, 3), spareNodes: ['127.0.0.1:21307-21309'] },
  'tls-restored': { nodes: ports(21321, 6), spare: ports(21327, 3), spareNodes: ['127.0.0.1:21327-21329'] },
  /** Containers (test/docker/tls.test.ts): the certificates copied into each node's config volume. */
  'docker-tls': { nodes: ports(22021, 6), spare: ports(22027, 3), spareNodes: ['127.0.0.1:22027-22029'] },
} as const;
export type TlsClusterName = keyof typeof TLS_CLUSTERS;

/** The worker's side of the connection: the CA it trusts and its client certificate. */
export function clientTls() {
  return { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') };
}

/** Inventory entries (clusters and runtimes) of the TLS clusters; ports 21301-21330 and 22021-22029. */
export function tlsInventory(): { clusters: Record<string, unknown>; runtimes: Record<string, unknown> } {
  const clusters: Record<string, unknown> = {};
  const runtimes: Record<string, unknown> = {};
  for (const [name, { nodes, spareNodes }] of Object.entries(TLS_CLUSTERS)) {
    clusters[name] = {
      nodes, spareNodes, masters: 3, replicasPerMaster: 1, runtime: `nodes-${name}`, backupStore: 'local', commandTimeoutMs: 2000,
      tls: { ...clientTls(), server: { certFile: file('node.crt'), keyFile: file('node.key') } },
    };
    runtimes[`nodes-${name}`] = name.startsWith('docker')
      ? { type: 'docker', image: 'redisforge/redis', defaultVersion: '7.0.15', nodeTimeoutMs: NODE_TIMEOUT_MS, extraConfig: { 'repl-diskless-sync-delay': '0' } }
      : { type: 'process', baseDir: join(NODES_DIR, name), versions: { '7.0.15': 'redis-server', '8.0.2': REDIS_8_BINARY }, defaultVersion: '7.0.15', nodeTimeoutMs: NODE_TIMEOUT_MS };
  }
  // The same nodes as `tls`, reached without checking their certificates: clusterHealth must say so.
  clusters['tls-unverified'] = {
    nodes: TLS_CLUSTERS.tls.nodes, commandTimeoutMs: 2000,
    tls: { certFile: file('client.crt'), keyFile: file('client.key'), rejectUnauthorized: false, insecure: true },
  };
  return { clusters, runtimes };
}

/** The cluster's runtime as the worker builds it (TLS nodes), for the tests' own provisioning. */
export function tlsRuntime(name: TlsClusterName, password: string): NodeRuntime {
  return createRuntime(parseInventory(testInventory()), name, { password })!;
}

/** Kills whatever ran on the cluster's ports before and starts its six empty TLS nodes. */
export async function startTlsNodes(name: TlsClusterName, password: string): Promise<NodeRuntime> {
  const runtime = tlsRuntime(name, password);
  await removeTlsNodes(name, password);
  await Promise.all(TLS_CLUSTERS[name].nodes.map((n) => runtime.provision(n)));
  return runtime;
}

/** Every node the runtime ran for the cluster, added ones too, killed and removed (containers with their volumes). */
export async function removeTlsNodes(name: TlsClusterName, password: string): Promise<void> {
  const runtime = tlsRuntime(name, password);
  if (runtime instanceof DockerRuntime) {
    await Promise.all([...TLS_CLUSTERS[name].nodes, ...TLS_CLUSTERS[name].spare].map((n) => runtime.deprovision(n)));
    return;
  }
  const dir = join(NODES_DIR, name);
  const added = existsSync(dir) ? readdirSync(dir).map((port) => `127.0.0.1:${port}`) : [];
  await Promise.all([...new Set([...TLS_CLUSTERS[name].nodes, ...TLS_CLUSTERS[name].spare, ...added])].map((n) => runtime.kill(n)));
  rmSync(dir, { recursive: true, force: true });
}

function tlsOptions() {
  const t = clientTls();
  return { ca: readFileSync(t.caFile), cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) };
}

/** A connection to one node over TLS with the client certificate, or in plaintext with `plain`. */
export async function connectNode(address: string, password: string, { plain = false } = {}): Promise<Redis> {
  const { host, port } = splitAddress(address);
  const redis = new Redis({
    host, port, password, tls: plain ? undefined : tlsOptions(),
    lazyConnect: true, connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false,
  });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

export async function withTlsNode<T>(address: string, password: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connectNode(address, password);
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * What a plaintext client gets from a node: the error (refused, reset, timed out), or the
 * PING reply when the node answered it in plaintext (which a TLS-only node must not).
 */
export async function plaintextAttempt(address: string, password: string): Promise<string> {
  try {
    const redis = await connectNode(address, password, { plain: true });
    try {
      return `answered: ${await redis.ping()}`;
    } finally {
      redis.disconnect();
    }
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  }
}

/** A cluster client over TLS, for loading data and reading it back. */
export function tlsClusterClient(seed: string, password: string): Cluster {
  const { host, port } = splitAddress(seed);
  return new Cluster([{ host, port }], { redisOptions: { password, tls: tlsOptions() }, scaleReads: 'master' });
}
