/**
 * Activities of the runbook's "Upgrade Envoy": the proxy container is recreated on a new image
 * the way Redis nodes are (recreateContainer), its readiness awaited, and the previous
 * container put back when it does not get ready. Each step is idempotent: a retry after a
 * crash tells from the containers' names where the last attempt stopped.
 */
import { createConnection } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import Docker from 'dockerode';
import { splitAddress } from '../cluster/address';
import type { Inventory, ProxyConfig } from '../config';
import { containerNamed, recreateContainer, replacedContainers, restoreReplaced } from '../runtime/containers';
import { dockerOptions } from '../runtime/docker';
import { heartbeating } from './heartbeat';
import { pollUntil } from '../util/polling';

/** What a workflow may know of a proxy. */
export interface ProxySpec {
  name: string;
  container: string;
  address: string;
  adminUrl?: string;
  /** The cluster whose clientEndpoint is this proxy, if any (for the search attributes). */
  cluster?: string;
}

export interface ProxyState {
  image: string;
  running: boolean;
  ready: boolean;
  readiness: string;
}

export interface ProxySwap {
  previousImage: string;
  image: string;
  /** False when the container already ran `image` and nothing was put aside. */
  changed: boolean;
  /** The previous container, renamed aside until the new one is ready. */
  replacedName?: string;
}

export interface ProxyReadiness {
  ready: boolean;
  waitedMs: number;
  /** The last readiness answer, and the container's state when it did not get ready. */
  status: string;
}

/** Ready: GET <adminUrl>/ready answers 200 "LIVE" (Envoy), or without an admin URL, a PING through the proxy is answered. */
export async function checkProxyReady(proxy: Pick<ProxyConfig, 'address' | 'adminUrl'>): Promise<{ ready: boolean; status: string }> {
  if (!proxy.adminUrl) return pingThrough(proxy.address);
  const url = `${proxy.adminUrl.replace(/\/+$/, '')}/ready`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const body = (await res.text()).trim();
    return { ready: res.status === 200 && body === 'LIVE', status: `GET ${url}: ${res.status} ${body.slice(0, 80)}` };
  } catch (err) {
    return { ready: false, status: `GET ${url}: ${(err as Error).message}` };
  }
}

/** +PONG, or an authentication error (the proxy speaks RESP and wants a password), is an answer. */
function pingThrough(address: string): Promise<{ ready: boolean; status: string }> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const done = (ready: boolean, status: string) => {
      resolve({ ready, status: `PING ${address}: ${status}` });
      socket.destroy();
    };
    socket.setTimeout(2000, () => done(false, 'no answer within 2 s'));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      const end = reply.indexOf('\r\n');
      if (end >= 0) done(reply.startsWith('+PONG') || /^-(NOAUTH|WRONGPASS)/.test(reply), reply.slice(0, end));
    });
    socket.once('error', (err) => done(false, err.message));
    socket.once('close', () => done(false, 'connection closed'));
  });
}

