/**
 * verifyBackup's scratch clusters on this worker's machine: allocated inside the port range the
 * inventory reserves (no port in use, none an inventory address), in a mkdtemp directory (0700)
 * under the worker's state directory, recorded there so that only what this worker allocated is
 * ever resolved, checked by node id once started, and removed exactly as allocated.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { nodesConfNodes, parseNodesConf, splitAddress } from '../cluster';
import { planScratchPorts, SCRATCH_ID, SCRATCH_PREFIX, scratchAddresses, scratchAllocationSchema, type ScratchAllocation, type TakenPorts } from '../cluster/scratch';
import type { ClusterConfig, Inventory } from '../config';
import { formatIssues } from '../validation';
import type { NodeRuntime } from '../runtime';
import type { NodeConnector } from './redis/connection';

const RECORD = 'allocation.json';

/**
 * Where scratch clusters live: <REDISFORGE_STATE_DIR>/scratch; else REDISFORGE_SCRATCH_DIR itself
 * (what earlier workers used); else ~/.local/state/redisforge/scratch. Never a shared temp path.
 */
export function scratchRoot(env: NodeJS.ProcessEnv): string {
  if (env.REDISFORGE_STATE_DIR) return join(env.REDISFORGE_STATE_DIR, 'scratch');
  if (env.REDISFORGE_SCRATCH_DIR) return env.REDISFORGE_SCRATCH_DIR;
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'redisforge', 'scratch');
}

function failure(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, nonRetryable: true, message });
}

/** The allocation recorded under `root` for `name`, or undefined when this worker made none. */
export function readScratchRecord(root: string, name: string): ScratchAllocation | undefined {
  const id = name.slice(SCRATCH_PREFIX.length);
  if (!name.startsWith(SCRATCH_PREFIX) || !SCRATCH_ID.test(id)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(root, id, RECORD), 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = scratchAllocationSchema.safeParse(raw);
  return parsed.success && parsed.data.name === name && parsed.data.dir === join(root, id) ? parsed.data : undefined;
}

/** Every port an inventory address takes: nodes, spare ranges, client endpoints, proxies. */
function inventoryPorts(inventory: Inventory): TakenPorts[] {
  const taken: TakenPorts[] = [];
  const add = (entry: string, what: string) => {
    const [first, last = first] = entry.slice(entry.lastIndexOf(':') + 1).split('-').map(Number) as [number, number?];
    taken.push({ first, last: last!, what: `${what} ${entry}` });
  };
  for (const [name, c] of Object.entries(inventory.clusters)) {
    for (const n of c.nodes) add(n, `cluster ${name}'s node`);
    for (const s of c.spareNodes) add(s, `cluster ${name}'s spare addresses`);
    if (c.clientEndpoint) add(c.clientEndpoint, `cluster ${name}'s client endpoint`);
  }
  for (const [name, p] of Object.entries(inventory.proxies)) add(p.address, `proxy ${name}`);
  return taken;
}

/** Whether something already listens on 127.0.0.1:port (or on every address): a bind is refused. */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** Whether process `candidate` holds the socket listening on 127.0.0.1:port (from /proc/net/tcp and its fds). */
async function listensOn(port: number, candidate: number): Promise<boolean> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = table
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === local && f[3] === '0A')
    .map((f) => `socket:[${f[9]}]`);
  if (inodes.length === 0) return false;
  const fds = await readdir(`/proc/${candidate}/fd`).catch(() => []);
  for (const fd of fds) if (inodes.includes(await readlink(`/proc/${candidate}/fd/${fd}`).catch(() => ''))) return true;
  return false;
}

