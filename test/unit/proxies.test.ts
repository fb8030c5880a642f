/** The inventory's `proxies` section: validated with the rest, and the compose stack's Envoy described in it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { InventoryError, loadInventory, parseInventory } from '../../src/config';

const ROOT = join(__dirname, '..', '..');
const base = {
  clusters: { main: { nodes: ['127.0.0.1:7001'], runtime: 'local' } },
  runtimes: { local: { type: 'process', baseDir: 'nodes' }, engine: { type: 'docker' } },
};

function problems(data: unknown): string[] {
  try {
    parseInventory(data);
  } catch (err) {
    if (err instanceof InventoryError) return err.problems;
    throw err;
  }
  return [];
}

test('a proxy names a docker runtime, its container, its client address and optionally Envoy admin', () => {
  const inv = parseInventory({ ...base, proxies: { edge: { runtime: 'engine', container: 'redisforge-envoy-1', address: '127.0.0.1:6380', adminUrl: 'http://127.0.0.1:9901' } } });
  expect(inv.proxies.edge).toEqual({ runtime: 'engine', container: 'redisforge-envoy-1', address: '127.0.0.1:6380', adminUrl: 'http://127.0.0.1:9901' });
  expect(parseInventory(base).proxies).toEqual({});
});

test('bad proxies are listed by their path, with the fix', () => {
  const found = problems({
    ...base,
    proxies: {
      nowhere: { runtime: 'missing', container: 'c', address: '127.0.0.1:6380' },
      local: { runtime: 'local', container: 'c', address: '127.0.0.1:6380' },
      broken: { runtime: 'engine', container: '', address: 'localhost', adminUrl: 'not a url', image: 'x' },
    },
  });
  expect(found).toEqual(expect.arrayContaining([
    'proxies.nowhere.runtime: no runtime "missing" under "runtimes" (have: local, engine)',
    'proxies.local.runtime: runtime "local" is of type process; a proxy runs in a container, so name a runtime of type docker',
    'proxies.broken.container: the name of the proxy container, e.g. "redisforge-envoy-1"',
    'proxies.broken.address: expected "host:port", e.g. "127.0.0.1:7001"',
    'proxies.broken: Unrecognized key: "image"',
  ]));
  expect(found.some((p) => p.startsWith('proxies.broken.adminUrl:'))).toBe(true);
});

test("the compose stack's Envoy is the inventory's proxy: container, client port and admin port", () => {
  const inventory = loadInventory(join(ROOT, 'docker', 'inventory.json'));
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { name: string; services: Record<string, { container_name?: string; image?: string }> };
  const envoy = parse(readFileSync(join(ROOT, 'docker', 'envoy', 'envoy.yaml'), 'utf8'));
  const proxy = inventory.proxies.envoy!;
  expect(inventory.runtimes[proxy.runtime]?.type).toBe('docker');
  // Compose names a service's container <project>-<service>-1 unless container_name is set.
  expect(proxy.container).toBe(compose.services.envoy!.container_name ?? `${compose.name}-envoy-1`);
  const listener = envoy.static_resources.listeners[0].address.socket_address;
  expect(proxy.address).toBe(`${listener.address}:${listener.port_value}`);
  expect(proxy.address).toBe(inventory.clusters.main!.clientEndpoint);
  const admin = envoy.admin.address.socket_address;
  expect(proxy.adminUrl).toBe(`http://${admin.address}:${admin.port_value}`);
  // deploy.sh's default image is the one compose builds from ENVOY_VERSION.
  expect(compose.services.envoy!.image).toBe('redisforge/envoy:${ENVOY_VERSION:-v1.31.2}');
  expect(readFileSync(join(ROOT, 'scripts', 'deploy.sh'), 'utf8')).toContain('image="redisforge/envoy:$version"');
});
