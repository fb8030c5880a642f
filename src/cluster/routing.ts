/**
 * The runbook's '"MOVED" Errors in Application': which keys probe each slot range, what a
 * redirect reply says, and what it means when one reaches a client. Pure.
 */
import { canaryKeys } from './failover';
import type { ClusterNode } from './nodes';
import { formatSlotRange } from './slots';

/** Keys whose slots fall in one master's slot range. */
export interface RangeProbe {
  range: string;
  owner: { id: string; address: string };
  keys: string[];
}

/** `keysPerRange` keys in every slot range of every serving master, in slot order. */
export function routingProbes(view: readonly ClusterNode[], keysPerRange: number, runId: string): RangeProbe[] {
  return view
    .filter((n) => n.role === 'master' && !n.flags.includes('fail'))
    .flatMap((m) => m.slots.map((r) => ({ r, owner: { id: m.id, address: m.address } })))
    .sort((a, b) => a.r.start - b.r.start)
    .map(({ r, owner }) => ({ range: formatSlotRange(r), owner, keys: canaryKeys([r], keysPerRange, `routing-${runId}`) }));
}

export interface Redirect {
  kind: 'MOVED' | 'ASK';
  slot: number;
  address: string;
}

/** "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381", as a reply error says it. */
export function parseRedirect(message: string): Redirect | undefined {
  const m = /^(?:ReplyError: )?(MOVED|ASK) (\d+) (\S+)/.exec(message.trim());
  return m ? { kind: m[1] as 'MOVED' | 'ASK', slot: Number(m[2]), address: m[3]! } : undefined;
}

/** What the client saw for one range: each key written, read back, then deleted. */
export interface RangeResult {
  range: string;
  /** The master the cluster's map gives the range to. */
  owner: string;
  keys: number;
  /** Written and read back with the same value. */
  ok: number;
  moved: number;
  ask: number;
  /** Any other error (CLUSTERDOWN, a wrong value, a dropped connection). */
  errors: number;
  /** Where the first redirect pointed. */
  redirectedTo?: string;
  /** The first error other than a redirect. */
  error?: string;
}

export interface RoutingVerdict {
  through: 'proxy' | 'node';
  address: string;
  /** Whether what the client saw is what it should see there. */
  asExpected: boolean;
  /** Ranges where MOVED or ASK reached the client. */
  redirectedRanges: string[];
  ranges: RangeResult[];
  advice: string;
}

const list = (ranges: readonly RangeResult[]) => ranges.map((r) => `${r.range} (${r.owner})`).join(', ');

/** The runbook's advice for what reached the client through the proxy or on a plain connection to one node. */
export function judgeRouting(through: 'proxy' | 'node', address: string, ranges: RangeResult[]): RoutingVerdict {
  const redirected = ranges.filter((r) => r.moved + r.ask > 0);
  const failing = ranges.filter((r) => r.errors > 0);
  const asks = ranges.filter((r) => r.ask > 0);
  const base = { through, address, redirectedRanges: redirected.map((r) => r.range), ranges };
  const errorText = failing.length ? ` Errors on ${list(failing)}: ${failing[0]!.error}.` : '';
  const askText = asks.length ? ` ASK on ${list(asks)}: those slots are being migrated (an open slot); see clusterHealth OPEN_SLOT, repairCluster closes it.` : '';
  if (through === 'proxy') {
    if (redirected.length === 0 && failing.length === 0) {
      return { ...base, asExpected: true, advice: `No MOVED or ASK reached the client through ${address}: the proxy routes every slot range, so applications behind it need no cluster-aware client.` };
    }
    return { ...base, asExpected: false,
      advice: `${redirected.length ? `MOVED/ASK reached the client through ${address} for ${list(redirected)}: the proxy is not cluster-aware or misroutes. Point Envoy's redis_proxy at a cluster of type envoy.clusters.redis (it discovers the slot map and follows redirects), not a plain TCP or static upstream, and redeploy it (./scripts/deploy.sh envoy).` : `No redirect reached the client through ${address}, but some keys failed.`}${errorText}` };
  }
  const misplaced = redirected.filter((r) => r.owner === address && r.moved > 0);
  const foreign = ranges.filter((r) => r.owner !== address);
  const expectedMoved = foreign.every((r) => r.moved === r.keys);
  const asExpected = misplaced.length === 0 && failing.length === 0 && asks.length === 0 && expectedMoved;
  const moved = redirected.filter((r) => r.moved > 0 && r.owner !== address);
  const lead = moved.length
    ? `A plain (not cluster-aware) connection to ${address} got MOVED for the ranges other masters own: ${list(moved)}. That is expected: an application that connects to nodes directly must use a Redis Cluster-aware client (one that follows MOVED and ASK), or go through the proxy (Envoy, RedisForge's default), which handles redirects for it.`
    : `A plain connection to ${address} got no MOVED: ${foreign.length ? 'unexpected, the other masters\' ranges should redirect' : 'it owns every slot'}.`;
  const wrong = misplaced.length ? ` ${address} redirected ranges the cluster's map gives to it (${list(misplaced)}): the slot map is not settled; run clusterHealth.` : '';
  return { ...base, asExpected, advice: `${lead}${wrong}${askText}${errorText}` };
}

/** The verdict when nothing could be asked at `address`. */
export function unreachableVerdict(through: 'proxy' | 'node', address: string, error: string): RoutingVerdict {
  const what = through === 'proxy' ? 'the client endpoint' : 'the node';
  return { through, address, asExpected: false, redirectedRanges: [], ranges: [],
    advice: `Cannot reach ${what} ${address}: ${error}. ${through === 'proxy' ? 'Check the proxy runs and listens there (docker ps; ./scripts/deploy.sh envoy), or fix clientEndpoint in the inventory.' : 'Check the node runs (clusterHealth).'}` };
}