export function createScratchActivities(deps: {
  inventory: Inventory;
  env: NodeJS.ProcessEnv;
  clusterConfig: (name: string) => ClusterConfig;
  runtimeFor: (name: string) => NodeRuntime;
  connectorFor: (name: string) => NodeConnector;
  /** Drops the cached runtime and connector of a removed scratch cluster. */
  forget: (name: string) => void;
  /** The host this worker is the agent of; a source with `hosts` has its drills only on its scratchHost. */
  host?: string;
}) {
  const root = scratchRoot(deps.env);
  return {
    /**
     * Reserves the ports and directory of a scratch cluster for a drill: a retry of the same
     * workflow gets its own allocation back. Refused (nothing started) when the source has no
     * scratchPorts, basePort is outside them, or a port is an inventory address or in use.
     */
    async allocateScratchCluster(req: { source: string; basePort?: number; masters: number; replicasPerMaster: number; workflowId: string }): Promise<ScratchAllocation> {
      const config = deps.clusterConfig(req.source);
      const field = `clusters.${req.source}.scratchPorts`;
      if (!config.scratchPorts) {
        throw failure('InvalidInput', `${field}: not set in the worker's inventory: verifyBackup restores only onto ports reserved there for scratch nodes; add e.g. "scratchPorts": "40001-40100" (a range no cluster uses, bus ports 10000 higher)`);
      }
      if (config.hosts && deps.host !== config.scratchHost) {
        throw failure(
          'WrongHost',
          `clusters.${req.source}.scratchHost is ${config.scratchHost}: its drills run only in that host's agent (redisforge worker --host ${config.scratchHost}); this is ${deps.host ? `the agent of host ${deps.host}` : 'the central worker'}, so nothing was started`,
        );
      }
      await mkdir(root, { recursive: true, mode: 0o700 });
      for (const id of await readdir(root)) {
        const mine = readScratchRecord(root, `${SCRATCH_PREFIX}${id}`);
        if (mine?.workflowId === req.workflowId) return mine;
      }
      const count = req.masters * (1 + req.replicasPerMaster);
      const plan = planScratchPorts({ range: config.scratchPorts, field, basePort: req.basePort, count, taken: inventoryPorts(deps.inventory) });
      if ('problem' in plan) throw failure('InvalidInput', plan.problem);
      for (const p of plan.ports) {
        for (const port of [p, p + 10_000]) {
          if (await portInUse(port)) {
            throw failure('PreflightFailed', `scratch port 127.0.0.1:${port}${port !== p ? ` (bus port of ${p})` : ''} is in use: something listens there, so the drill starts nothing and connects to nothing; pass another basePort inside ${field} (${config.scratchPorts}) or stop what listens`);
          }
        }
      }
      // mkdtemp: a fresh 0700 directory nobody could have prepared (no planted redis.conf).
      const dir = await mkdtemp(join(root, `${req.source}-`));
      const allocation: ScratchAllocation = {
        name: `${SCRATCH_PREFIX}${basename(dir)}`,
        source: req.source,
        workflowId: req.workflowId,
        masters: req.masters,
        replicasPerMaster: req.replicasPerMaster,
        ports: plan.ports,
        dir,
        ...(config.hosts && deps.host ? { host: deps.host } : {}),
      };
      await writeFile(join(dir, RECORD), JSON.stringify(allocation), { mode: 0o600, flag: 'wx' });
      return allocation;
    },

    /**
     * After start: each scratch port is served by the redis-server this worker started in the
     * allocation's directory, and it is the node the restore wrote (nodes.conf and CLUSTER MYID
     * give the expected id). The listener is checked before any connection, so no password goes
     * to a stranger.
     */
    async confirmScratchNodes(name: string, expected: Record<string, string>): Promise<{ confirmed: string[] }> {
      const allocation = readScratchRecord(root, name);
      if (!allocation) throw failure('InvalidInput', `${name} is not a scratch cluster this worker allocated`);
      const mismatch = (address: string, why: string) => failure('ScratchNodeMismatch', `scratch node ${address} is not the node the restore wrote: ${why}; the drill is stopped and its scratch cluster removed`);
      for (const address of scratchAddresses(allocation)) {
        const want = expected[address];
        if (!want) throw mismatch(address, 'the restore plan has no node for it');
        const nodeDir = join(allocation.dir, String(splitAddress(address).port));
        const pid = Number((await readFile(join(nodeDir, 'redis.pid'), 'utf8').catch(() => '')).trim());
        if (!(pid > 0) || !(await listensOn(splitAddress(address).port, pid))) throw mismatch(address, `the redis-server started in ${nodeDir} (pid ${pid || 'none'}) does not listen there`);
        const conf = await readFile(join(nodeDir, 'nodes.conf'), 'utf8').catch(() => '');
        const own = nodesConfNodes(parseNodesConf(conf)).find((n) => n.myself)?.id;
        if (own !== want) throw mismatch(address, `its nodes.conf names ${own ?? 'no node'} as itself, the backup's node is ${want}`);
        const id = String(await deps.connectorFor(name).withNode(address, (r) => r.call('CLUSTER', 'MYID')));
        if (id !== want) throw mismatch(address, `CLUSTER MYID answers ${id}, the backup's node is ${want}`);
      }
      return { confirmed: scratchAddresses(allocation) };
    },

    /** Stops the scratch nodes and removes the directory, exactly as allocated; a no-op once gone. */
    async destroyScratchCluster(raw: ScratchAllocation): Promise<{ removed: string[] }> {
      const parsed = scratchAllocationSchema.safeParse(raw);
      if (!parsed.success) throw failure('InvalidInput', `scratch allocation: ${formatIssues(parsed.error).join('; ')}`);
      const given = parsed.data;
      if (dirname(given.dir) !== root) throw failure('InvalidInput', `scratch allocation: dir ${given.dir} is not under this worker's scratch directory ${root}`);
      const recorded = readScratchRecord(root, given.name);
      if (!recorded) {
        // Gone already (a retry after the removal), or never made: nothing of it to remove.
        deps.forget(given.name);
        return { removed: [] };
      }
      if (JSON.stringify(recorded) !== JSON.stringify(given)) throw failure('InvalidInput', `scratch allocation ${given.name} differs from what this worker recorded for it; nothing removed`);
      // The runtime kills only the redis-servers whose pid files are in the allocation's directory.
      const runtime = deps.runtimeFor(given.name);
      for (const address of scratchAddresses(given)) await runtime.kill(address);
      await rm(given.dir, { recursive: true, force: true });
      deps.forget(given.name);
      return { removed: scratchAddresses(given) };
    },
  };
}
