/**
 * TLS on containers: the docker runtime copies the node certificate, key and CA into each
 * node's config volume (0600, the redis user's), the nodes serve TLS only, form a cluster whose
 * replication and bus run over TLS, and keep it all through a replace onto 8.0.2.
 */
import { DockerRuntime } from '../../src/runtime';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import { password, runWorkflow } from '../harness/cluster';
import { runInfo } from '../harness/env';
import { plaintextAttempt, removeTlsNodes, startTlsNodes, TLS_CLUSTERS, withTlsNode } from '../harness/tls';
import { eventually } from '../helpers/waitFor';

const describeWithDocker = runInfo().dockerAvailable ? describe : describe.skip;
const name = 'docker-tls';
const { nodes } = TLS_CLUSTERS[name];

function healthy(timeoutMs = 60_000): Promise<ClusterHealthResult> {
  const health = () => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: name });
  return eventually(`${name} to be healthy`, health, (r) => r.healthy, { timeoutMs, everyMs: 250, fatal: () => true });
}

describeWithDocker('TLS on containers', () => {
  let runtime: DockerRuntime;

  beforeAll(async () => {
    runtime = (await startTlsNodes(name, password())) as DockerRuntime;
  });
  afterAll(async () => {
    await removeTlsNodes(name, password());
  });

  test('six TLS-only containers form a healthy cluster; redis-server runs as redis; the key is 0600', async () => {
    await runWorkflow('createCluster', { cluster: name });
    const report = await healthy();
    expect(report.summary).toMatchObject({ masters: 3, replicas: 3, slotsCovered: 16384 });
    for (const node of nodes) expect(await plaintextAttempt(node, password())).toMatch(/^refused/);
    for (const replica of report.shards.flatMap((s) => s.replicas)) {
      expect(await withTlsNode(replica.address, password(), (r) => r.info('replication'))).toContain('master_link_status:up');
    }
    const container = runtime.docker(nodes[0]!).getContainer(runtime.containerName(nodes[0]!));
    const exec = await container.exec({ Cmd: ['/bin/sh', '-c', '/bin/busybox id -un; ls -ln /etc/redisforge/tls/node.key'], AttachStdout: true, AttachStderr: true });
    const out = await new Promise<string>((resolve, reject) => {
      exec.start({}, (err, stream) => {
        if (err || !stream) return reject(err ?? new Error('no exec stream'));
        let text = '';
        stream.on('data', (c: Buffer) => (text += c.toString('latin1')));
        stream.on('end', () => resolve(text));
      });
    });
    expect(out).toContain('redis');
    expect(out).toMatch(/-rw------- +1 100 +101 /);
  });

  test('replace onto 8.0.2 keeps TLS: the node rejoins over TLS, plaintext still refused', async () => {
    const node = (await healthy()).shards[0]!.replicas[0]!.address;
    expect(await runtime.replace(node, '8.0.2')).toEqual({ changed: true });
    await runtime.discardReplaced(node);
    expect(await withTlsNode(node, password(), (r) => r.info('server'))).toContain('redis_version:8.0.2');
    expect(await plaintextAttempt(node, password())).toMatch(/^refused/);
    const report = await healthy();
    expect(report.findings.map((f) => f.code)).toEqual(['MIXED_VERSIONS']);
  });
});
