/**
 * The test run's fixed layout: one Temporal dev server, one worker on `redisforge-ops`, and the
 * clusters below, all on 127.0.0.1 ports that the demo (7001-7010, 7233, 8233) never uses.
 * Redis bus ports are port + 10000.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { tlsInventory } from './tls';
import { aclInventory } from './acl';
import { ports } from './ports';

export const ROOT = resolve(__dirname, '..', '..');
/**
 * REDISFORGE_TEST_INSTANCE=N (N>0) runs a second test run beside the first: its own state
 * folder and Temporal and S3 ports. Redis ports stay fixed per cluster, so two runs must run
 * different test files (different clusters). Docker containers are left to instance 0.
 */
export const TEST_INSTANCE = Number(process.env.REDISFORGE_TEST_INSTANCE ?? 0);
export const STATE_DIR = join(ROOT, '.state', TEST_INSTANCE ? `test-${TEST_INSTANCE}` : 'test');
// 100 apart: the dev server also takes port+10 (HTTP) and port+20 (metrics).
export const TEMPORAL_PORT = 17233 + TEST_INSTANCE * 100;
export const TEMPORAL_ADDRESS = `127.0.0.1:${TEMPORAL_PORT}`;
export const TEMPORAL_UI_PORT = 18233 + TEST_INSTANCE * 100;
export const TASK_QUEUE = 'redisforge-ops';
export const BUNDLE_PATH = join(STATE_DIR, 'workflow-bundle.js');
export const INVENTORY_PATH = join(STATE_DIR, 'inventory.json');
export const RUN_INFO_PATH = join(STATE_DIR, 'run.json');
export const NODES_DIR = join(STATE_DIR, 'nodes');
export const WRONG_PASSWORD_ENV = 'REDISFORGE_TEST_WRONG_PASSWORD';
export const NODE_TIMEOUT_MS = 2000;
/** The S3-compatible server (versitygw) the run starts, its bucket and test-only keys. */
export const S3_PORT = 19000 + TEST_INSTANCE * 100;
export const S3_ENDPOINT = `http://127.0.0.1:${S3_PORT}`;
export const S3_BUCKET = 'redisforge-test';
export const S3_ACCESS_KEY = 'redisforge-test';
export const S3_SECRET_KEY = 'redisforge-test-secret';
/** The image registry the Valkey container suite starts (test/harness/registry.ts) and its test-only user. */
export const REGISTRY_PORT = 19060 + TEST_INSTANCE * 100;
export const REGISTRY = `127.0.0.1:${REGISTRY_PORT}`;
export const REGISTRY_USER = 'redisforge-test';
export const REGISTRY_PASSWORD = 'redisforge-registry-secret';
export const REGISTRY_USER_ENV = 'REDISFORGE_TEST_REGISTRY_USER';
export const REGISTRY_PASSWORD_ENV = 'REDISFORGE_TEST_REGISTRY_PASSWORD';
/** Where the run's worker serves Prometheus metrics, and the Prometheus the metrics suite starts. */
export const WORKER_METRICS_ADDRESS = `127.0.0.1:${19070 + TEST_INSTANCE * 100}`;
export const PROMETHEUS_PORT = 19080 + TEST_INSTANCE * 100;
/** verifyBackup's scratch clusters: their mkdtemp directories, and the range the drills' clusters reserve. */
export const SCRATCH_DIR = join(STATE_DIR, 'scratch');
export const SCRATCH_BASE_PORT = 21091;
export const SCRATCH_PORTS = '21091-21099';
const CACHE = process.env.REDISFORGE_CACHE ?? join(homedir(), '.cache', 'redisforge');
export const REDIS_8_BINARY = join(CACHE, 'redis-8.0.2', 'redis-server');
/** Valkey 8.1 for the process runtime (scripts/build-valkey.sh). */
export const VALKEY_81_BINARY = join(CACHE, 'valkey-8.1', 'valkey-server');

