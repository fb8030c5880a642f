/** The redis.conf of a TLS node, and the Docker endpoints the worker refuses. */
import { generateKeyPairSync, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../src/config';
import { dockerOptions, knownHostKey } from '../../src/runtime/dockerEndpoint';
import { nodeConf } from '../../src/runtime/redisConf';
import { serverTls } from '../../src/runtime/tlsConf';

const base = { address: '127.0.0.1:7001', dir: '/data', nodeTimeoutMs: 5000, secrets: { password: 'pw' }, extraConfig: {}, daemonize: false };
const tls = { certFile: '/etc/redisforge/tls/node.crt', keyFile: '/etc/redisforge/tls/node.key', caFile: '/etc/redisforge/tls/ca.crt', authClients: 'yes' as const };
const directives = (conf: string) => conf.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ', 1)[0]!);

test('a TLS node: its port is the TLS port, plaintext off, replication and the bus on TLS', () => {
  const conf = nodeConf({ ...base, tls });
  expect(conf).toContain('\nport 0\n');
  expect(conf).toContain('\ntls-port 7001\n');
  for (const line of ['tls-replication yes', 'tls-cluster yes', 'tls-auth-clients yes', 'tls-cert-file "/etc/redisforge/tls/node.crt"', 'tls-key-file "/etc/redisforge/tls/node.key"', 'tls-ca-cert-file "/etc/redisforge/tls/ca.crt"']) {
    expect(conf).toContain(`\n${line}\n`);
  }
  // One port line: Redis would take the last, so a second one could turn plaintext back on.
  expect(directives(conf).filter((d) => d === 'port')).toHaveLength(1);
  expect(nodeConf({ ...base, tls: { ...tls, plaintextPortOffset: 1000 } })).toContain('\nport 8001\n');
  expect(nodeConf(base)).toContain('\nport 7001\n');
  expect(nodeConf(base)).not.toContain('tls-');
});

test('tls.server: the CA defaults to the client-side caFile, and one of them is required', () => {
  const inventory = (t: unknown) => parseInventory({ clusters: { main: { nodes: ['127.0.0.1:7001'], tls: t } } }, 'inv.json', '/etc/rf');
  expect(serverTls('main', inventory({ caFile: 'ca.crt', server: { certFile: 'n.crt', keyFile: 'n.key' } }).clusters.main)).toEqual({
    certFile: '/etc/rf/n.crt', keyFile: '/etc/rf/n.key', caFile: '/etc/rf/ca.crt', authClients: 'yes', plaintextPortOffset: undefined,
  });
  expect(serverTls('main', inventory({ caFile: 'ca.crt' }).clusters.main)).toBeUndefined();
  expect(() => serverTls('main', inventory({ server: { certFile: 'n.crt', keyFile: 'n.key' } }).clusters.main)).toThrow('clusters.main.tls.server.caFile');
});

test('docker endpoints: plain tcp:// and unchecked ssh:// are refused unless insecure', () => {
  expect(() => dockerOptions('tcp://10.0.0.5:2375')).toThrow(/plain HTTP .*tls\.caFile, tls\.certFile and tls\.keyFile.*"insecure": true/);
  expect(() => dockerOptions('https://10.0.0.5:2376')).toThrow(/TLS without a client certificate/);
  expect(dockerOptions('tcp://10.0.0.5:2375', undefined, { insecure: true })).toMatchObject({ protocol: 'http', port: 2375 });
  expect(() => dockerOptions('ssh://ops@10.0.0.5')).toThrow(/sshKnownHostsFile.*ssh-keyscan -p 22 10\.0\.0\.5/);
  expect(dockerOptions('ssh://ops@10.0.0.5', undefined, { insecure: true })).toMatchObject({ protocol: 'ssh', host: '10.0.0.5', username: 'ops' });
  expect(dockerOptions('/var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
});

test('ssh:// host keys are checked against known_hosts, plain and hashed entries', () => {
  const key = (generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(12);
  const other = randomBytes(32);
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.6]:2222').digest('base64')}`;
  const text = `# comment\n10.0.0.5,docker-a ssh-ed25519 ${key.toString('base64')}\n${hashed} ssh-ed25519 ${key.toString('base64')}\n`;
  expect(knownHostKey(text, '10.0.0.5', 22, key)).toBe(true);
  expect(knownHostKey(text, 'docker-a', 22, key)).toBe(true);
  expect(knownHostKey(text, '10.0.0.5', 22, other)).toBe(false);
  expect(knownHostKey(text, '10.0.0.7', 22, key)).toBe(false);
  expect(knownHostKey(text, '10.0.0.6', 2222, key)).toBe(true);
  expect(knownHostKey(text, '10.0.0.6', 22, key)).toBe(false);

  const file = join(mkdtempSync(join(tmpdir(), 'rf-known-')), 'known_hosts');
  writeFileSync(file, text);
  const options = dockerOptions('ssh://ops@10.0.0.5', undefined, { sshKnownHostsFile: file }) as { sshOptions: { hostVerifier: (k: Buffer) => boolean } };
  expect(options.sshOptions.hostVerifier(key)).toBe(true);
  expect(options.sshOptions.hostVerifier(other)).toBe(false);
});
