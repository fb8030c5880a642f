/**
 * The `process` runtime: each node is a local redis-server started from a generated config
 * file in <baseDir>/<port>/, daemonized so it outlives the worker that started it. The node
 * directory holds the runtime's own files (redis.conf, redis.log, redis.pid, version) and the
 * node's data (appendonlydir, nodes.conf).
 *
 * redis.conf holds the node's passwords and the data files hold every value, so the directory
 * is 0700, redis.conf 0600, and redis-server and tar run under umask 077 with a minimal
 * environment: a daemon keeps the environment it was started with in memory for its lifetime,
 * and the worker's holds REDIS_REQUIREPASS, AWS_SECRET_ACCESS_KEY, TEMPORAL_API_KEY and more.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { chmod, mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { ProcessRuntimeConfig } from '../config';
import type { NodeSecrets } from '../credentials';
import { splitAddress } from '../cluster/address';
import { nodeConf } from './redisConf';
import type { NodeTls } from './tlsConf';
import { RuntimeError, type NodeRuntime, type NodeStatus } from './types';
import { pollUntil } from '../util/polling';
import { awaitPort } from '../util/ports';

const RUNTIME_FILES = ['redis.conf', 'redis.log', 'redis.pid', 'version'];

/**
 * All a child needs: PATH to find `redis-server` (or `tar`) and a fixed locale. Nothing of the
 * worker's environment (secrets, tokens, proxy settings) reaches the node.
 */
export function childEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { PATH: env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
}

/**
 * Runs `command args` under umask 077, so every file it creates (AOF, nodes.conf, redis.log,
 * extracted data) is its owner's alone. The command and its arguments reach the shell as
 * positional parameters ($0, $@), never as script text, so no name can inject shell code; the
 * shell execs the command, which keeps its pid and exit status.
 */
export function spawnUmasked(command: string, args: readonly string[], options: SpawnOptions) {
  return spawn('/bin/sh', ['-c', 'umask 077; exec "$0" "$@"', command, ...args], { ...options, env: childEnvironment() });
}

/**
 * Why a server stopped while starting, from what it logged since byte `from` of its log: its
 * error lines ("Can't handle RDB format version 12; ... Unrecoverable error ..."), once it has
 * written the one it exits with; undefined while it has not.
 */