/** Clusters the tests create; each test file owns one (see test/harness/cluster.ts). */
export const TEST_CLUSTERS = {
  /** Healthy-path checks, CLI, history; problems planted here are undone by the test. */
  health: { nodes: ports(21001), runtime: 'process' },
  /** Destructive: nodes are stopped. */
  outage: { nodes: ports(21011), runtime: 'process' },
  /** createCluster's own tests: dry runs, re-runs, refusals. */
  forming: { nodes: ports(21021), runtime: 'process' },
  /** Failover drills on local processes. */
  failover: { nodes: ports(21031), runtime: 'process' },
  /** The worker is killed in the middle of a drill. */
  chaos: { nodes: ports(21041), runtime: 'process' },
  /** addNode, removeNode and rebalance; 21057-21058 are added by the tests. */
  scaling: { nodes: ports(21051), runtime: 'process' },
  /** Rebalance crashes, pause and abort. */
  reshard: { nodes: ports(21061), runtime: 'process' },
  /** Backups (with an automatic AOF rewrite due at 1 MB) and restores onto the same nodes. */
  backup: { nodes: ports(21071), runtime: 'process' },
  /** Restores of `backup`'s backups onto other addresses; formed by the restore. */
  restored: { nodes: ports(21081), runtime: 'process' },
  /** repairCluster and routingCheck: nodes stopped and destroyed, slots left open. */
  repair: { nodes: ports(21101), runtime: 'process' },
  /** upgradeRedis on local processes, between the 7.0.15 and 8.0.2 binaries. */
  upgrade: { nodes: ports(21111), runtime: 'process' },
  /** A restore onto another shape: four nodes for a backup of six. */
  reshape: { nodes: ports(21131, 4), runtime: 'process' },
  /** The one-operation-per-cluster guard. */
  guard: { nodes: ports(21121), runtime: 'process' },
  /** The fault matrix (README): each suite owns one; 7-9 above the first port are for added nodes. */
  'fault-scaling': { nodes: ports(21201), runtime: 'process' },
  'fault-failover': { nodes: ports(21211), runtime: 'process' },
  'fault-upgrade': { nodes: ports(21221), runtime: 'process' },
  'fault-backup': { nodes: ports(21231), runtime: 'process' },
  'fault-repair': { nodes: ports(21241), runtime: 'process' },
  'fault-core': { nodes: ports(21251), runtime: 'process' },
  /** The packed tarball's worker runs clusterHealth here (test/integration/package.test.ts). */
  package: { nodes: ports(21401), runtime: 'process' },
  /** scripts/deploy.sh redis: .env and upgradeRedis together (test/integration/deploy.test.ts). */
  deploy: { nodes: ports(21411), runtime: 'process' },
  /** clusterHealth and a restore started from the Web UI's Start Workflow form (test/integration/webuiStart.test.ts). */
  'webui-start': { nodes: ports(21421), runtime: 'process' },
  /** The worker's metrics read back through Prometheus after real operations (test/integration/metrics.test.ts). */
  metrics: { nodes: ports(21441), runtime: 'process' },
  /** clusterHealth's diagnosis (a planted big key, a skewed shard, a lagging replica) and capacity-aware rebalance (test/integration/diagnosis.test.ts). */
  diagnosis: { nodes: ports(21451), runtime: 'process' },
  /** upgradeRedis from Redis 7.0.15 to Valkey 8.1 on local processes (test/integration/valkey.test.ts). */
  valkey: { nodes: ports(21431), runtime: 'process' },
  /** Failover drills and replace on containers. */
  docker: { nodes: ports(22001), runtime: 'docker' },
  /** upgradeRedis on containers, 7.0.15 -> 8.0.2. */
  'docker-upgrade': { nodes: ports(22011), runtime: 'docker' },
  /** upgradeRedis on containers from redisforge/redis:7.0.15 to Valkey 8.1 pulled from a registry (test/docker/valkey.test.ts). */
  'docker-valkey': { nodes: ports(22031), runtime: 'docker' },
} as const;

export type TestClusterName = keyof typeof TEST_CLUSTERS;

