/**
 * Who belongs to the cluster and who may be counted out: pure decisions of addNode and
 * removeNode over what the nodes report.
 */
import type { NodeObservation } from './health';

/** -1, 0 or 1 as redis_version `a` is older than, the same as or newer than `b` ("7.0.15", "8.0.2"). */
export function compareRedisVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export interface DeathVerdict {
  dead: boolean;
  /** Other masters (by address) that answered, and those of them that flag the node `fail`. */
  voters: string[];
  flaggingFail: string[];
  /** The other masters of the cluster, answering or not: a majority is counted over them. */
  otherMasters: number;
  why: string;
}

/**
 * A master counts as dead only when a majority of the other masters flag it `fail` (the
 * cluster's own failure verdict), never because the worker cannot reach it: a node that hangs,
 * or that only the worker cannot reach, still serves writes, and giving its slots away would
 * make two masters for them.
 */
export function deathVerdict(observations: readonly NodeObservation[], nodeId: string, otherMasterIds: readonly string[]): DeathVerdict {
  const voters = observations.filter((o) => {
    const me = o.view?.find((n) => n.myself);
    return !o.error && me && me.id !== nodeId && otherMasterIds.includes(me.id) && me.role === 'master';
  });
  const flagging = voters.filter((o) => o.view!.some((n) => n.id === nodeId && n.flags.includes('fail')));
  const needed = Math.floor(otherMasterIds.length / 2) + 1;
  const dead = flagging.length >= needed;
  return {
    dead,
    voters: voters.map((o) => o.address),
    flaggingFail: flagging.map((o) => o.address),
    otherMasters: otherMasterIds.length,
    why: `${flagging.length} of the ${otherMasterIds.length} other masters flag it fail (${needed} needed)${flagging.length ? `: ${flagging.map((o) => o.address).join(', ')}` : ''}`,
  };
}
