/**
 * The docker runtime against a real Docker engine: the failover drill, replace from
 * redisforge/redis:7.0.15 to 8.0.2 and the data directory, on six containers with host
 * networking. With CI=true a missing engine fails the run (globalSetup); elsewhere it is skipped.
 */
import { execFileSync } from 'node:child_process';
import { DockerRuntime } from '../../src/runtime';
import { replacedContainers } from '../../src/runtime/containers';
import { parseInventory } from '../../src/config';
import { runtimeSuite } from '../harness/runtimeSuite';
import { runInfo, testInventory } from '../harness/env';
import { runWorkflow, withRedis } from '../harness/cluster';
import { digestDataset, loadDataset } from '../harness/dataset';
import type { BackupReport } from '../../src/workflows/backupCluster';
import type { RestoreReport } from '../../src/workflows/restoreCluster';

const describeWithDocker = runInfo().dockerAvailable ? describe : describe.skip;

describeWithDocker('docker runtime', () => {
  runtimeSuite('docker', (cluster) => {
    test('a replaced container keeps its name, labels, command, mounts and restart policy', async () => {
      const runtime = cluster().runtime as DockerRuntime;
      const shard = (await cluster().health()).shards[0]!;
      const node = shard.replicas[0]!.address;
      const info = await runtime.docker(node).getContainer(runtime.containerName(node)).inspect();
      expect(info.Config.Image).toBe('redisforge/redis:8.0.2');
      expect(info.Config.Labels).toMatchObject({ 'redisforge.cluster': 'docker', 'redisforge.port': node.split(':')[1] });
      expect(info.Config.Labels['org.opencontainers.image.version']).toBe('8.0.2');
      expect(info.Config.Cmd).toEqual(['/etc/redisforge/redis.conf']);
      expect(info.HostConfig.NetworkMode).toBe('host');
      expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(info.Mounts.map((m) => m.Destination).sort()).toEqual(['/data', '/etc/redisforge']);
      const all = await runtime.docker(node).listContainers({ all: true, filters: { label: ['redisforge.cluster=docker'] } });
      expect(all).toHaveLength(6);
    });

    test('replace onto an image that exits at start: the old container is put back, same node id and data; kept aside until discarded otherwise', async () => {
      const runtime = cluster().runtime as DockerRuntime;
      const node = (await cluster().health()).shards[2]!.replicas[0]!.address;
      const docker = runtime.docker(node);
      // The classic builder uses the local base image; nothing is pulled.
      execFileSync('docker', ['build', '-q', '-t', 'redisforge/redis:broken', '-'], {
        input: 'FROM redisforge/redis:7.0.15\nENTRYPOINT ["/bin/sh", "-c", "echo broken build >&2; exit 3"]\n', env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'pipe'],
      });
      try {
        const before = await withRedis(node, async (r) => ({ id: String(await r.call('CLUSTER', 'MYID')), keys: await r.dbsize() }));
        await expect(runtime.replace(node, 'broken')).rejects.toThrow(`${node}: did not come up on redisforge/redis:broken`);
        expect(await runtime.version(node)).toBe('7.0.15');
        expect(await withRedis(node, async (r) => ({ id: String(await r.call('CLUSTER', 'MYID')), keys: await r.dbsize() }))).toEqual(before);
        expect(await replacedContainers(docker, runtime.containerName(node))).toEqual([]);

        // A good replace keeps the old container aside until the caller discards it.
        expect(await runtime.replace(node, '8.0.2')).toEqual({ changed: true });
        expect((await replacedContainers(docker, runtime.containerName(node))).map((c) => c.Image)).toEqual(['redisforge/redis:7.0.15']);
        await runtime.discardReplaced(node);
        expect(await replacedContainers(docker, runtime.containerName(node))).toEqual([]);
        expect((await cluster().healthUntil((r) => r.healthy)).healthy).toBe(true);
      } finally {
        await docker.getImage('redisforge/redis:broken').remove({ force: true }).catch(() => undefined);
      }
    });

    test('backupCluster reads each shard out of its container; restoreCluster puts it back into them', async () => {
      const c = cluster();
      await loadDataset(c.nodes[0]!, 2_000, 1, 100);
      const before = await digestDataset((await c.health()).shards.map((s) => s.master.address));
      // From the masters: one replica runs 8.0.2 now, whose AOF base a 7.0.15 master could not load.
      const backup = await runWorkflow<BackupReport>('backupCluster', { cluster: 'docker', store: 'local', source: 'master' });
      expect(backup.keys).toBe(before.keys);
      await withRedis(c.nodes[0]!, (r) => r.call('FLUSHALL').catch(() => undefined));
      const restored = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'docker', store: 'local', backupId: backup.backupId, approve: true });
      expect(restored.moved).toEqual({});
      const health = await c.healthUntil((r) => r.healthy, 60_000);
      expect(await digestDataset(health.shards.map((s) => s.master.address))).toEqual(before);
    });
  });
});

test('the docker runtime config is validated like the rest of the inventory', () => {
  expect(() => parseInventory({ ...testInventory(), runtimes: { x: { type: 'docker', endpoint: 5 } } })).toThrow(/runtimes.x.endpoint/);
});
