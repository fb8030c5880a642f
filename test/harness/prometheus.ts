/**
 * A real Prometheus for the metrics suite: Debian's prometheus (installed by scripts/setup.sh)
 * on 127.0.0.1, scraping the run's worker every second and loading the repository's alert rules,
 * its storage in a directory of the run. Test-only, so it lives under test/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChildServer } from './childServer';

export interface Prometheus {
  url: string;
  /** The series of an instant query, each with its value. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: { port: number; dir: string; target: string; ruleFiles: string[] }): Promise<Prometheus> {
  const address = `127.0.0.1:${options.port}`;
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
  const url = `http://${address}`;
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const server = await startChildServer({
    name: 'prometheus',
    command: 'prometheus',
    args: [`--config.file=${config}`, `--storage.tsdb.path=${join(options.dir, 'data')}`, `--web.listen-address=${address}`],
    address,
    logFile: join(options.dir, 'prometheus.log'),
    ready: async () => (await fetch(`${url}/-/ready`)).ok || 'not ready yet',
    timeoutMs: 30_000,
  });
  return {
    url,
    get,
    async query(expr) {
      const data = await get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    stop: () => server.stop(),
  };
}
