/**
 * NodeRuntime: how a cluster node, named by its "host:port", is stopped, started, replaced
 * with another version, and how its data directory is read and written. Workflows speak of
 * nodes; only a runtime knows about processes or containers. Every method is idempotent.
 */
import type { Readable } from 'node:stream';

export type NodeStatus = 'running' | 'stopped';

export interface NodeRuntime {
  readonly kind: 'process' | 'docker';
  /**
   * Makes a new, empty node exist at `address` (a container, or a process directory) and starts
   * it; a no-op when the node exists. Used by addNode for an address nothing answers on yet.
   */
  provision(address: string, version?: string): Promise<void>;
  /** Starts the node if it is not running; resolves once it accepts connections. */
  start(address: string): Promise<void>;
  /** Stops the node gracefully (SIGTERM: Redis flushes its AOF first). No-op when stopped. */
  stop(address: string): Promise<void>;
  /** Stops the node at once (SIGKILL), as a crash would. No-op when stopped. */
  kill(address: string): Promise<void>;
  status(address: string): Promise<NodeStatus>;
  /** The version the node runs: an image tag (docker) or a name of the versions map (process). */
  version(address: string): Promise<string>;
  /**
   * Runs the node on another version, keeping its data and node id; a no-op when it already does.
   * When the node does not come up on it, the runtime may put the previous version back itself
   * (docker does) before it throws.
   */
  replace(address: string, version: string): Promise<{ changed: boolean }>;
  /**
   * Drops what `replace` kept to roll back to (docker: the old container, renamed aside), once
   * the caller knows the new version is good (the node is in sync). Absent: nothing is kept.
   */
  discardReplaced?(address: string): Promise<void>;
  /** Throws a RuntimeError saying what is missing when the node cannot run `version` (no binary, no image). */
  checkVersion(address: string, version: string): Promise<void>;
  /**
   * Makes `version` present where the node runs (docker: pulls its image onto the node's engine
   * when it lacks it); resolves true when it had to fetch it. Absent: nothing can be fetched.
   */
  pullVersion?(address: string, version: string): Promise<boolean>;
  /** The data directory (AOF, nodes.conf) as a tar stream, entries relative to the directory. */
  readDataDir(address: string): Promise<Readable>;
  /**
   * Named files of the data directory (paths relative to it, e.g. "appendonlydir/x.rdb") as
   * one tar stream, entries named by those paths. Fails when one is missing.
   */
  readDataFiles(address: string, paths: readonly string[]): Promise<Readable>;
  /** Extracts a tar stream into the data directory of a stopped node. */
  writeDataDir(address: string, tar: Readable): Promise<void>;
  /** Removes every data file of a stopped node (AOF, RDB, nodes.conf). */
  cleanDataDir(address: string): Promise<void>;
  /**
   * Stops the node and removes it with everything it stored (process directory and version, or
   * container and volumes), so nothing of it comes back when its address is started or provisioned again.
   */
  deprovision(address: string): Promise<void>;
}

export class RuntimeError extends Error {
  constructor(
    readonly address: string,
    message: string,
  ) {
    super(`${address}: ${message}`);
    this.name = 'RuntimeError';
  }
}
