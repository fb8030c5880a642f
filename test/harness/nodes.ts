/** Cleanup of the nodes a test run started (processes and containers), even when a test failed midway. */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { LABEL_CLUSTER } from '../../src/runtime/docker';
import { NODES_DIR, TEST_CLUSTERS, TEST_INSTANCE } from './env';

export async function dockerAvailable(): Promise<{ ok: boolean; why?: string }> {
  try {
    await new Docker().ping();
    return { ok: true };
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
}

async function removeTestContainers(): Promise<void> {
  const docker = new Docker();
  const names = Object.entries(TEST_CLUSTERS).filter(([, c]) => c.runtime === 'docker').map(([name]) => name);
  for (const name of names) {
    const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CLUSTER}=${name}`] } });
    await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL_CLUSTER}=${name}`] } });
    await Promise.all((Volumes ?? []).map((v) => docker.getVolume(v.Name).remove()));
  }
}

export async function killLeftoverNodes(dir = NODES_DIR): Promise<void> {
  if (TEST_INSTANCE === 0 && (await dockerAvailable()).ok) await removeTestContainers();
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
