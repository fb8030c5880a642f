import type { Inventory } from '../config';
import type { NodeSecrets } from '../credentials';
import { DockerRuntime } from './docker';
import { ProcessRuntime } from './process';
import { serverTls } from './tlsConf';
import type { NodeRuntime } from './types';

export type { NodeRuntime, NodeStatus } from './types';
export { RuntimeError } from './types';
export { firstFileText } from './archive';
export { DockerRuntime, ProcessRuntime };

/**
 * The runtime that runs a cluster's nodes, as its inventory entry names it; with the cluster's
 * `tls.server`, every node it starts or provisions serves TLS only. `env` holds the registry
 * credentials a docker runtime's `registryAuth` names.
 */
export function createRuntime(
  inventory: Inventory,
  cluster: string,
  secrets: NodeSecrets,
  env: NodeJS.ProcessEnv = process.env,
  /** A runtime of `runtimes` other than the cluster's: a host's own (clusters.<c>.hosts.<h>.runtime). */
  runtimeName?: string,
): NodeRuntime | undefined {
  const name = runtimeName ?? inventory.clusters[cluster]?.runtime;
  if (name === undefined) return undefined;
  const config = inventory.runtimes[name];
  if (!config) return undefined;
  const tls = serverTls(cluster, inventory.clusters[cluster]);
  if (config.type === 'docker') return new DockerRuntime(cluster, config, secrets, tls, env);
  return new ProcessRuntime(config, secrets, tls);
}
