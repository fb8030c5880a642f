/**
 * Hosts for the multi-host suite: Linux network namespaces joined by a bridge, on a test subnet
 * (198.18.<instance>.0/24, RFC 2544's benchmarking range) that exists only on the interfaces made
 * here and removed at the end. Each host has its own address and its own loopback; the bridge's
 * address (.254) is the root namespace's way in, where the test, the central worker and Temporal
 * run. The agents inside reach Temporal through a forwarder on that address.
 */
import { execFile } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { TEMPORAL_PORT, TEST_INSTANCE } from './env';

const run = promisify(execFile);

export interface TestHost {
  /** The inventory's host name: h1, h2, ... */
  name: string;
  /** The network namespace it is. */
  ns: string;
  ip: string;
}

const PREFIX = `rf${TEST_INSTANCE}`;
export const SUBNET = `198.18.${TEST_INSTANCE}`;
export const BRIDGE_IP = `${SUBNET}.254`;
const BRIDGE = `${PREFIX}br`;

export function testHost(index: number): TestHost {
  return { name: `h${index}`, ns: `${PREFIX}h${index}`, ip: `${SUBNET}.${index}` };
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

/** The pids of every process in the namespace (the agent and its nodes). */
export async function pidsIn(host: TestHost): Promise<number[]> {
  const out = await ip('netns', 'pids', host.ns).catch(() => '');
  return out.split('\n').filter(Boolean).map(Number);
}

/** SIGKILLs every process of the host: the machine is lost, its agent and nodes with it. */
export async function loseHost(host: TestHost): Promise<number[]> {
  const pids = await pidsIn(host);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  return pids;
}

async function removeAll(count: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    const host = testHost(i);
    await loseHost(host);
    await ip('netns', 'del', host.ns).catch(() => undefined);
  }
  await ip('link', 'del', BRIDGE).catch(() => undefined);
}

export interface TestHosts {
  hosts: TestHost[];
  /** Removes the namespaces, their processes, the bridge and the forwarder. */
  remove(): Promise<void>;
}

/** Makes `count` hosts (what an earlier run left is removed first) and the forwarder to Temporal. */
export async function createTestHosts(count: number): Promise<TestHosts> {
  await removeAll(count);
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  await ip('addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE);
  await ip('link', 'set', BRIDGE, 'up');
  const hosts: TestHost[] = [];
  for (let i = 1; i <= count; i++) {
    const host = testHost(i);
    await ip('netns', 'add', host.ns);
    await ip('link', 'add', `${host.ns}b`, 'type', 'veth', 'peer', 'name', `${host.ns}n`);
    await ip('link', 'set', `${host.ns}n`, 'netns', host.ns);
    await ip('link', 'set', `${host.ns}b`, 'master', BRIDGE, 'up');
    await ip('-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', `${host.ns}n`);
    await ip('-n', host.ns, 'link', 'set', `${host.ns}n`, 'up');
    await ip('-n', host.ns, 'link', 'set', 'lo', 'up');
    hosts.push(host);
  }
  const forwarder = await forwardTemporal();
  return {
    hosts,
    async remove() {
      await new Promise<void>((resolve) => forwarder.close(() => resolve()));
      await removeAll(count);
    },
  };
}

/** Where the agents find Temporal: the bridge's address, forwarded to the run's dev server on 127.0.0.1. */
export const AGENT_TEMPORAL_ADDRESS = `${BRIDGE_IP}:${TEMPORAL_PORT}`;

function forwardTemporal(): Promise<Server> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: '127.0.0.1', port: TEMPORAL_PORT });
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close);
    outbound.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: BRIDGE_IP, port: TEMPORAL_PORT }, () => resolve(server));
    // Closing waits for open connections: the agents' are cut at once.
    const close = server.close.bind(server);
    server.close = (cb) => {
      for (const s of open) s.destroy();
      return close(cb);
    };
  });
}
