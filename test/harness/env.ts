/**
 * The test run's fixed layout: one Temporal dev server, one worker on `redisforge-ops`, and the
 * clusters below, all on 127.0.0.1 ports that the demo (7001-7010, 7233, 8233) never uses.
 * Redis bus ports are port + 10000.
 */
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const STATE_DIR = join(ROOT, '.state', 'test');
export const TEMPORAL_PORT = 17233;
export const TEMPORAL_ADDRESS = `127.0.0.1:${TEMPORAL_PORT}`;
export const TEMPORAL_UI_PORT = 18233;
export const TASK_QUEUE = 'redisforge-ops';
export const BUNDLE_PATH = join(STATE_DIR, 'workflow-bundle.js');
export const INVENTORY_PATH = join(STATE_DIR, 'inventory.json');
export const RUN_INFO_PATH = join(STATE_DIR, 'run.json');
export const NODES_DIR = join(STATE_DIR, 'nodes');
export const WRONG_PASSWORD_ENV = 'REDISFORGE_TEST_WRONG_PASSWORD';
export const NODE_TIMEOUT_MS = 2000;

function ports(first: number, count = 6): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.1:${first + i}`);
}

/** Clusters the tests create; each test file owns one (see test/harness/cluster.ts). */
export const TEST_CLUSTERS = {
  /** Healthy-path checks, CLI, history; problems planted here are undone by the test. */
  health: ports(21001),
  /** Destructive: nodes are stopped. */
  outage: ports(21011),
  /** createCluster's own tests: dry runs, re-runs, refusals. */
  forming: ports(21021),
} as const;

export type TestClusterName = keyof typeof TEST_CLUSTERS;

export function testInventory() {
  const clusters: Record<string, unknown> = {};
  for (const [name, nodes] of Object.entries(TEST_CLUSTERS)) {
    clusters[name] = { nodes, masters: 3, replicasPerMaster: 1, runtime: `nodes-${name}`, commandTimeoutMs: 2000 };
  }
  // The same nodes as `health`, reached with a wrong password.
  clusters['health-wrongpass'] = { nodes: TEST_CLUSTERS.health, runtime: 'nodes-health', auth: { passwordEnv: WRONG_PASSWORD_ENV }, commandTimeoutMs: 2000 };
  const runtimes = Object.fromEntries(
    Object.keys(TEST_CLUSTERS).map((name) => [
      `nodes-${name}`,
      { type: 'process', baseDir: join(NODES_DIR, name), versions: { default: 'redis-server' }, defaultVersion: 'default', nodeTimeoutMs: NODE_TIMEOUT_MS },
    ]),
  );
  return { clusters, runtimes, stores: { local: { type: 'fs', path: join(STATE_DIR, 'backups') } } };
}

export interface RunInfo {
  password: string;
  temporalPid: number;
  workerPid: number;
}