export async function startupFailure(log: string, from: number): Promise<string | undefined> {
  const file = await open(log, 'r').catch(() => undefined);
  if (!file) return undefined;
  let text: string;
  try {
    const { size } = await file.stat();
    const length = Math.min(size - from, 64 * 1024);
    if (length <= 0) return undefined;
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    text = buffer.toString('utf8');
  } finally {
    await file.close();
  }
  // Redis and Valkey mark errors and warnings with "#" after the pid, role and time.
  const errors = text.split('\n').map((line) => /^\d+:[A-Z] .*? # (.*)$/.exec(line)?.[1]?.trim()).filter((e): e is string => !!e && !/^WARNING/.test(e));
  if (!errors.some((e) => /Unrecoverable|Fatal error|Exiting|aborted|Can't/i.test(e))) return undefined;
  return `redis-server stopped while starting: ${errors.slice(-3).join('; ')}`;
}

/** The node directory, 0700 whether it is new or was made looser before (mkdir's mode applies only when it creates). */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Writes a file readable by its owner only, also when it already existed with a looser mode: tightened before the content goes in. */
async function privateFile(path: string, content: string): Promise<void> {
  const file = await open(path, 'w', 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(content);
  } finally {
    await file.close();
  }
}

export class ProcessRuntime implements NodeRuntime {
  readonly kind = 'process' as const;

  constructor(
    private readonly config: ProcessRuntimeConfig,
    private readonly secrets: NodeSecrets = {},
    /** The cluster's tls.server: every node it starts serves TLS only. */
    private readonly tls?: NodeTls,
  ) {}

  nodeDir(address: string): string {
    return join(this.config.baseDir, String(splitAddress(address).port));
  }

  private binary(address: string, version: string): string {
    const bin = this.config.versions[version];
    if (!bin) throw new RuntimeError(address, `process runtime: no binary for version "${version}" (versions: ${Object.keys(this.config.versions).join(', ')})`);
    return bin;
  }

  async version(address: string): Promise<string> {
    const recorded = await readFile(join(this.nodeDir(address), 'version'), 'utf8').catch(() => '');
    return recorded.trim() || this.config.defaultVersion;
  }

  private async pid(address: string): Promise<number | undefined> {
    try {
      const pid = Number((await readFile(join(this.nodeDir(address), 'redis.pid'), 'utf8')).trim());
      if (!Number.isInteger(pid) || pid <= 0 || !(await alive(pid))) return undefined;
      // The pid file may outlive its process and the pid be reused by something else.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return cmdline.includes('redis') || cmdline.includes('valkey') ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async status(address: string): Promise<NodeStatus> {
    return (await this.pid(address)) ? 'running' : 'stopped';
  }

  async provision(address: string, version?: string): Promise<void> {
    if (version !== undefined && !(await readFile(join(this.nodeDir(address), 'version'), 'utf8').catch(() => ''))) {
      this.binary(address, version);
      await privateDir(this.nodeDir(address));
      await privateFile(join(this.nodeDir(address), 'version'), `${version}\n`);
    }
    await this.start(address);
  }

  async start(address: string): Promise<void> {
    if (await this.pid(address)) return;
    const dir = this.nodeDir(address);
    const log = join(dir, 'redis.log');
    await privateDir(dir);
    const confPath = join(dir, 'redis.conf');
    const extraConfig = {
      // Nodes on one machine gain nothing from the default 5 s wait for more replicas before a
      // diskless full sync: a new replica is in sync at once. extraConfig can set it back.
      'repl-diskless-sync-delay': '0',
      ...this.config.extraConfig,
    };
    const conf = nodeConf({ address, dir, nodeTimeoutMs: this.config.nodeTimeoutMs, secrets: this.secrets, tls: this.tls, extraConfig, daemonize: true });
    await privateFile(confPath, conf);
    const binary = this.binary(address, await this.version(address));
    const logFrom = await stat(log).then((s) => s.size, () => 0);
    await new Promise<void>((resolve, reject) => {
      const child = spawnUmasked(binary, [confPath], { stdio: 'ignore' });
      child.on('error', (err) => reject(new RuntimeError(address, `cannot run ${binary}: ${err.message}`)));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new RuntimeError(address, `redis-server exited with ${code}; see ${log}`))));
    });
    // A server that gives up while it starts (data it cannot load) says why in its log: fail at
    // once with its words, not after the whole wait.
    await awaitPort(address, 30_000, () => `see ${log}`, {
      gaveUp: async () => {
        const why = await startupFailure(log, logFrom);
        return why && `${address}: ${why} (see ${log})`;
      },
    });
    // Redis listens a moment before it writes its pid file; until then status() says stopped.
    await pollUntil(async () => ((await this.pid(address)) ? { done: true, value: undefined } : { done: false, status: 'no pid file' }), {
      what: `${address} to write its pid file`,
      timeoutMs: 10_000,
      intervalMs: 10,
      // The activity that starts the node heartbeats its own progress.
      heartbeat: false,
      timedOut: () => new RuntimeError(address, `listens, but wrote no pid file ${join(dir, 'redis.pid')} within 10 s; see ${log}`),
    });
  }

  private async signal(address: string, sig: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const pid = await this.pid(address);
    if (!pid) return;
    try {
      process.kill(pid, sig);
      // As systemd does: a stopped (SIGSTOP) process acts on SIGTERM only once it runs again.
      if (sig === 'SIGTERM') process.kill(pid, 'SIGCONT');
    } catch {
      return;
    }
    let sent = Date.now();
    await pollUntil(
      async () => {
        if (!(await alive(pid))) return { done: true, value: undefined };
        // Redis refuses a SIGTERM while it writes its first AOF after a full sync ("Writing
        // initial AOF, can't exit") and does not retry by itself: ask again every second.
        if (sig === 'SIGTERM' && Date.now() - sent >= 1000) {
          sent = Date.now();
          try {
            process.kill(pid, sig);
          } catch {
            return { done: true, value: undefined };
          }
        }
        return { done: false, status: `pid ${pid} still running` };
      },
      {
        what: `pid ${pid} to exit after ${sig}`,
        timeoutMs,
        intervalMs: 10,
        // A stop left halfway would let a later start() see the exiting process as running.
        cancellable: false,
        heartbeat: false,
        timedOut: () => new RuntimeError(address, `pid ${pid} did not exit within ${timeoutMs} ms after ${sig}`),
      },
    );
  }

  /** SIGTERM, re-sent every second; a node that has not exited after 30 s is killed, as `docker stop` does after its grace period. */
  async stop(address: string): Promise<void> {
    try {
      await this.signal(address, 'SIGTERM', 30_000);
    } catch {
      await this.signal(address, 'SIGKILL', 10_000);
    }
  }

  async kill(address: string): Promise<void> {
    await this.signal(address, 'SIGKILL', 10_000);
  }

  async replace(address: string, version: string): Promise<{ changed: boolean }> {
    this.binary(address, version);
    const running = (await this.pid(address)) !== undefined;
    if ((await this.version(address)) === version) {
      // Finish a replace that stopped between writing the version and starting the node.
      if (!running) await this.start(address);
      return { changed: false };
    }
    await this.stop(address);
    await privateFile(join(this.nodeDir(address), 'version'), `${version}\n`);
    await this.start(address);
    return { changed: true };
  }

  async checkVersion(address: string, version: string): Promise<void> {
    this.binary(address, version);
  }

  async readDataDir(address: string): Promise<Readable> {
    const dir = this.nodeDir(address);
    const entries = (await readdir(dir)).filter((e) => !RUNTIME_FILES.includes(e));
    return tarOf(address, dir, entries, `tar of ${dir}`);
  }

  async readDataFiles(address: string, paths: readonly string[]): Promise<Readable> {
    const dir = this.nodeDir(address);
    return tarOf(address, dir, paths, `tar of ${paths.join(', ')} in ${dir}`);
  }

  async writeDataDir(address: string, tar: Readable): Promise<void> {
    if (await this.pid(address)) throw new RuntimeError(address, 'is running: stop it before writing its data directory');
    const dir = this.nodeDir(address);
    await privateDir(dir);
    // Run as root, tar would restore the archive's modes as they are: --no-same-permissions
    // applies the umask (077) instead, so extracted data is not readable by others either.
    const child = spawnUmasked('tar', ['--no-same-permissions', '-C', dir, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    // Both are pipes (stdio above).
    const [stdin, stderrStream] = [child.stdin!, child.stderr!];
    let stderr = '';
    stderrStream.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    tar.on('error', (err) => stdin.destroy(err));
    tar.pipe(stdin);
    const code = await exited;
    if (code !== 0) throw new RuntimeError(address, `extracting into ${dir} failed (${code}): ${stderr.trim()}`);
    // An archive entry for the directory itself would have reset its mode.
    await chmod(dir, 0o700);
  }

  async cleanDataDir(address: string): Promise<void> {
    if (await this.pid(address)) throw new RuntimeError(address, 'is running: stop it before cleaning its data directory');
    const dir = this.nodeDir(address);
    const entries = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(entries.filter((e) => !RUNTIME_FILES.includes(e)).map((e) => rm(join(dir, e), { recursive: true, force: true })));
  }

  async deprovision(address: string): Promise<void> {
    // Its data is going away, so there is nothing for a graceful stop to flush.
    await this.kill(address);
    await rm(this.nodeDir(address), { recursive: true, force: true });
  }
}

/**
 * A tar archive of `paths` in `dir`, as a stream that ends only once tar has exited 0 (and fails
 * with its stderr otherwise). tar's stdout is piped at once: Node discards what a child wrote to
 * a pipe nobody reads when the child exits, and a small directory is archived before a caller
 * that first awaits something (a mkdir, a chmod) starts reading.
 */
function tarOf(address: string, dir: string, paths: readonly string[], what: string): Readable {
  // tar refuses to write an archive of nothing; an empty directory is the end-of-archive blocks alone.
  if (paths.length === 0) return Readable.from([Buffer.alloc(1024)]);
  const child = spawn('tar', ['-C', dir, '-cf', '-', '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnvironment() });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.pipe(out, { end: false });
  child.on('error', (err) => out.destroy(new RuntimeError(address, `cannot run tar: ${err.message}`)));
  // 'close' comes after stdout has ended, so `out` has every byte by then.
  child.on('close', (code) => (code === 0 ? out.end() : out.destroy(new RuntimeError(address, `${what} failed (${code}): ${stderr.trim()}`))));
  return out;
}

/**
 * Whether a process still runs. A daemonized redis-server is reparented to init, which may reap
 * it late: a zombie has stopped serving, so it counts as exited.
 */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/^\d+ \(.*\) Z/.test(stat);
}
