/**
 * Where a node-local step runs. Of a cluster whose inventory spreads it over hosts, what touches
 * a node's processes or files (start, stop, replace, its data directory, scratch nodes) goes to
 * the agent of the host that owns the node, on that host's task queue; the rest stays on the
 * workflow's own queue (the central worker). An agent that is down makes the step wait for it up
 * to the inventory's hostAgentWaitSeconds, then the step fails naming the host: it is never run
 * anywhere else. A cluster without hosts runs everything where it always did.
 */
import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { ClusterSpec } from '../activities/clusterSpec';
import type { NodeVersion } from '../cluster';
import { hostOwning, hostTaskQueue } from '../cluster/hosts';
import { onTaskQueue, type ActivitySet } from './activityOptions';

const DEFAULT_WAIT_SECONDS = 120;

export class NodeHosts {
  private readonly sets = new Map<ActivitySet, Map<string, ActivitySet>>();

  private constructor(
    private readonly hosts: Record<string, string[]> | undefined,
    /** Every step on this host, whatever the address (a drill's scratch cluster). */
    private readonly everything: string | undefined,
    private readonly waitSeconds: number,
  ) {}

  /** The cluster's hosts, from its spec. */
  static of(spec: Pick<ClusterSpec, 'hosts' | 'hostAgentWaitSeconds'>): NodeHosts {
    return new NodeHosts(spec.hosts, undefined, spec.hostAgentWaitSeconds ?? DEFAULT_WAIT_SECONDS);
  }

  /** Every step on `host` (a scratch cluster lives on one host, its agent's); undefined: the workflow's queue. */
  static allOn(host: string | undefined, waitSeconds = DEFAULT_WAIT_SECONDS): NodeHosts {
    return new NodeHosts(undefined, host, waitSeconds);
  }

  /** Whether any step leaves the workflow's queue. */
  get distributed(): boolean {
    return this.hosts !== undefined || this.everything !== undefined;
  }

  /** The host that owns `address`; undefined when the cluster has no hosts. */
  hostOf(address: string): string | undefined {
    if (this.everything) return this.everything;
    if (!this.hosts) return undefined;
    const host = hostOwning(this.hosts, address);
    if (host === undefined) {
      throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `${address} is on no host of the cluster's hosts in the worker's inventory: list it under the host that runs it` });
    }
    return host;
  }

  /** `set` for a step on `address`'s node: on its host's agent, or `set` itself without hosts. */
  node(set: ActivitySet, address: string): ActivitySet {
    return this.on(set, this.hostOf(address));
  }

  /** `set` for a step of the whole cluster that runs where its nodes are (a scratch cluster's); `set` itself otherwise. */
  cluster(set: ActivitySet): ActivitySet {
    return this.on(set, this.everything);
  }

  /** `addresses` grouped by their host, in order of first appearance; one group (host undefined) without hosts. */
  group(addresses: readonly string[]): { host: string | undefined; addresses: string[] }[] {
    const groups = new Map<string | undefined, string[]>();
    for (const address of addresses) {
      const host = this.hostOf(address);
      groups.set(host, [...(groups.get(host) ?? []), address]);
    }
    return [...groups].map(([host, list]) => ({ host, addresses: list }));
  }

  /** `set` on `host`'s agent queue, its ScheduleToStart timeout named as the host being down. */
  on(set: ActivitySet, host: string | undefined): ActivitySet {
    if (host === undefined) return set;
    let byHost = this.sets.get(set);
    if (!byHost) this.sets.set(set, (byHost = new Map()));
    let routed = byHost.get(host);
    if (!routed) {
      routed = namingTheHost(onTaskQueue(set, hostTaskQueue(host), this.waitSeconds), host, this.waitSeconds);
      byHost.set(host, routed);
    }
    return routed;
  }
}

/**
 * Every node's version, read (and its image pulled) where it runs: one describeNodeVersions per
 * host, all hosts at once, in the order of `members`; a single call for a cluster without hosts.
 */
export async function versionsOnTheirHosts(hosts: NodeHosts, set: ActivitySet, cluster: string, members: string[], target?: string, options?: { pull?: boolean }): Promise<NodeVersion[]> {
  const parts = await Promise.all(hosts.group(members).map((g) => hosts.on(set, g.host).describeNodeVersions(cluster, g.addresses, target, options)));
  const byAddress = new Map(parts.flat().map((n) => [n.address, n]));
  return members.flatMap((a) => byAddress.get(a) ?? []);
}

function namingTheHost(set: ActivitySet, host: string, waitSeconds: number): ActivitySet {
  return new Proxy(set, {
    get(target, name) {
      // Not a thenable: awaiting the set itself must not call an activity named "then".
      if (typeof name !== 'string' || name === 'then') return undefined;
      const activity = (target as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!;
      return (...args: unknown[]) => activity(...args).catch((err: unknown) => {
        throw agentUnavailable(err, host, name, waitSeconds);
      });
    },
  });
}

function agentUnavailable(err: unknown, host: string, activity: string, waitSeconds: number): unknown {
  if (!(err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START)) return err;
  return ApplicationFailure.create({
    type: 'HostAgentUnavailable',
    nonRetryable: true,
    message:
      `host ${host}: no agent took ${activity} within ${waitSeconds} s (task queue ${hostTaskQueue(host)}); start \`redisforge worker --host ${host}\` on that host ` +
      `and run the operation again: the step was not run anywhere else`,
    details: [{ host, taskQueue: hostTaskQueue(host), activity }],
  });
}
