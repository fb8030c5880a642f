/** The layout createCluster builds: which nodes are masters, their slots, and who replicates whom. */
import { hostOf } from './address';
import { countSlots, formatSlotRanges, parseSlotRange, splitSlotsEvenly } from './slots';

export interface PlannedMaster {
  address: string;
  /** ADDSLOTSRANGE arguments, e.g. "0-5460". */
  slots: string;
  /** A distinct configEpoch per master, as redis-cli --cluster create sets them. */
  configEpoch: number;
}

export interface PlannedReplica {
  address: string;
  masterAddress: string;
}

export interface ClusterLayout {
  masters: PlannedMaster[];
  replicas: PlannedReplica[];
}

export const MIN_MASTERS = 3;

/**
 * Plans a cluster of `addresses` with `replicasPerMaster` replicas per master. Masters are
 * picked round-robin across hosts and each replica on another host than its master where the
 * hosts allow, so one lost host does not take a master and its replica together. Nodes beyond
 * masters * (1 + replicasPerMaster) become extra replicas.
 */
export function planClusterLayout(addresses: readonly string[], replicasPerMaster: number): ClusterLayout {
  const unique = new Set(addresses);
  if (unique.size !== addresses.length) throw new Error('nodes: an address is listed twice');
  const masterCount = Math.floor(addresses.length / (1 + replicasPerMaster));
  if (masterCount < MIN_MASTERS) {
    throw new Error(
      `nodes: ${addresses.length} nodes with ${replicasPerMaster} replica(s) per master give ${masterCount} masters; ` +
        `a cluster needs at least ${MIN_MASTERS} masters, so give at least ${MIN_MASTERS * (1 + replicasPerMaster)} nodes`,
    );
  }

  const byHost = new Map<string, string[]>();
  for (const a of addresses) byHost.set(hostOf(a), [...(byHost.get(hostOf(a)) ?? []), a]);
  const interleaved: string[] = [];
  const queues = [...byHost.values()].map((q) => [...q]);
  while (queues.some((q) => q.length > 0)) for (const q of queues) if (q.length > 0) interleaved.push(q.shift()!);

  const masterAddresses = interleaved.slice(0, masterCount);
  const ranges = splitSlotsEvenly(masterCount);
  const masters = masterAddresses.map((address, i) => ({ address, slots: formatSlotRanges([ranges[i]!]), configEpoch: i + 1 }));

  // Replica j goes to master j+1 (round-robin, shifted by one): with the interleaved order
  // that puts replicas on another host whenever there are two hosts or more. A swap pass
  // repairs what uneven host sizes leave on the same host.
  const replicas: PlannedReplica[] = interleaved
    .slice(masterCount)
    .map((address, j) => ({ address, masterAddress: masterAddresses[(j + 1) % masterCount]! }));
  const sameHost = (r: PlannedReplica, master: string) => hostOf(r.address) === hostOf(master);
  for (const r of replicas) {
    if (!sameHost(r, r.masterAddress)) continue;
    const other = replicas.find((o) => o !== r && !sameHost(o, r.masterAddress) && !sameHost(r, o.masterAddress));
    if (other) [r.masterAddress, other.masterAddress] = [other.masterAddress, r.masterAddress];
  }
  return { masters, replicas };
}

/** What createCluster learns of a node before touching it. */
export interface NodeProbe {
  address: string;
  error?: string;
  id?: string;
  /** Addresses of the other nodes this node knows. */
  knows: string[];
  slotCount: number;
  keys: number;
  role?: 'master' | 'replica';
  masterAddress?: string;
}

/**
 * Problems that forbid building a cluster from these nodes. A node may already know some of
 * the others (a createCluster that was interrupted and is running again), never an outsider.
 */
export function createClusterPreflight(probes: readonly NodeProbe[]): string[] {
  const members = new Set(probes.map((p) => p.address));
  const problems: string[] = [];
  for (const p of probes) {
    if (p.error) {
      problems.push(`${p.address}: cannot be queried (${p.error})`);
      continue;
    }
    const outsiders = p.knows.filter((a) => !members.has(a));
    if (outsiders.length > 0) {
      problems.push(`${p.address}: already belongs to another cluster (knows ${outsiders.join(', ')}); run CLUSTER RESET on it or leave it out`);
    }
    if (p.keys > 0) problems.push(`${p.address}: holds ${p.keys} keys; createCluster only builds from empty nodes (FLUSHALL it or leave it out)`);
  }
  return problems;
}

/** Whether the nodes already form exactly the planned layout (a re-run of a finished createCluster). */
export function layoutInPlace(layout: ClusterLayout, probes: readonly NodeProbe[]): boolean {
  const byAddress = new Map(probes.map((p) => [p.address, p] as const));
  const everyoneKnowsAll = probes.every((p) => p.knows.length === probes.length - 1);
  return (
    everyoneKnowsAll &&
    layout.masters.every((m) => byAddress.get(m.address)?.role === 'master' && byAddress.get(m.address)?.slotCount === countSlots([parseSlotRange(m.slots)])) &&
    layout.replicas.every((r) => byAddress.get(r.address)?.masterAddress === r.masterAddress)
  );
}
