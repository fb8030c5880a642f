/**
 * One run of the CLI: where its output goes, its global options, and its Temporal client
 * (connected on first use, configured like the Temporal CLI: TEMPORAL_* variables, profiles).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { CodecConfigError } from '../../codec';
import { connectClient } from '../connection';
import { CliError, EXIT, unreachable } from './errors';
import type { ProgressSink } from './progress';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  columns: number;
  env: NodeJS.ProcessEnv;
  connect(overrides: { address?: string; namespace?: string }): Promise<Client>;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    // 0 under some pseudo-terminals.
    columns: process.stdout.columns || 100,
    env: process.env,
    connect: connectClient,
  };
}

export interface GlobalOptions {
  cluster?: string;
  json?: boolean;
  address?: string;
  namespace?: string;
}

export const DEFAULT_CLUSTER = 'main';

/**
 * The inventory's only cluster, when this machine has the worker's inventory (REDISFORGE_INVENTORY,
 * else ./redisforge.json) and it names exactly one; else undefined. An unreadable or invalid file is
 * the worker's to report: here it only means no default.
 */
export function onlyInventoryCluster(env: NodeJS.ProcessEnv): string | undefined {
  try {
    // Where the worker looks (src/config.ts inventoryPath; the client loads no config code).
    const file = env.REDISFORGE_INVENTORY ?? resolve('redisforge.json');
    const clusters = (JSON.parse(readFileSync(file, 'utf8')) as { clusters?: unknown }).clusters;
    const names = clusters && typeof clusters === 'object' ? Object.keys(clusters) : [];
    return names.length === 1 ? names[0] : undefined;
  } catch {
    return undefined;
  }
}

export class Session {
  private clientPromise?: Promise<Client>;
  private defaultCluster?: string;

  constructor(
    readonly io: CliIo,
    readonly globals: GlobalOptions,
  ) {}

  get json(): boolean {
    return this.globals.json === true;
  }

  /** --cluster, else $REDISFORGE_CLUSTER, else the inventory's only cluster, else "main". */
  get cluster(): string {
    return this.globals.cluster ?? this.io.env.REDISFORGE_CLUSTER ?? (this.defaultCluster ??= onlyInventoryCluster(this.io.env) ?? DEFAULT_CLUSTER);
  }

  /** Whether the cluster was named (flag or environment) rather than defaulted. */
  get clusterNamed(): boolean {
    return this.globals.cluster !== undefined || this.io.env.REDISFORGE_CLUSTER !== undefined;
  }

  /** Human output: stdout, or stderr under --json so that stdout stays parseable. */
  info(text: string): void {
    (this.json ? this.io.stderr : this.io.stdout)(`${text}\n`);
  }

  warn(text: string): void {
    this.io.stderr(`${text}\n`);
  }

  /** The one JSON document of a --json run. */
  emit(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Where live progress goes: stdout, or stderr under --json. */
  progressSink(): ProgressSink {
    return this.json
      ? { write: (t) => this.io.stderr(t), isTTY: this.io.stderrIsTTY, columns: this.io.columns }
      : { write: (t) => this.io.stdout(t), isTTY: this.io.stdoutIsTTY, columns: this.io.columns };
  }

  /** The Temporal address in use, for messages. */
  address(): string {
    if (this.globals.address) return this.globals.address;
    try {
      return loadClientConnectConfig().connectionOptions.address ?? 'localhost:7233';
    } catch {
      return 'the configured address';
    }
  }

  client(): Promise<Client> {
    this.clientPromise ??= this.io.connect({ address: this.globals.address, namespace: this.globals.namespace }).catch((err: unknown) => {
      if (err instanceof CodecConfigError) throw new CliError(`${err.message} (the payload encryption keys)`, EXIT.usage);
      if (/profile|config|toml/i.test((err as Error).message) && !/connect/i.test((err as Error).message)) {
        throw new CliError(`the Temporal client configuration is wrong (${(err as Error).message}): fix TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE`, EXIT.unreachable);
      }
      throw unreachable(this.address(), err);
    });
    return this.clientPromise;
  }

  async close(): Promise<void> {
    const pending = this.clientPromise;
    this.clientPromise = undefined;
    const client = await pending?.catch(() => undefined);
    await client?.connection.close();
  }
}
