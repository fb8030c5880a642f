/** Activities that act on nodes through the cluster's runtime (processes or containers). */
import { ApplicationFailure } from '@temporalio/common';
import type { NodeRuntime } from '../runtime';
import { acceptsConnections } from '../runtime/wait';

export type StopMode = 'stop' | 'kill';

export function createNodeActivities(runtimeFor: (cluster: string) => NodeRuntime) {
  return {
    /** Stops a node gracefully (docker stop / SIGTERM) or kills it (SIGKILL); returns when it is down. */
    async stopNode(cluster: string, address: string, mode: StopMode): Promise<{ stoppedAt: number }> {
      const runtime = runtimeFor(cluster);
      if (mode === 'kill') await runtime.kill(address);
      else await runtime.stop(address);
      return { stoppedAt: Date.now() };
    },

    /** Starts a node; returns once it accepts connections. */
    async startNode(cluster: string, address: string): Promise<{ startedAt: number }> {
      await runtimeFor(cluster).start(address);
      return { startedAt: Date.now() };
    },

    /** Creates and starts an empty node where nothing answers yet (a container or a process). */
    async provisionNode(cluster: string, address: string): Promise<{ provisioned: boolean }> {
      if (await acceptsConnections(address)) return { provisioned: false };
      await runtimeFor(cluster).provision(address);
      return { provisioned: true };
    },

    async nodeStatus(cluster: string, address: string): Promise<{ status: 'running' | 'stopped'; version: string }> {
      const runtime = runtimeFor(cluster);
      return { status: await runtime.status(address), version: await runtime.version(address) };
    },
  };
}

export function noRuntime(cluster: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'InvalidInput',
    nonRetryable: true,
    message: `cluster "${cluster}" has no runtime in the worker's inventory (clusters.${cluster}.runtime), so its nodes cannot be stopped or started`,
  });
}
