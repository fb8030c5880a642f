/**
 * A server the tests run as a child process (versitygw, docker-registry, prometheus): started with
 * its output in a log, awaited until it answers, killed if the test process exits first, stopped
 * gracefully at the end. Test-only.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { stopChild } from '../../src/util/childProcess';
import { pollUntil } from '../../src/util/polling';
import { acceptsConnections } from '../../src/util/ports';

export interface ChildServer {
  pid: number;
  stop(): Promise<void>;
}

export interface ChildServerOptions {
  /** What it is, for messages: "versitygw". */
  name: string;
  command: string;
  args: string[];
  /** "127.0.0.1:port": refused when something answers there already. */
  address: string;
  /** Where its output goes; absent: ignored. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves true once it serves, or a status string saying what it answered meanwhile. */
  ready: () => Promise<true | string>;
  /** @default 15000 */
  timeoutMs?: number;
}

export async function startChildServer(o: ChildServerOptions): Promise<ChildServer> {
  if (await acceptsConnections(o.address)) throw new Error(`${o.address} is in use: is another ${o.name} (or test run) using it? Stop it or choose another port`);
  const out = o.logFile ? openSync(o.logFile, 'a') : 'ignore';
  const child = spawn(o.command, o.args, { stdio: ['ignore', out, out], env: o.env ?? process.env });
  if (typeof out === 'number') closeSync(out);
  let exited: number | null = null;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : 0)));
  // A crashed or killed test run must not leave the server holding its port.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const logHint = o.logFile ? `; see ${o.logFile}` : '';
  const timeoutMs = o.timeoutMs ?? 15_000;
  try {
    await pollUntil(
      async () => {
        if (exited !== null) throw new Error(`${o.name} exited with ${exited} before answering on ${o.address}${logHint}`);
        const state = await o.ready().catch(() => 'not listening yet');
        return state === true ? { done: true, value: undefined } : { done: false, status: state };
      },
      { what: `${o.name} on ${o.address}`, timeoutMs, timedOut: (w) => new Error(`${o.name} did not answer on ${o.address} within ${timeoutMs} ms (last: ${w.status})${logHint}`) },
    );
  } catch (err) {
    if (exited === null) child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw err;
  }
  return {
    pid: child.pid!,
    async stop() {
      process.off('exit', killOnExit);
      await stopChild(child, 5_000);
    },
  };
}
