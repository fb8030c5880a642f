/**
 * An independent observer for bench/failover: plain ioredis, none of our code. Polls every node
 * every 20 ms and prints one JSON line per event, with the time it was first seen:
 *   fail      a survivor flags the old master fail
 *   promoted  the replica says myself,master
 *   ok        every survivor reports cluster_state:ok (after the promotion)
 *   rejoined  the old master says it is a replica of the new master
 *   linkUp    the old master's master_link_status:up
 * argv: password oldMasterAddress oldMasterId replicaAddress survivor1,survivor2,...
 */
import Redis from 'ioredis';

const [password, oldMaster, oldMasterId, replica, survivorList] = process.argv.slice(2) as [string, string, string, string, string];
const survivors = survivorList.split(',');
const seen: Record<string, number> = {};
const clients = new Map<string, Redis>();

function client(address: string): Redis {
  let c = clients.get(address);
  if (!c) {
    const [host, port] = address.split(':');
    c = new Redis({ host, port: Number(port), password, lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 200, retryStrategy: () => 50 });
    c.on('error', () => undefined);
    clients.set(address, c);
  }
  return c;
}

async function ask(address: string, ...args: string[]): Promise<string | undefined> {
  try {
    return String(await client(address).call(args[0]!, ...args.slice(1)));
  } catch {
    return undefined;
  }
}

function mark(event: string): void {
  if (seen[event] !== undefined) return;
  seen[event] = Date.now();
  console.log(JSON.stringify({ event, at: seen[event] }));
}

async function round(): Promise<void> {
  const nodes = await Promise.all(survivors.map((a) => ask(a, 'CLUSTER', 'NODES')));
  if (nodes.some((n) => n?.split('\n').some((l) => l.startsWith(oldMasterId) && l.split(' ')[2]!.split(',').includes('fail')))) mark('fail');
  const replicaView = nodes[survivors.indexOf(replica)];
  const me = replicaView?.split('\n').find((l) => l.includes('myself'));
  const newMasterId = me?.split(' ')[0];
  if (me?.split(' ')[2]!.includes('master')) mark('promoted');
  if (seen.promoted) {
    const infos = await Promise.all(survivors.map((a) => ask(a, 'CLUSTER', 'INFO')));
    if (infos.every((i) => i?.includes('cluster_state:ok'))) mark('ok');
    const oldView = await ask(oldMaster, 'CLUSTER', 'NODES');
    const oldMe = oldView?.split('\n').find((l) => l.includes('myself'));
    if (oldMe && oldMe.split(' ')[2]!.includes('slave') && oldMe.split(' ')[3] === newMasterId) {
      mark('rejoined');
      const rep = await ask(oldMaster, 'INFO', 'replication');
      if (rep?.includes('master_link_status:up')) mark('linkUp');
    }
  }
}

async function main(): Promise<void> {
  console.log(JSON.stringify({ event: 'ready', at: Date.now() }));
  const deadline = Date.now() + 120_000;
  while (seen.linkUp === undefined && Date.now() < deadline) {
    await round();
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const c of clients.values()) c.disconnect();
}

void main();
