/**
 * The runbook's '"MOVED" Errors': a plain client (not cluster-aware) writes and reads keys of
 * every slot range through one address, the proxy or a node, and records what came back.
 */
import { parseRedirect, type RangeProbe, type RangeResult } from '../../cluster';
import type { NodeConnector } from './connection';

/** Probe keys expire by themselves should the deletion at the end not happen. */
const PROBE_TTL_MS = 10 * 60 * 1000;

export function createRoutingActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /** The address applications use (clusters.<name>.clientEndpoint in the inventory), if any. */
    async clientEndpointOf(cluster: string): Promise<{ clientEndpoint?: string }> {
      return { clientEndpoint: connectorFor(cluster).cluster.clientEndpoint };
    },

    /**
     * SET, GET, then DEL each probe key over one plain connection to `address`, with the
     * cluster's credentials and TLS. A connection that cannot be made is reported, not retried.
     */
    async probeRouting(cluster: string, address: string, probes: RangeProbe[]): Promise<{ ranges: RangeResult[]; error?: string }> {
      try {
        return await connectorFor(cluster).withNode(address, async (redis) => {
          const written: string[] = [];
          const ranges: RangeResult[] = [];
          try {
            for (const probe of probes) {
              const r: RangeResult = { range: probe.range, owner: probe.owner.address, keys: probe.keys.length, ok: 0, moved: 0, ask: 0, errors: 0 };
              for (const key of probe.keys) {
                const value = `routingCheck:${key}`;
                try {
                  await redis.set(key, value, 'PX', PROBE_TTL_MS);
                  written.push(key);
                  const read = await redis.get(key);
                  if (read === value) r.ok++;
                  else {
                    r.errors++;
                    r.error ??= `GET ${key} returned ${read === null ? 'nothing' : 'another value'} after SET`;
                  }
                } catch (err) {
                  const message = (err as Error).message;
                  const redirect = parseRedirect(message);
                  if (redirect?.kind === 'MOVED') r.moved++;
                  else if (redirect?.kind === 'ASK') r.ask++;
                  else {
                    r.errors++;
                    r.error ??= message;
                  }
                  if (redirect) r.redirectedTo ??= redirect.address;
                }
              }
              ranges.push(r);
            }
          } finally {
            // One DEL per key: through a proxy, keys of different slots may not share a command.
            for (const key of written) await redis.del(key).catch(() => undefined);
          }
          return { ranges };
        });
      } catch (err) {
        return { ranges: [], error: (err as Error).message };
      }
    },
  };
}
