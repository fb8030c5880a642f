/**
 * verifyBackup's scratch clusters: never named by an input. The worker allocates one inside the
 * port range its inventory reserves for the source cluster, in a fresh private directory, and
 * the drill carries that allocation's description (no secrets) to the restore and the teardown.
 * Pure: the port choice and the shape of an allocation, shared by the workflows and activities.
 */
import { z } from 'zod';

/** What a drill carries of its scratch cluster: which ports and which directory, nothing secret. */
export interface ScratchAllocation {
  /** The name activities know it by: "scratch:" and the directory's name. Not a valid input name. */
  name: string;
  /** The inventory cluster whose backup it restores (its credentials and binaries). */
  source: string;
  /** The workflow (verifyBackup) that allocated it. */
  workflowId: string;
  masters: number;
  replicasPerMaster: number;
  /** One port per node on 127.0.0.1; bus ports are 10000 higher. */
  ports: number[];
  /** The node directories' parent, made by mkdtemp (0700) under the worker's state directory. */
  dir: string;
  /**
   * The host agent that allocated it (the source's scratchHost), which runs every step of the
   * drill on it; absent: the worker's own machine.
   */
  host?: string;
}

export const SCRATCH_PREFIX = 'scratch:';
/** The directory's name, as mkdtemp makes it: the source's name, a dash, six random characters. */
export const SCRATCH_ID = /^[A-Za-z0-9_-]{1,120}$/;

const port = z.int().min(1024).max(55_535);

/** Validates an allocation handed back to a workflow or read from its record on disk. */
export const scratchAllocationSchema = z
  .object({
    name: z.string().regex(/^scratch:[A-Za-z0-9_-]{1,120}$/, 'expected "scratch:<directory name>", as allocateScratchCluster returns it'),
    source: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected an inventory cluster name'),
    workflowId: z.string().min(1),
    masters: z.int().min(1).max(64),
    replicasPerMaster: z.int().min(0).max(5),
    ports: z.array(port).min(1).max(384),
    dir: z.string().regex(/^\/.+/, 'expected an absolute directory'),
    host: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a host name of the inventory').optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.ports.length !== a.masters * (1 + a.replicasPerMaster)) ctx.addIssue({ code: 'custom', path: ['ports'], message: `expected ${a.masters * (1 + a.replicasPerMaster)} ports for ${a.masters}x${a.replicasPerMaster}` });
    if (new Set(a.ports).size !== a.ports.length) ctx.addIssue({ code: 'custom', path: ['ports'], message: 'a port is listed twice' });
    const id = a.name.slice(SCRATCH_PREFIX.length);
    if (!a.dir.endsWith(`/${id}`)) ctx.addIssue({ code: 'custom', path: ['dir'], message: `expected the directory named by ${a.name}` });
  });

export function scratchAddresses(a: Pick<ScratchAllocation, 'ports'>): string[] {
  return a.ports.map((p) => `127.0.0.1:${p}`);
}

export function isScratchName(name: string): boolean {
  return name.startsWith(SCRATCH_PREFIX);
}

/** "first-last" as the inventory writes scratchPorts. */
export function parsePortRange(range: string): { first: number; last: number } | undefined {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(range);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  // Bus ports (+10000) must be valid too.
  return first >= 1024 && first <= last && last + 10_000 <= 65_535 ? { first, last } : undefined;
}

/** A port an inventory address or range takes (its bus port is counted too). */
export interface TakenPorts {
  first: number;
  last: number;
  /** What it is, for the refusal: "node 127.0.0.1:21071 of cluster backup". */
  what: string;
}

/**
 * The ports of a scratch cluster of `count` nodes from `basePort`, or why not: the block must lie
 * inside the reserved range, and no port of it nor its bus port may be an inventory address's
 * port or bus port (whatever the host: strict, so a drill never reaches a live node).
 */
export function planScratchPorts(req: { range: string; field: string; basePort?: number; count: number; taken: readonly TakenPorts[] }): { ports: number[] } | { problem: string } {
  const range = parsePortRange(req.range);
  if (!range) return { problem: `${req.field}: "${req.range}" is not a usable range: expected "first-last" with 1024 <= first <= last <= 55535 (bus ports are 10000 higher), e.g. "40001-40100"` };
  const base = req.basePort ?? range.first;
  const lastBase = range.last - req.count + 1;
  if (base < range.first || base > lastBase) {
    return {
      problem:
        lastBase < range.first
          ? `${req.field}: ${req.range} has ${range.last - range.first + 1} ports, the scratch cluster needs ${req.count}: widen the range in the worker's inventory`
          : `basePort: ${base} does not fit in ${req.field} (${req.range}) for ${req.count} scratch nodes: pass a basePort from ${range.first} to ${lastBase}`,
    };
  }
  const ports = Array.from({ length: req.count }, (_, i) => base + i);
  for (const p of ports) {
    for (const own of [p, p + 10_000]) {
      const hit = req.taken.find((t) => (own >= t.first && own <= t.last) || (own >= t.first + 10_000 && own <= t.last + 10_000));
      if (hit) return { problem: `${req.field}: scratch port ${p}${own !== p ? ` (bus port ${own})` : ''} would collide with ${hit.what} in the worker's inventory: reserve a range no cluster uses (bus ports are 10000 higher)` };
    }
  }
  return { ports };
}
