/**
 * NodeRuntime: how a cluster node, named by its "host:port", is started and stopped.
 * Workflows speak of nodes; only a runtime knows about processes or containers.
 */
export type NodeStatus = 'running' | 'stopped';

export interface NodeRuntime {
  readonly kind: 'process' | 'docker';
  /** Starts the node if it is not running; resolves once it answers PING. */
  start(address: string): Promise<void>;
  /** Stops the node gracefully (SIGTERM: Redis flushes its AOF first). No-op when stopped. */
  stop(address: string): Promise<void>;
  /** Stops the node at once (SIGKILL), as a crash would. No-op when stopped. */
  kill(address: string): Promise<void>;
  restart(address: string): Promise<void>;
  status(address: string): Promise<NodeStatus>;
  /** Removes every data file of a stopped node (AOF, RDB, nodes.conf). */
  cleanDataDir(address: string): Promise<void>;
}
