/**
 * A real image registry on this machine for the pull tests: Debian's docker-registry
 * (distribution 2.8, installed by scripts/setup.sh) on 127.0.0.1, with htpasswd users, its
 * storage in a directory of the run. Docker treats registries on 127.0.0.0/8 as insecure (plain
 * HTTP) without configuration. Test-only, so it lives under test/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChildServer } from './childServer';

export interface Registry {
  /** "127.0.0.1:<port>": image references start with it. */
  address: string;
  stop(): Promise<void>;
}

/** Starts docker-registry on 127.0.0.1:`port`, serving `dir`, with one user (bcrypt, as distribution requires). */
export async function startRegistry(options: { port: number; dir: string; username: string; password: string }): Promise<Registry> {
  const address = `127.0.0.1:${options.port}`;
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
  const server = await startChildServer({
    name: 'docker-registry',
    command: 'docker-registry',
    args: ['serve', config],
    address,
    logFile: join(options.dir, 'registry.log'),
    // The API root asks for credentials: a 401 is a registry that is up.
    ready: async () => {
      const res = await fetch(`http://${address}/v2/`);
      await res.arrayBuffer();
      return res.status === 401 || `/v2/ answered ${res.status}`;
    },
  });
  return { address, stop: () => server.stop() };
}
