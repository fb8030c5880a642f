/**
 * Every node's view of the cluster, as one activity result that stays small as the cluster grows.
 * Each node's CLUSTER NODES lists every node, so N views hold N x N entries: at 90 nodes the plain
 * form passes Temporal's payload limit. Views agree on almost every entry, so the compact form
 * keeps each distinct entry once and each view as indices into that table. Pure: the activity
 * packs, the workflows unpack (and still read the plain arrays of histories from before).
 */
import type { NodeObservation } from './health';
import type { ClusterNode } from './nodes';

export interface CompactObservations {
  format: 'compact-views-1';
  /** Each distinct entry once, as a view lists it, with myself false and ping/pong times 0 (nothing reads them). */
  entries: ClusterNode[];
  /** The observations, each view as indices into `entries`; `self` is the index (in the view) of the node itself. */
  observations: (Omit<NodeObservation, 'view'> & { view?: number[]; self?: number })[];
}

export type CollectedObservations = NodeObservation[] | CompactObservations;

export function compactObservations(observations: readonly NodeObservation[]): CompactObservations {
  const entries: ClusterNode[] = [];
  const index = new Map<string, number>();
  const indexOf = (node: ClusterNode): number => {
    const entry = { ...node, myself: false, pingSent: 0, pongReceived: 0 };
    const key = JSON.stringify(entry);
    let i = index.get(key);
    if (i === undefined) {
      i = entries.push(entry) - 1;
      index.set(key, i);
    }
    return i;
  };
  return {
    format: 'compact-views-1',
    entries,
    observations: observations.map(({ view, ...rest }) => {
      if (!view) return rest;
      const self = view.findIndex((n) => n.myself);
      return { ...rest, view: view.map(indexOf), ...(self >= 0 ? { self } : {}) };
    }),
  };
}

/** The observations as the analysis reads them, from either form. */
export function expandObservations(collected: CollectedObservations): NodeObservation[] {
  if (Array.isArray(collected)) return collected;
  return collected.observations.map(({ view, self, ...rest }) =>
    view ? { ...rest, view: view.map((i, at) => ({ ...collected.entries[i]!, myself: at === self })) } : rest,
  );
}
