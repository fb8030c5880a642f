/** The checks of a workflow's one JSON input, before it contacts anything. */
import type { z } from 'zod';
import type { ClusterSpec } from '../activities';
import { addressInInventory } from '../cluster';
import { formatIssues } from '../validation';
import { invalidInput } from './failures';

/** Validates a workflow's one JSON input; a bad one fails the workflow at once, naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) throw invalidInput(formatIssues(result.error));
  return result.data;
}

/**
 * Problems with addresses an input names for new members (addNode's address, createCluster's
 * nodes): each must be a node of the cluster in the inventory or fall in its spareNodes, since the
 * worker would connect there with the cluster's credentials.
 */
export function addressesOutsideInventory(named: Record<string, string>, spec: Pick<ClusterSpec, 'name' | 'nodes' | 'spareNodes'>): string[] {
  // Specs recorded before spareNodes existed (old histories) have none.
  const spare = (spec.spareNodes as string[] | undefined) ?? [];
  return Object.entries(named)
    .filter(([, address]) => !addressInInventory(address, spec.nodes, spare))
    .map(([field, address]) => `${field}: "${address}" is not a node of cluster ${spec.name} in the worker's inventory, nor in its spareNodes (${spare.join(', ') || 'none'}); add it to clusters.${spec.name}.spareNodes (or clusters.${spec.name}.nodes) first`);
}
