/**
 * A real Prometheus for the metrics suite: Debian's prometheus (installed by scripts/setup.sh)
 * on 127.0.0.1, scraping the run's worker every second and loading the repository's alert rules,
 * its storage in a directory of the run. Test-only, so it lives under test/.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from '../../src/util/childProcess';
import { pollUntil } from '../../src/util/polling';
import { acceptsConnections } from '../../src/util/ports';

export interface Prometheus {
  url: string;
  /** The value of an instant query (the first series), or undefined when it has none. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: { port: number; dir: string; target: string; ruleFiles: string[] }): Promise<Prometheus> {
  const address = `127.0.0.1:${options.port}`;
  if (await acceptsConnections(address)) throw new Error(`port ${options.port} is in use: is another Prometheus (or test run) using it? Stop it or choose another port`);
  mkdirSync(join(options.dir, 'data'), { recursive: true });
  const config = join(options.dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${options.ruleFiles.map((f) => JSON.stringify(f)).join(', ')}]`,
      'scrape_configs:',
      `  - { job_name: redisforge-worker, static_configs: [ { targets: ["${options.target}"] } ] }`,
      '',
    ].join('\n'),
  );
  const logFile = join(options.dir, 'prometheus.log');
  const out = openSync(logFile, 'a');
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(options.dir, 'data')}`, `--web.listen-address=${address}`], { stdio: ['ignore', out, out] });
  closeSync(out);
  let exited: number | null = null;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : 0)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://${address}`;
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  try {
    await pollUntil(
      async () => {
        if (exited !== null) throw new Error(`prometheus exited with ${exited} before it was ready on ${address}; see ${logFile}`);
        const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
        return ready ? { done: true, value: undefined } : { done: false, status: 'not ready yet' };
      },
      { what: `prometheus on ${address}`, timeoutMs: 30_000 },
    );
  } catch (err) {
    if (exited === null) child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw err;
  }
  return {
    url,
    get,
    async query(expr) {
      const data = await get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async stop() {
      process.off('exit', killOnExit);
      await stopChild(child, 5_000);
    },
  };
}
