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
import { resolveCredentials, resolveNodeSecrets, type Credentials } from '../../credentials';

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

/**
 * How the worker may log in, in order: as the operator user (its current password, then the next
 * one while rotateCredentials rolls it out, so a node that already dropped the old one still
 * answers), then with the cluster's `auth` password (a cluster that configureAcl has not
 * converted yet, whose nodes know only requirepass). A cluster without `acl` has one login.
 */
export function loginsOf(cluster: ClusterConfig, env: NodeJS.ProcessEnv): Credentials[] {
  const legacy = resolveCredentials({ ...cluster, acl: undefined }, env);
  if (!cluster.acl) return [legacy];
  const operator = resolveNodeSecrets(cluster, env).acl!.operator;
  const logins: Credentials[] = operator.passwords.map((password) => ({ username: operator.username, password }));
  return legacy.password ? [...logins, legacy] : logins;
}

export class NodeConnector {
  private readonly logins: Credentials[];
  /** The login that worked last: tried first, and what MIGRATE passes on to its target. */
  private preferred = 0;
  private readonly tls?: RedisOptions['tls'];

  constructor(
    readonly cluster: ClusterConfig,
    env: NodeJS.ProcessEnv = process.env,
    private readonly options: NodeConnectorOptions = {},
  ) {
    this.logins = loginsOf(cluster, env);
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
    return redact(text, this.logins.flatMap((l) => [l.password, l.username]));
  }

  /** AUTH arguments for MIGRATE, so the source can log in to the target. Never logged. */
  migrateAuth(): string[] {
    const { username, password } = this.logins[this.preferred] ?? {};
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
    const order = [this.preferred, ...this.logins.keys()].filter((i, k, all) => all.indexOf(i) === k);
    return this.connect(address, order.map((i) => this.logins[i]!), fn, (login) => (this.preferred = this.logins.indexOf(login)));
  }

  /**
   * Logs in to a node with exactly `login` (a user's new password, before the old one goes) and
   * runs `fn`. The secret is redacted from errors like the connector's own.
   */
  async withLogin<T>(address: string, login: Credentials, fn: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await this.connect(address, [login], fn);
    } catch (err) {
      if (err instanceof TemporalFailure) throw err;
      (err as Error).message = redact((err as Error).message, [login.password]);
      throw err;
    }
  }

  private async connect<T>(address: string, logins: readonly Credentials[], fn: (redis: Redis) => Promise<T>, loggedIn?: (login: Credentials) => void): Promise<T> {
    if (this.options.allows && !this.options.allows(address)) {
      throw ApplicationFailure.create({
        type: 'AddressNotInInventory',
        nonRetryable: true,
        message: `${address} is not a node of this cluster in the worker's inventory (nodes, spareNodes or clientEndpoint): nothing was sent to it`,
        details: [{ address }],
      });
    }
    const { host, port } = splitAddress(address);
    // No credentials here: AUTH is sent below, one login after another on the same connection.
    const redis = new Redis({
      host,
      port,
      tls: this.tls,
      lazyConnect: true,
      connectTimeout: this.cluster.commandTimeoutMs,
      commandTimeout: this.cluster.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      enableOfflineQueue: true,
      retryStrategy: () => null,
    });
    // ioredis reports why a connection dropped (refused, reset) only as an event; the
    // awaited command then fails with a bare "Connection is closed", so keep the cause.
    let cause: Error | undefined;
    redis.on('error', (err: Error) => {
      cause ??= err;
    });
    try {
      await redis.connect();
      await this.authenticate(redis, logins, loggedIn);
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

  /** The first login the node accepts; only a refused password (WRONGPASS) moves on to the next. */
  private async authenticate(redis: Redis, logins: readonly Credentials[], loggedIn?: (login: Credentials) => void): Promise<void> {
    let refused: unknown;
    for (const login of logins) {
      if (!login.password) continue;
      try {
        await (login.username ? redis.call('AUTH', login.username, login.password) : redis.call('AUTH', login.password));
        loggedIn?.(login);
        return;
      } catch (err) {
        // A node without a password answers as ioredis's own AUTH would let pass: go on as before.
        if (/without any password configured|no password is set/i.test(String((err as Error).message))) return;
        if (classifyRedisError(err) !== 'auth') throw err;
        refused = err;
      }
    }
    if (refused) throw refused;
  }
}
