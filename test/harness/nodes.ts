/** Cleanup of redis-server processes a test run started, even when a test failed midway. */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NODES_DIR } from './env';

export async function killLeftoverNodes(dir = NODES_DIR): Promise<void> {
  let clusters: string[] = [];
  try {
    clusters = readdirSync(dir);
  } catch {
    return;
  }
  for (const cluster of clusters) {
    for (const node of readdirSync(join(dir, cluster))) {
      try {
        const pid = Number(readFileSync(join(dir, cluster, node, 'redis.pid'), 'utf8'));
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmdline.includes('redis')) process.kill(pid, 'SIGKILL');
      } catch {
        // not running
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
