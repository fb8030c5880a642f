/**
 * CLUSTER NODES parsing (Redis 7.0 to 8.x). The same line format is used by nodes.conf,
 * which nodesConf.ts parses for rewriting; this module is for reading live topology.
 */
import { parseSlotRange, type SlotRange } from './slots';

export type NodeRole = 'master' | 'replica';

export interface OpenSlot {
  slot: number;
  /** The other node of the move: the target for MIGRATING, the source for IMPORTING. */
  peerId: string;
}

export interface ClusterNode {
  id: string;
  /** "host:port", the address clients use. Empty when the node has no address yet (noaddr). */
  address: string;
  host: string;
  port: number;
  busPort: number;
  hostname?: string;
  /** Extra fields after the address (Redis 7.2+: shard-id, tls-port, ...). */
  aux: Record<string, string>;
  flags: string[];
  myself: boolean;
  role: NodeRole;
  masterId: string | null;
  pingSent: number;
  pongReceived: number;
  configEpoch: number;
  linkState: 'connected' | 'disconnected';
  slots: SlotRange[];
  migrating: OpenSlot[];
  importing: OpenSlot[];
}

/** Flags that mean the node is considered failing (by this view or by the cluster). */
export const FAILURE_FLAGS = ['fail', 'fail?', 'handshake', 'noaddr'] as const;

export function parseNodeAddress(field: string): Pick<ClusterNode, 'address' | 'host' | 'port' | 'busPort' | 'hostname' | 'aux'> {
  const [hostPortBus = '', ...extras] = field.split(',');
  const aux: Record<string, string> = {};
  let hostname: string | undefined;
  extras.forEach((extra, index) => {
    const eq = extra.indexOf('=');
    if (eq > 0) aux[extra.slice(0, eq)] = extra.slice(eq + 1);
    else if (index === 0 && extra !== '') hostname = extra;
  });
  const at = hostPortBus.lastIndexOf('@');
  const hostPort = at === -1 ? hostPortBus : hostPortBus.slice(0, at);
  const busPort = at === -1 ? 0 : Number(hostPortBus.slice(at + 1));
  const colon = hostPort.lastIndexOf(':');
  const host = colon === -1 ? hostPort : hostPort.slice(0, colon);
  const port = colon === -1 ? 0 : Number(hostPort.slice(colon + 1));
  const address = host === '' || port === 0 ? '' : `${host}:${port}`;
  return { address, host, port, busPort, hostname, aux };
}

/** Parses one line of CLUSTER NODES. */
export function parseClusterNodeLine(line: string): ClusterNode {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 8) throw new Error(`not a CLUSTER NODES line: "${line}"`);
  const [id, addr, flagField, master, pingSent, pongReceived, epoch, link, ...slotFields] = fields as [
    string, string, string, string, string, string, string, string, ...string[]
  ];
  const flags = flagField === 'noflags' ? [] : flagField.split(',');
  const slots: SlotRange[] = [];
  const migrating: OpenSlot[] = [];
  const importing: OpenSlot[] = [];
  for (const field of slotFields) {
    const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(field);
    if (open) {
      const entry = { slot: Number(open[1]), peerId: open[3]! };
      (open[2] === '>' ? migrating : importing).push(entry);
    } else {
      slots.push(parseSlotRange(field));
    }
  }
  return {
    id,
    ...parseNodeAddress(addr),
    flags,
    myself: flags.includes('myself'),
    role: flags.includes('slave') ? 'replica' : 'master',
    masterId: master === '-' ? null : master,
    pingSent: Number(pingSent),
    pongReceived: Number(pongReceived),
    configEpoch: Number(epoch),
    linkState: link === 'connected' ? 'connected' : 'disconnected',
    slots,
    migrating,
    importing,
  };
}

/** Parses the whole CLUSTER NODES reply. */
export function parseClusterNodes(reply: string): ClusterNode[] {
  return reply
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map(parseClusterNodeLine);
}

export function isFailing(node: ClusterNode): boolean {
  return node.flags.some((f) => (FAILURE_FLAGS as readonly string[]).includes(f));
}