export function testInventory() {
  const clusters: Record<string, unknown> = {};
  const runtimes: Record<string, unknown> = {};
  for (const [name, { nodes, runtime }] of Object.entries(TEST_CLUSTERS)) {
    // The fault suites run with the production default timeouts (commandTimeoutMs 5000), as the issue asks.
    // The three ports after a cluster's nodes are where its tests add nodes.
    const last = Number(nodes[nodes.length - 1]!.split(':')[1]);
    const spareNodes = [`127.0.0.1:${last + 1}-${last + 3}`];
    clusters[name] = { nodes, masters: 3, replicasPerMaster: 1, runtime: `nodes-${name}`, spareNodes, ...(name.startsWith('fault-') ? {} : { commandTimeoutMs: 2000 }) };
    runtimes[`nodes-${name}`] =
      runtime === 'process'
        ? {
            type: 'process', baseDir: join(NODES_DIR, name), versions: { '7.0.15': 'redis-server', '8.0.2': REDIS_8_BINARY, ...(name === 'valkey' ? { 'valkey-8.1': VALKEY_81_BINARY } : {}) }, defaultVersion: '7.0.15', nodeTimeoutMs: NODE_TIMEOUT_MS,
            // The chaos tests SIGKILL a node that just received keys: with the default everysec, up to a second of them would be lost.
            extraConfig: name === 'chaos' ? { appendfsync: 'always' } : name === 'backup' ? { 'auto-aof-rewrite-min-size': '1mb' } : {},
          }
        : {
            type: 'docker', image: 'redisforge/redis', defaultVersion: '7.0.15', nodeTimeoutMs: NODE_TIMEOUT_MS, extraConfig: { 'repl-diskless-sync-delay': '0' },
            // Valkey comes from the run's registry (another repository than `image`): its version
            // names map to whole references there; valkey-9.0 was never pushed.
            ...(name === 'docker-valkey'
              ? { images: { 'valkey-8.1': `${REGISTRY}/redisforge/valkey:8.1`, 'valkey-9.0': `${REGISTRY}/redisforge/valkey:9.0` }, registryAuth: { usernameEnv: REGISTRY_USER_ENV, passwordEnv: REGISTRY_PASSWORD_ENV } }
              : {}),
          };
  }
  // The same nodes as `health`, reached with a wrong password.
  clusters['health-wrongpass'] = { nodes: TEST_CLUSTERS.health.nodes, runtime: 'nodes-health', auth: { passwordEnv: WRONG_PASSWORD_ENV }, commandTimeoutMs: 2000 };
  // A cluster without a runtime: drills that stop nodes are refused.
  clusters['no-runtime'] = { nodes: TEST_CLUSTERS.failover.nodes, commandTimeoutMs: 2000 };
  (clusters.backup as Record<string, unknown>).backupStore = 'local';
  (clusters.restored as Record<string, unknown>).backupStore = 's3';
  (clusters['fault-backup'] as Record<string, unknown>).backupStore = 'local';
  (clusters['fault-core'] as Record<string, unknown>).backupStore = 'local';
  (clusters.valkey as Record<string, unknown>).backupStore = 'local';
  (clusters['webui-start'] as Record<string, unknown>).backupStore = 'local';
  (clusters.metrics as Record<string, unknown>).backupStore = 'local';
  // The clusters whose tests run verifyBackup drills (one at a time: the port check refuses a second).
  for (const name of ['backup', 'fault-backup']) (clusters[name] as Record<string, unknown>).scratchPorts = SCRATCH_PORTS;
  // The same nodes as `backup`, with a scratch range over live nodes: a drill on it is refused.
  clusters['scratch-overlap'] = { ...(clusters.backup as Record<string, unknown>), scratchPorts: '21071-21099' };
  // routingCheck goes through it: the repair tests start a pass-through proxy there.
  (clusters.repair as Record<string, unknown>).clientEndpoint = '127.0.0.1:21109';
  const stores = {
    local: { type: 'fs', path: join(STATE_DIR, 'backups') },
    s3: { type: 's3', bucket: S3_BUCKET, prefix: 'backups', endpoint: S3_ENDPOINT, forcePathStyle: true },
  };
  Object.assign(clusters, multiHostInventory().clusters);
  Object.assign(runtimes, multiHostInventory().runtimes);
  // The security suites' clusters are described beside their certificates and users.
  for (const extra of [tlsInventory(), aclInventory()]) {
    Object.assign(clusters, extra.clusters);
    Object.assign(runtimes, extra.runtimes);
  }
  return { clusters, runtimes, stores };
}

/** The multi-host suite's hosts (network namespaces, test/harness/netns.ts): h1..h3 at 198.18.<instance>.1-3. */
export const MULTIHOST_HOSTS = ['h1', 'h2', 'h3'] as const;
export const multiHostIp = (host: string) => `198.18.${TEST_INSTANCE}.${Number(host.slice(1))}`;
/**
 * Two clusters over the three hosts, two nodes of each on every host (the same ports on each, as
 * on real machines) and three spare ports: `multihost` (21501-21502) and `multihost-b`
 * (21511-21512, listed from h2 on, so a restore of multihost's backup puts shards on other hosts).
 * One process runtime per host, each with its own directory; the drills run on h3.
 */
export function multiHostInventory() {
  const runtimes: Record<string, unknown> = {};
  for (const host of MULTIHOST_HOSTS) {
    runtimes[`nodes-multihost-${host}`] = { type: 'process', baseDir: join(NODES_DIR, 'multihost', host), versions: { '7.0.15': 'redis-server', '8.0.2': REDIS_8_BINARY }, defaultVersion: '7.0.15', nodeTimeoutMs: NODE_TIMEOUT_MS };
  }
  const cluster = (first: number, order: readonly string[]) => ({
    nodes: [0, 1].flatMap((i) => order.map((h) => `${multiHostIp(h)}:${first + i}`)),
    masters: 3,
    replicasPerMaster: 1,
    runtime: 'nodes-multihost-h1',
    spareNodes: order.map((h) => `${multiHostIp(h)}:${first + 2}-${first + 4}`),
    hosts: Object.fromEntries(order.map((h) => [h, { nodes: [`${multiHostIp(h)}:${first}`, `${multiHostIp(h)}:${first + 1}`, `${multiHostIp(h)}:${first + 2}-${first + 4}`], runtime: `nodes-multihost-${h}` }])),
    hostAgentWaitSeconds: 15,
    commandTimeoutMs: 2000,
    backupStore: 'local',
  });
  return {
    clusters: {
      multihost: { ...cluster(21501, MULTIHOST_HOSTS), scratchPorts: '21591-21599', scratchHost: 'h3' },
      'multihost-b': cluster(21511, ['h2', 'h3', 'h1']),
    },
    runtimes,
  };
}

export interface RunInfo {
  password: string;
  temporalPid: number;
  workerPid: number;
  dockerAvailable: boolean;
  s3Available: boolean;
  codecKey?: string;
}

export function runInfo(): RunInfo {
  return JSON.parse(readFileSync(RUN_INFO_PATH, 'utf8')) as RunInfo;
}