export function createProxyActivities(inventory: Inventory) {
  const clients = new Map<string, Docker>();

  function proxyNamed(name: string): ProxyConfig {
    const proxy = inventory.proxies[name];
    if (!proxy) {
      throw ApplicationFailure.create({
        type: 'InvalidInput', nonRetryable: true,
        message: `proxy: unknown proxy "${name}"; the worker's inventory has: ${Object.keys(inventory.proxies).join(', ') || 'no proxies (add them under "proxies")'}`,
        details: [{ problems: [`proxy: unknown proxy "${name}"`] }],
      });
    }
    return proxy;
  }

  function dockerFor(proxy: ProxyConfig): { docker: Docker; endpoint: string } {
    const runtime = inventory.runtimes[proxy.runtime];
    // parseInventory checked the runtime exists and is a docker one.
    if (runtime?.type !== 'docker') throw new Error(`runtime ${proxy.runtime} is not a docker runtime`);
    let docker = clients.get(runtime.endpoint);
    if (!docker) {
      docker = new Docker(dockerOptions(runtime.endpoint, runtime.tls, runtime));
      clients.set(runtime.endpoint, docker);
    }
    return { docker, endpoint: runtime.endpoint };
  }

  /** The proxy's container; one left renamed aside by an interrupted replace is put back first. */
  async function currentContainer(name: string): Promise<Docker.Container> {
    const proxy = proxyNamed(name);
    const { docker, endpoint } = dockerFor(proxy);
    const current = await containerNamed(docker, proxy.container);
    if (current) return current;
    const aside = (await replacedContainers(docker, proxy.container))[0];
    if (aside) {
      await restoreReplaced(docker, proxy.container, aside.Names[0]!.replace(/^\//, ''));
      return (await containerNamed(docker, proxy.container))!;
    }
    throw ApplicationFailure.create({
      type: 'ProxyNotFound', nonRetryable: true,
      message: `proxy ${name}: no container named "${proxy.container}" on ${endpoint}; start it first, or fix proxies.${name}.container in the worker's inventory`,
    });
  }

  return {
    async loadProxySpec(name: string): Promise<ProxySpec> {
      const proxy = proxyNamed(name);
      const cluster = Object.entries(inventory.clusters).find(([, c]) => c.clientEndpoint === proxy.address)?.[0];
      return { name, container: proxy.container, address: proxy.address, adminUrl: proxy.adminUrl, cluster };
    },

    /** The proxy's image, state and readiness; with `image`, checks the image is on its Docker host. */
    async describeProxy(name: string, image?: string): Promise<ProxyState> {
      const proxy = proxyNamed(name);
      const { docker, endpoint } = dockerFor(proxy);
      if (image !== undefined) {
        await docker.getImage(image).inspect().catch(() => {
          throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `image: ${image} is not on ${endpoint}: build or load it there first (docker build / docker load)` });
        });
      }
      const info = await (await currentContainer(name)).inspect();
      const readiness = await checkProxyReady(proxy);
      return { image: info.Config.Image, running: info.State.Running, ready: readiness.ready, readiness: readiness.status };
    },

    /** Recreates the proxy container on `image`, the previous one renamed aside; a no-op when it already runs it. */
    async replaceProxyContainer(name: string, image: string): Promise<ProxySwap> {
      const proxy = proxyNamed(name);
      const { docker } = dockerFor(proxy);
      return heartbeating({ replacing: proxy.container, image }, async () => {
        const current = await currentContainer(name);
        const info = await current.inspect();
        const aside = await replacedContainers(docker, proxy.container);
        if (info.Config.Image === image) {
          // Recreated by an attempt that stopped before its end: the previous container is still aside.
          const previous = aside[0] ? await docker.getContainer(aside[0].Id).inspect() : undefined;
          return { previousImage: previous?.Config.Image ?? image, image, changed: previous !== undefined, replacedName: previous?.Name.replace(/^\//, '') };
        }
        // Left over by an older upgrade on another image: not what this one would roll back to.
        for (const c of aside) await docker.getContainer(c.Id).remove({ force: true });
        const swapped = await recreateContainer(docker, current, info, image, 30);
        return { previousImage: swapped.previousImage, image, changed: true, replacedName: swapped.replacedName };
      });
    },

    /** Polls readiness for up to `timeoutMs`; not being ready is a result, not an error. */
    async awaitProxyReady(name: string, timeoutMs: number): Promise<ProxyReadiness> {
      const proxy = proxyNamed(name);
      const started = Date.now();
      const result = await pollUntil<ProxyReadiness>(
        async () => {
          const { ready, status } = await checkProxyReady(proxy);
          const waitedMs = Date.now() - started;
          return ready || waitedMs >= timeoutMs ? { done: true, value: { ready, waitedMs, status } } : { done: false, status };
        },
        { what: `proxy ${name} to be ready`, timeoutMs: timeoutMs + 30_000, intervalMs: 200 },
      );
      if (result.ready) return result;
      const info = await (await currentContainer(name)).inspect();
      return { ...result, status: `${result.status}; container ${info.State.Status}${info.State.Running ? '' : ` (exit code ${info.State.ExitCode})`}, restarted ${info.RestartCount} times` };
    },

    /** Removes the previous container once the new one is ready. */
    async removeReplacedProxy(name: string): Promise<{ removed: number }> {
      const proxy = proxyNamed(name);
      const { docker } = dockerFor(proxy);
      const aside = await replacedContainers(docker, proxy.container);
      for (const c of aside) await docker.getContainer(c.Id).remove({ force: true });
      return { removed: aside.length };
    },

    /** Puts the previous container back in place of the new one and starts it. */
    async rollBackProxy(name: string, replacedName: string): Promise<{ image: string }> {
      const proxy = proxyNamed(name);
      const { docker } = dockerFor(proxy);
      await heartbeating({ rollingBack: proxy.container, to: replacedName }, () => restoreReplaced(docker, proxy.container, replacedName));
      return { image: (await (await currentContainer(name)).inspect()).Config.Image };
    },
  };
}
