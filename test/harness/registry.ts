/**
 * A real image registry on this machine for the pull tests: Debian's docker-registry
 * (distribution 2.8, installed by scripts/setup.sh) on 127.0.0.1, with htpasswd users, its
 * storage in a directory of the run. Docker treats registries on 127.0.0.0/8 as insecure (plain
 * HTTP) without configuration. Test-only, so it lives under test/.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from '../../src/util/childProcess';
import { pollUntil } from '../../src/util/polling';
import { acceptsConnections } from '../../src/util/ports';

export interface Registry {
  /** "127.0.0.1:<port>": image references start with it. */
  address: string;
  stop(): Promise<void>;
}

/** Starts docker-registry on 127.0.0.1:`port`, serving `dir`, with one user (bcrypt, as distribution requires). */
export async function startRegistry(options: { port: number; dir: string; username: string; password: string }): Promise<Registry> {
  const address = `127.0.0.1:${options.port}`;
  if (await acceptsConnections(address)) throw new Error(`port ${options.port} is in use: is another registry (or test run) using it? Stop it or choose another port`);
  mkdirSync(join(options.dir, 'data'), { recursive: true, mode: 0o700 });
  // The password reaches htpasswd on stdin (-i), not argv.
  const htpasswd = execFileSync('htpasswd', ['-niB', options.username], { input: options.password, encoding: 'utf8' });
  writeFileSync(join(options.dir, 'htpasswd'), htpasswd, { mode: 0o600 });
  const config = join(options.dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(options.dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "${address}" }`,
      `auth: { htpasswd: { realm: redisforge-test, path: ${join(options.dir, 'htpasswd')} } }`,
      '',
    ].join('\n'),
  );
  const logFile = join(options.dir, 'registry.log');
  const out = openSync(logFile, 'a');
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', out, out] });
  closeSync(out);
  let exited: number | null = null;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : 0)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    await pollUntil(
      async () => {
        if (exited !== null) throw new Error(`docker-registry exited with ${exited} before answering on ${address}; see ${logFile}`);
        try {
          // The API root asks for credentials: a 401 is a registry that is up.
          const res = await fetch(`http://${address}/v2/`);
          await res.arrayBuffer();
          return res.status === 401 ? { done: true, value: undefined } : { done: false, status: `/v2/ answered ${res.status}` };
        } catch {
          return { done: false, status: 'not listening yet' };
        }
      },
      { what: `docker-registry on ${address}`, timeoutMs: 15_000 },
    );
  } catch (err) {
    if (exited === null) child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw err;
  }
  return {
    address,
    async stop() {
      process.off('exit', killOnExit);
      await stopChild(child, 5_000);
    },
  };
}
