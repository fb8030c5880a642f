/**
 * The runtime of a cluster spread over many hosts, as a worker sees it: a node's processes and
 * files are touched only by the agent of the host that owns it (`redisforge worker --host NAME`),
 * through that host's runtime. Anywhere else (the central worker, another host's agent) every
 * node-local call is refused, non-retryable, naming the host: a step is never run on the wrong
 * machine, where it would start a second copy of a node or read another node's files.
 */
import type { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { hostOwning, hostTaskQueue, type HostMap } from '../cluster/hosts';
import type { NodeRuntime, NodeStatus } from '../runtime';

export class HostBoundRuntime implements NodeRuntime {
  constructor(
    private readonly cluster: string,
    private readonly hosts: HostMap,
    /** This worker's host (`--host`); undefined for the central worker. */
    private readonly agentHost: string | undefined,
    /** The runtime of a host (its own, or the cluster's), built once by the caller. */
    private readonly runtimeOn: (host: string) => NodeRuntime,
  ) {}

  get kind(): NodeRuntime['kind'] {
    return this.runtimeOn(this.agentHost ?? Object.keys(this.hosts)[0]!).kind;
  }

  /** The runtime that may touch `address` here, or the refusal. */
  private on(address: string): NodeRuntime {
    const owner = hostOwning(this.hosts, address);
    if (owner === undefined) {
      throw ApplicationFailure.create({
        type: 'InvalidInput',
        nonRetryable: true,
        message: `${address} is on no host of clusters.${this.cluster}.hosts in the worker's inventory: list it under the host that runs it`,
      });
    }
    if (owner !== this.agentHost) {
      throw ApplicationFailure.create({
        type: 'WrongHost',
        nonRetryable: true,
        message:
          `${address} runs on host ${owner}: its processes and files are touched only by that host's agent (redisforge worker --host ${owner}, ` +
          `task queue ${hostTaskQueue(owner)}); this is ${this.agentHost ? `the agent of host ${this.agentHost}` : 'the central worker'}, so nothing was done`,
      });
    }
    return this.runtimeOn(owner);
  }

  async provision(address: string, version?: string): Promise<void> {
    return this.on(address).provision(address, version);
  }
  async start(address: string): Promise<void> {
    return this.on(address).start(address);
  }
  async stop(address: string): Promise<void> {
    return this.on(address).stop(address);
  }
  async kill(address: string): Promise<void> {
    return this.on(address).kill(address);
  }
  async status(address: string): Promise<NodeStatus> {
    return this.on(address).status(address);
  }
  async version(address: string): Promise<string> {
    return this.on(address).version(address);
  }
  async replace(address: string, version: string): Promise<{ changed: boolean }> {
    return this.on(address).replace(address, version);
  }
  async discardReplaced(address: string): Promise<void> {
    await this.on(address).discardReplaced?.(address);
  }
  async checkVersion(address: string, version: string): Promise<void> {
    return this.on(address).checkVersion(address, version);
  }
  async pullVersion(address: string, version: string): Promise<boolean> {
    const runtime = this.on(address);
    return runtime.pullVersion ? runtime.pullVersion(address, version) : false;
  }
  async readDataDir(address: string): Promise<Readable> {
    return this.on(address).readDataDir(address);
  }
  async readDataFiles(address: string, paths: readonly string[]): Promise<Readable> {
    return this.on(address).readDataFiles(address, paths);
  }
  async writeDataDir(address: string, tar: Readable): Promise<void> {
    return this.on(address).writeDataDir(address, tar);
  }
  async cleanDataDir(address: string): Promise<void> {
    return this.on(address).cleanDataDir(address);
  }
  async deprovision(address: string): Promise<void> {
    return this.on(address).deprovision(address);
  }
}
