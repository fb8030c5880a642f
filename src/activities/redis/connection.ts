/**
 * The one way this project opens a Redis connection: credentials and TLS come from the
 * cluster's inventory entry and the worker's environment, so no code path can forget either,
 * and secrets are redacted from every error that leaves an activity.
 */
import { readFileSync } from 'node:fs';
import Redis, { type RedisOptions } from 'ioredis';
import type { ClusterConfig } from '../../config';
import { splitAddress } from '../../cluster/address';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { resolveCredentials, type Credentials } from '../../credentials';

export { resolveCredentials, type Credentials };

/** Replaces every secret in `text` with "***". */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}

export type ConnectionErrorKind = 'unreachable' | 'auth' | 'cluster-disabled' | 'other';

export function classifyRedisError(err: unknown): ConnectionErrorKind {
  const msg = String((err as Error)?.message ?? err);
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH failed/i.test(msg)) return 'auth';
  if (/cluster support disabled/i.test(msg)) return 'cluster-disabled';
  if (/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|ECONNRESET|EPIPE|connect timeout|Connection is closed|Command timed out|Stream isn't writeable/i.test(msg)) {
    return 'unreachable';
  }
  return 'other';
}

export interface NodeConnectorOptions {
  /**
   * The addresses this connector may open: every address a workflow contacts must come from the
   * inventory, so a password is never sent elsewhere. @default any address
   */
  allows?: (address: string) => boolean;
}

export class NodeConnector {
  private readonly credentials: Credentials;
  private readonly tls?: RedisOptions['tls'];

  constructor(
    readonly cluster: ClusterConfig,
    env: NodeJS.ProcessEnv = process.env,
    private readonly options: NodeConnectorOptions = {},
  ) {
    this.credentials = resolveCredentials(cluster, env);
    if (cluster.tls) {
      const t = cluster.tls;
      this.tls = {
        ca: t.caFile ? readFileSync(t.caFile) : undefined,
        cert: t.certFile ? readFileSync(t.certFile) : undefined,
        key: t.keyFile ? readFileSync(t.keyFile) : undefined,
        servername: t.servername,
        rejectUnauthorized: t.rejectUnauthorized,
      };
    }
  }

  redact(text: string): string {
    return redact(text, [this.credentials.password, this.credentials.username]);
  }

  /** AUTH arguments for MIGRATE, so the source can log in to the target. Never logged. */
  migrateAuth(): string[] {
    const { username, password } = this.credentials;
    if (!password) return [];
    return username ? ['AUTH2', username, password] : ['AUTH', password];
  }

  /** Connections to several nodes at once for `fn`; all closed afterwards. */
  async withNodes<T>(addresses: readonly string[], fn: (nodes: Map<string, Redis>) => Promise<T>): Promise<T> {
    const unique = [...new Set(addresses)];
    const open = async (i: number, acc: Map<string, Redis>): Promise<T> =>
      i === unique.length ? fn(acc) : this.withNode(unique[i]!, (r) => open(i + 1, new Map(acc).set(unique[i]!, r)));
    return open(0, new Map());
  }

  /** Runs `fn` on a node; a node that cannot be reached gives undefined (it may be the one stopped). */
  async tryNode<T>(address: string, fn: (redis: Redis) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.withNode(address, fn);
    } catch {
      return undefined;
    }
  }

  /** Opens a connection to one node, runs `fn`, and always closes it. */
  async withNode<T>(address: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.options.allows && !this.options.allows(address)) {
      throw ApplicationFailure.create({
        type: 'AddressNotInInventory',
        nonRetryable: true,
        message: `${address} is not a node of this cluster in the worker's inventory (nodes, spareNodes or clientEndpoint): nothing was sent to it`,
        details: [{ address }],
      });
    }
    const { host, port } = splitAddress(address);
    const redis = new Redis({
      host,
      port,
      username: this.credentials.username,
      password: this.credentials.password,
      tls: this.tls,
      lazyConnect: true,
      connectTimeout: this.cluster.commandTimeoutMs,
      commandTimeout: this.cluster.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      enableOfflineQueue: true,
      retryStrategy: () => null,
    });
    // ioredis reports why a connection dropped (refused, WRONGPASS) only as an event; the
    // awaited command then fails with a bare "Connection is closed", so keep the cause.
    let cause: Error | undefined;
    redis.on('error', (err: Error) => {
      cause ??= err;
    });
    try {
      await redis.connect();
      return await fn(redis);
    } catch (err) {
      // A failure the activity raised on purpose (or its cancellation) keeps its type and retry decision.
      if (err instanceof TemporalFailure) throw err;
      const e = cause && /Connection is closed/.test((err as Error).message) ? cause : (err as Error);
      const clean = new Error(`${address}: ${this.redact(e.message)}`);
      clean.name = e.name;
      throw clean;
    } finally {
      redis.disconnect();
    }
  }
}
