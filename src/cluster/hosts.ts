/**
 * Which host owns which node, for a cluster spread over many machines: the inventory's `hosts`
 * map (host name -> the node addresses and spare entries on it). What touches a node's processes
 * or files runs on its host, in that host's agent (`redisforge worker --host NAME`), reached
 * through the task queue named here. Pure: shared by the workflows, the activities and the worker.
 */
import { addressMatches } from './address';

/** Host name -> the addresses (or spare entries: ranges, CIDRs) of the nodes that run on it. */
export type HostMap = Readonly<Record<string, readonly string[]>>;

export const HOST_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const HOST_TASK_QUEUE_PREFIX = 'redisforge-host-';

/** The task queue a host's agent polls. */
export function hostTaskQueue(host: string): string {
  return `${HOST_TASK_QUEUE_PREFIX}${host}`;
}

/** The hosts whose entries match `address` (one, in a valid inventory). */
export function hostsOwning(hosts: HostMap, address: string): string[] {
  return Object.entries(hosts)
    .filter(([, entries]) => entries.some((entry) => addressMatches(entry, address)))
    .map(([name]) => name);
}

/** The host that owns `address`; undefined when the map names none (or, invalid, several). */
export function hostOwning(hosts: HostMap, address: string): string | undefined {
  const owners = hostsOwning(hosts, address);
  return owners.length === 1 ? owners[0] : undefined;
}

/**
 * What is wrong with a cluster's `hosts` map against its nodes and spare entries: every node and
 * every spare entry (both ends of a range) must be on exactly one host, so no node-local step can
 * ever be sent to two places, or to none.
 */
export function hostMapProblems(field: string, hosts: HostMap, nodes: readonly string[], spares: readonly string[]): string[] {
  const problems: string[] = [];
  const place = (address: string, what: string) => {
    const owners = hostsOwning(hosts, address);
    if (owners.length === 0) problems.push(`${field}: ${what} ${address} is on no host: list it under the host that runs it (${field}.<host>.nodes)`);
    if (owners.length > 1) problems.push(`${field}: ${what} ${address} is listed under ${owners.length} hosts (${owners.join(', ')}): a node runs on one host only`);
  };
  for (const node of nodes) place(node, 'node');
  for (const spare of spares) {
    const colon = spare.lastIndexOf(':');
    const hostPart = spare.slice(0, colon);
    // A CIDR spare entry cannot be placed address by address: it must be listed as it is.
    if (hostPart.includes('/')) {
      const owners = Object.entries(hosts).filter(([, entries]) => entries.includes(spare)).map(([name]) => name);
      if (owners.length !== 1) problems.push(`${field}: spare entry ${spare} must be listed as it is under exactly one host (found under ${owners.length === 0 ? 'none' : owners.join(', ')})`);
      continue;
    }
    const [first, last = first] = spare.slice(colon + 1).split('-').map(Number) as [number, number?];
    for (const port of new Set([first, last])) place(`${hostPart}:${port}`, 'spare address');
  }
  return problems;
}
