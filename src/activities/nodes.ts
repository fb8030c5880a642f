/** Activities that act on nodes through the cluster's runtime (processes or containers). */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { NodeRuntime } from '../runtime';
import { heartbeating } from './heartbeat';
import { acceptsConnections } from '../util/ports';

export type StopMode = 'stop' | 'kill';

export function createNodeActivities(runtimeFor: (cluster: string) => NodeRuntime) {
  return {
    /** Stops a node gracefully (docker stop / SIGTERM) or kills it (SIGKILL); returns when it is down. */
    async stopNode(cluster: string, address: string, mode: StopMode): Promise<{ stoppedAt: number }> {
      const runtime = runtimeFor(cluster);
      // Heartbeats: a graceful stop may take a while, and a worker that died meanwhile must be noticed in seconds.
      await heartbeating({ stopping: address, mode }, () => (mode === 'kill' ? runtime.kill(address) : runtime.stop(address)));
      return { stoppedAt: Date.now() };
    },

    /** Starts a node; returns once it accepts connections. */
    async startNode(cluster: string, address: string): Promise<{ startedAt: number }> {
      await heartbeating({ starting: address }, () => runtimeFor(cluster).start(address));
      return { startedAt: Date.now() };
    },

    /**
     * Creates and starts an empty node where nothing answers yet (a container or a process),
     * running the version the nodes `like` run (the cluster's masters), so slots can move
     * between them: MIGRATE cannot carry keys from a newer Redis to an older one. `likeVersions`:
     * those versions, read on the masters' own hosts (a cluster over many hosts), instead of here.
     */
    async provisionNode(cluster: string, address: string, like: string[] = [], likeVersions?: string[]): Promise<{ provisioned: boolean; version?: string }> {
      return heartbeating({ provisioning: address }, async () => {
        const runtime = runtimeFor(cluster);
        if (await acceptsConnections(address)) {
          // A retry after an attempt that started the node (the worker died before reporting it): still ours.
          const ours = Context.current().info.attempt > 1 && (await runtime.status(address)) === 'running';
          return { provisioned: ours, version: ours ? await runtime.version(address) : undefined };
        }
        const running = likeVersions ?? (await Promise.all(like.map((a) => runtime.version(a))));
        const versions = [...new Set(running)];
        if (versions.length > 1) {
          throw ApplicationFailure.create({
            type: 'PreflightFailed',
            nonRetryable: true,
            message: `the masters run different versions (${like.map((a, i) => `${a} ${running[i]}`).join(', ')}): finish the upgrade before adding a node`,
          });
        }
        await runtime.provision(address, versions[0]);
        return { provisioned: true, version: versions[0] };
      });
    },

    /** Stops a node and removes all it stored, so a later start on its address begins empty. */
    async deprovisionNode(cluster: string, address: string): Promise<void> {
      await heartbeating({ deprovisioning: address }, () => runtimeFor(cluster).deprovision(address));
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
