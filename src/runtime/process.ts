/**
 * The `process` runtime: each node is a local redis-server started from a generated config
 * file in <baseDir>/<port>/, daemonized so it outlives the worker that started it. The node
 * directory holds the runtime's own files (redis.conf, redis.log, redis.pid, version) and the
 * node's data (appendonlydir, nodes.conf).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ProcessRuntimeConfig } from '../config';
import type { NodeSecrets } from '../credentials';
import { splitAddress } from '../cluster/address';
import { nodeConf } from './redisConf';
import { RuntimeError, type NodeRuntime, type NodeStatus } from './types';
import { awaitPort, sleep } from './wait';

const RUNTIME_FILES = ['redis.conf', 'redis.log', 'redis.pid', 'version'];

export class ProcessRuntime implements NodeRuntime {
  readonly kind = 'process' as const;

  constructor(
    private readonly config: ProcessRuntimeConfig,
    private readonly secrets: NodeSecrets = {},
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
      await mkdir(this.nodeDir(address), { recursive: true });
      await writeFile(join(this.nodeDir(address), 'version'), `${version}\n`);
    }
    await this.start(address);
  }

  async start(address: string): Promise<void> {
    if (await this.pid(address)) return;
    const dir = this.nodeDir(address);
    const log = join(dir, 'redis.log');
    await mkdir(dir, { recursive: true });
    const confPath = join(dir, 'redis.conf');
    const extraConfig = {
      // Nodes on one machine gain nothing from the default 5 s wait for more replicas before a
      // diskless full sync: a new replica is in sync at once. extraConfig can set it back.
      'repl-diskless-sync-delay': '0',
      ...this.config.extraConfig,
    };
    const conf = nodeConf({ address, dir, nodeTimeoutMs: this.config.nodeTimeoutMs, secrets: this.secrets, extraConfig, daemonize: true });
    await writeFile(confPath, conf, { mode: 0o600 });
    const binary = this.binary(address, await this.version(address));
    await new Promise<void>((resolve, reject) => {
      const child = spawn(binary, [confPath], { stdio: 'ignore' });
      child.on('error', (err) => reject(new RuntimeError(address, `cannot run ${binary}: ${err.message}`)));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new RuntimeError(address, `redis-server exited with ${code}; see ${log}`))));
    });
    await awaitPort(address, 30_000, () => `see ${log}`);
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
    const deadline = Date.now() + timeoutMs;
    let sent = Date.now();
    while (Date.now() < deadline) {
      if (!(await alive(pid))) return;
      // Redis refuses a SIGTERM while it writes its first AOF after a full sync ("Writing
      // initial AOF, can't exit") and does not retry by itself: ask again every second.
      if (sig === 'SIGTERM' && Date.now() - sent >= 1000) {
        sent = Date.now();
        try {
          process.kill(pid, sig);
        } catch {
          return;
        }
      }
      await sleep(10);
    }
    throw new RuntimeError(address, `pid ${pid} did not exit within ${timeoutMs} ms after ${sig}`);
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

  async restart(address: string): Promise<void> {
    await this.stop(address);
    await this.start(address);
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
    await writeFile(join(this.nodeDir(address), 'version'), `${version}\n`);
    await this.start(address);
    return { changed: true };
  }

  async checkVersion(address: string, version: string): Promise<void> {
    this.binary(address, version);
  }

  async readDataDir(address: string): Promise<Readable> {
    const dir = this.nodeDir(address);
    const entries = (await readdir(dir)).filter((e) => !RUNTIME_FILES.includes(e));
    const child = spawn('tar', ['-C', dir, '-cf', '-', '--', ...entries], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      if (code !== 0) child.stdout.destroy(new RuntimeError(address, `tar of ${dir} failed (${code}): ${stderr.trim()}`));
    });
    return child.stdout;
  }

  async readDataFiles(address: string, paths: readonly string[]): Promise<Readable> {
    const dir = this.nodeDir(address);
    const child = spawn('tar', ['-C', dir, '-cf', '-', '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      if (code !== 0) child.stdout.destroy(new RuntimeError(address, `tar of ${paths.join(', ')} in ${dir} failed (${code}): ${stderr.trim()}`));
    });
    return child.stdout;
  }

  async writeDataDir(address: string, tar: Readable): Promise<void> {
    if (await this.pid(address)) throw new RuntimeError(address, 'is running: stop it before writing its data directory');
    const dir = this.nodeDir(address);
    await mkdir(dir, { recursive: true });
    const child = spawn('tar', ['-C', dir, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    tar.on('error', (err) => child.stdin.destroy(err));
    tar.pipe(child.stdin);
    const code = await exited;
    if (code !== 0) throw new RuntimeError(address, `extracting into ${dir} failed (${code}): ${stderr.trim()}`);
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
