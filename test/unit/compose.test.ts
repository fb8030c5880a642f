/** docker-compose.yml, envoy.yaml and the compose inventory agree with each other. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadInventory } from '../../src/config';
import { DockerRuntime } from '../../src/runtime';
import { composeSecretFiles } from '../../scripts/compose-secrets';

const ROOT = join(__dirname, '..', '..');
type Service = { labels?: Record<string, string>; command?: string[]; network_mode?: string; volumes?: string[]; container_name?: string; secrets?: string[]; image?: string; restart?: string };
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; secrets: Record<string, unknown> };
const inventory = loadInventory(join(ROOT, 'docker', 'inventory.json'));
const envoy = parse(readFileSync(join(ROOT, 'docker', 'envoy', 'envoy.yaml'), 'utf8'));

const redisServices = Object.entries(compose.services).filter(([, s]) => s.labels?.['redisforge.cluster']);

test('six Redis nodes with host networking, one per inventory address, labelled as the docker runtime finds them', () => {
  const cluster = inventory.clusters.main!;
  expect(redisServices).toHaveLength(cluster.nodes.length);
  const runtimeConfig = inventory.runtimes[cluster.runtime!];
  expect(runtimeConfig?.type).toBe('docker');
  const runtime = new DockerRuntime('main', runtimeConfig as Extract<typeof runtimeConfig, { type: 'docker' }>);
  const addresses: string[] = [];
  for (const [, s] of redisServices) {
    const port = s.labels!['redisforge.port']!;
    expect(s.labels!['redisforge.cluster']).toBe('main');
    expect(s.network_mode).toBe('host');
    expect(s.restart).toBe('unless-stopped');
    const cmd = s.command!;
    expect(cmd[cmd.indexOf('--port') + 1]).toBe(port);
    expect(cmd[cmd.indexOf('--cluster-enabled') + 1]).toBe('yes');
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(cmd).not.toContain('--requirepass'); // the password comes from a secret file
    expect(s.volumes!.some((v) => v.endsWith(':/data'))).toBe(true);
    const address = `${cmd[cmd.indexOf('--bind') + 1]}:${port}`;
    expect(s.container_name).toBe(runtime.containerName(address));
    addresses.push(address);
  }
  expect(addresses.sort()).toEqual([...cluster.nodes].sort());
  expect(inventory.runtimes.compose).toMatchObject({ image: 'redisforge/redis' });
  expect(redisServices[0]![1].image).toBe('redisforge/redis:${REDIS_VERSION:-7.0.15}');
});

test('Envoy seeds the whole cluster and listens on the inventory client endpoint', () => {
  const listener = envoy.static_resources.listeners[0];
  const { address, port_value } = listener.address.socket_address;
  expect(`${address}:${port_value}`).toBe(inventory.clusters.main!.clientEndpoint);
  const filter = listener.filter_chains[0].filters[0];
  expect(filter.name).toBe('envoy.filters.network.redis_proxy');
  const upstream = envoy.static_resources.clusters[0];
  expect(upstream.cluster_type.name).toBe('envoy.clusters.redis');
  const seeds = upstream.load_assignment.endpoints[0].lb_endpoints.map((e: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`);
  expect(seeds.sort()).toEqual([...inventory.clusters.main!.nodes].sort());
  expect(compose.services.envoy!.network_mode).toBe('host');
});

test('the S3 store, Temporal with both search attributes, and the worker with its inventory', () => {
  const store = inventory.stores[inventory.clusters.main!.backupStore!];
  expect(store).toMatchObject({ type: 's3', forcePathStyle: true });
  const minioAddress = compose.services.minio!.command![compose.services.minio!.command!.indexOf('--address') + 1];
  expect((store as { endpoint: string }).endpoint).toBe(`http://${minioAddress}`);
  const temporal = compose.services.temporal!.command!;
  expect(temporal).toEqual(expect.arrayContaining(['RedisCluster=Keyword', 'RunbookOperation=Keyword']));
  expect(compose.services.worker!.volumes).toEqual(expect.arrayContaining(['./docker/inventory.json:/etc/redisforge/inventory.json:ro', '/var/run/docker.sock:/var/run/docker.sock']));
  expect(Object.keys(compose.secrets).sort()).toEqual(['app_password', 'operator_password', 'redis_auth_conf', 'replication_password']);
});

test('one ACL user per role: the worker is the operator, Envoy the application user, the default user is off', () => {
  const acl = inventory.clusters.main!.acl!;
  expect(acl.operator.passwordFile).toBe('/run/secrets/operator_password');
  expect(compose.services.worker!.secrets).toEqual(expect.arrayContaining(['operator_password', 'replication_password', 'app_password']));
  // Envoy holds the application password only: it cannot log in as the operator.
  expect(compose.services.envoy!.secrets).toEqual(['app_password']);
  const proxy = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  expect(proxy.downstream_auth_username).toEqual({ inline_string: acl.application.username });
  const upstream = envoy.static_resources.clusters[0].typed_extension_protocol_options['envoy.filters.network.redis_proxy'];
  expect(upstream.auth_username).toEqual({ inline_string: acl.application.username });
  expect(upstream.auth_password).toEqual({ filename: '/run/secrets/app_password' });

  const files = composeSecretFiles({ REDISFORGE_OPERATOR_PASSWORD: 'op-secret', REDISFORGE_REPLICATION_PASSWORD: 'repl-secret', REDISFORGE_APP_PASSWORD: 'app-secret' });
  const conf = files['redis_auth.conf']!;
  expect(conf).toMatch(/^user "default" "off"/m);
  expect(conf).toContain('"redisforge-operator" "on" "resetpass" ">op-secret"');
  expect(conf).toMatch(/^masteruser "redisforge-replication"$/m);
  expect(conf).toMatch(/^masterauth "repl-secret"$/m);
  expect(conf).toContain('-@admin');
  expect(files.app_password).toBe('app-secret');
});
