/**
 * The `docker` runtime: each node is a container found by its labels redisforge.cluster and
 * redisforge.port, with host networking (Redis Cluster behind Docker NAT announces wrong
 * addresses). Files move through the Docker API (getArchive/putArchive), so a remote Docker
 * host, tcp or ssh, needs no agent. Each node may have its own Docker endpoint.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import type { DockerRuntimeConfig } from '../config';
import type { NodeSecrets } from '../credentials';
import { splitAddress } from '../cluster/address';
import { ignoreNotModified, recreateContainer, replacedContainers, restoreReplaced } from './containers';
import { copyOnlyEntry, filesTar, ownedBy, REDIS_GID, REDIS_UID } from './archive';
import { dockerOptions } from './dockerEndpoint';
import { nodeConf } from './redisConf';
import type { NodeTls } from './tlsConf';
import { RuntimeError, type NodeRuntime, type NodeStatus } from './types';
import { awaitPort } from '../util/ports';

export const LABEL_CLUSTER = 'redisforge.cluster';
export const LABEL_PORT = 'redisforge.port';
const CONF_DIR = '/etc/redisforge';

export { dockerOptions } from './dockerEndpoint';

/** An image reference split at its tag: "redisforge/redis:7.0.15" -> ["redisforge/redis", "7.0.15"]. */
function splitImage(image: string): [repository: string, tag: string] {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
}

/** The registry an image reference names: its first part when that is a host, else Docker Hub. */
function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'https://index.docker.io/v1/';
}

/** What a registry or engine said, without dockerode's "(HTTP code 500) server error - " prefix. */
function registryReason(err: Error & { json?: { message?: string } }): string {
  return tidyReason(err.json?.message ?? err.message.replace(/^\(HTTP code \d+\) [^-]*- /, ''));
}

/** Trimmed, and a registry's doubled "manifest unknown: manifest unknown" said once. */
function tidyReason(reason: string): string {
  return reason.trim().replace(/(\b[^:]+): \1$/, '$1');
}

export class DockerRuntime implements NodeRuntime {
  readonly kind = 'docker' as const;
  private readonly clients = new Map<string, Docker>();

  constructor(
    private readonly cluster: string,
    private readonly config: DockerRuntimeConfig,
    private readonly secrets: NodeSecrets = {},
    /** The cluster's tls.server, as paths on the worker's host: copied into each node's config volume. */
    private readonly tls?: NodeTls,
    /** The worker's environment: where the registry credentials `registryAuth` names are. */
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Pulls under way, by engine and image: the nodes of one host share one pull. */
  private readonly pulls = new Map<string, Promise<boolean>>();

  docker(address: string): Docker {
    const endpoint = this.config.nodeEndpoints[address] ?? this.config.endpoint;
    let client = this.clients.get(endpoint);
    if (!client) {
      client = new Docker(dockerOptions(endpoint, this.config.tls, this.config));
      this.clients.set(endpoint, client);
    }
    return client;
  }

  containerName(address: string): string {
    return `redisforge-${this.cluster}-${splitAddress(address).port}`;
  }

  private volumeNames(address: string) {
    const base = this.containerName(address);
    return { data: `${base}-data`, conf: `${base}-conf` };
  }

  /** The node's container; after an interrupted replace, the one with the canonical name. */
  private async find(address: string): Promise<Docker.Container | undefined> {
    const docker = this.docker(address);
    const list = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_CLUSTER}=${this.cluster}`, `${LABEL_PORT}=${splitAddress(address).port}`] },
    });
    if (list.length === 0) return undefined;
    const canonical = `/${this.containerName(address)}`;
    const chosen = list.find((c) => c.Names.includes(canonical)) ?? list.find((c) => c.State === 'running') ?? list[0]!;
    return docker.getContainer(chosen.Id);
  }

  private async container(address: string): Promise<Docker.Container> {
    const c = await this.find(address);
    if (!c) {
      throw new RuntimeError(address, `no container labelled ${LABEL_CLUSTER}=${this.cluster}, ${LABEL_PORT}=${splitAddress(address).port} on ${this.config.nodeEndpoints[address] ?? this.config.endpoint}`);
    }
    return c;
  }

  async status(address: string): Promise<NodeStatus> {
    const info = await (await this.container(address)).inspect();
    return info.State.Running ? 'running' : 'stopped';
  }

  /**
   * The version name of the container's image: the name `images` gives it, else its tag when it
   * is of `image`'s repository, else the whole reference (an image this runtime did not name).
   */
  async version(address: string): Promise<string> {
    return this.versionOf((await (await this.container(address)).inspect()).Config.Image);
  }

  versionOf(image: string): string {
    const named = Object.entries(this.config.images).find(([, reference]) => reference === image);
    if (named) return named[0];
    const [repository, tag] = splitImage(image);
    return repository === this.config.image ? tag : image;
  }

  async start(address: string): Promise<void> {
    const c = await this.container(address);
    if (!(await c.inspect()).State.Running) await c.start();
    await awaitPort(address, 30_000, () => `see docker logs ${this.containerName(address)}`);
  }

  async stop(address: string): Promise<void> {
    const c = await this.container(address);
    if ((await c.inspect()).State.Running) await c.stop({ t: 60 }).catch(ignoreNotModified);
  }

  async kill(address: string): Promise<void> {
    const c = await this.container(address);
    if ((await c.inspect()).State.Running) await c.kill({ signal: 'SIGKILL' }).catch(ignoreNotModified);
  }

  /** The image for a version: the one `images` names for it, else that tag of `image`, or a whole reference as given. */
  imageFor(version: string): string {
    return this.config.images[version] ?? (version.includes(':') || version.includes('/') ? version : `${this.config.image}:${version}`);
  }

  /**
   * Creates the node's volumes and container if it has none, with its redis.conf written into
   * the config volume, and starts it. What compose does for its six nodes; addNode uses it.
   */
  async provision(address: string, version = this.config.defaultVersion): Promise<void> {
    await this.create(address, version);
    await this.start(address);
  }

  /** Creates the container and its volumes without starting it; a no-op when it exists. */
  async create(address: string, version = this.config.defaultVersion): Promise<void> {
    if (await this.find(address)) return;
    await this.pullVersion(address, version);
    const docker = this.docker(address);
    const volumes = this.volumeNames(address);
    const labels = { [LABEL_CLUSTER]: this.cluster, [LABEL_PORT]: String(splitAddress(address).port) };
    for (const name of Object.values(volumes)) await docker.createVolume({ Name: name, Labels: labels });
    const container = await docker.createContainer({
      name: this.containerName(address),
      Image: this.imageFor(version),
      Cmd: [`${CONF_DIR}/redis.conf`],
      Labels: labels,
      HostConfig: {
        NetworkMode: 'host',
        RestartPolicy: { Name: 'unless-stopped' },
        Mounts: [
          { Type: 'volume', Source: volumes.data, Target: this.config.dataDir },
          { Type: 'volume', Source: volumes.conf, Target: CONF_DIR },
        ],
      },
    });
    const inContainer = this.tls && { ...this.tls, certFile: `${CONF_DIR}/tls/node.crt`, keyFile: `${CONF_DIR}/tls/node.key`, caFile: `${CONF_DIR}/tls/ca.crt` };
    const conf = nodeConf({ address, dir: this.config.dataDir, nodeTimeoutMs: this.config.nodeTimeoutMs, secrets: this.secrets, extraConfig: this.config.extraConfig, daemonize: false, tls: inContainer });
    const files = [{ name: 'redis.conf', content: conf }];
    if (this.tls) {
      files.push(
        { name: 'tls/node.crt', content: await readFile(this.tls.certFile, 'utf8') },
        { name: 'tls/node.key', content: await readFile(this.tls.keyFile, 'utf8') },
        { name: 'tls/ca.crt', content: await readFile(this.tls.caFile, 'utf8') },
      );
    }
    // The redis user's own (redis-server runs as it), and no one else's: passwords and the TLS key.
    await container.putArchive(await filesTar(files, { mode: 0o600, uid: REDIS_UID, gid: REDIS_GID }), { path: CONF_DIR });
  }

  /** Removes the node's container and volumes: its data is gone. */
  async deprovision(address: string): Promise<void> {
    const docker = this.docker(address);
    for (;;) {
      const c = await this.find(address);
      if (!c) break;
      await c.remove({ force: true, v: false });
    }
    for (const name of Object.values(this.volumeNames(address))) await docker.getVolume(name).remove().catch(() => undefined);
  }

  /**
   * Recreates the container on another image, all else kept (recreateContainer); the volumes
   * keep the data and nodes.conf, so the node keeps its id. The old container stays renamed
   * aside until discardReplaced (the caller knows the node is in sync); when the new one does not
   * come up, the old one is put back and started, and replace throws saying so.
   */
  async replace(address: string, version: string): Promise<{ changed: boolean }> {
    const image = this.imageFor(version);
    const old = await this.container(address);
    const info = await old.inspect();
    if (info.Config.Image === image) {
      // Done already, perhaps by an attempt that stopped before its end: the old container stays aside.
      if (!info.State.Running) await this.start(address);
      return { changed: false };
    }
    await this.checkVersion(address, version);
    // Left over by an earlier replace: not what this one would roll back to.
    await this.discardReplaced(address, info.Id);
    const name = this.containerName(address);
    // The canonical name, also when the container found is one an interrupted replace renamed aside.
    const swapped = await recreateContainer(this.docker(address), old, info, image, 60, name);
    try {
      // Fails at once when the container exits or restarts (a bad image), not after a minute.
      // Not cancellable: a cancellation here would roll back a replace that may be succeeding.
      await awaitPort(address, 60_000, () => `see docker logs ${name}`, {
        cancellable: false,
        gaveUp: async () => {
          const state = (await swapped.container.inspect()).State;
          return !state.Running || state.Restarting ? `the container ${state.Restarting ? 'is restarting' : 'exited'} (exit code ${state.ExitCode})` : undefined;
        },
      });
    } catch (err) {
      await restoreReplaced(this.docker(address), name, swapped.replacedName);
      // The rollback finishes, cancelled or not: the node must not be left without a container.
      await awaitPort(address, 60_000, () => `see docker logs ${name}`, { cancellable: false });
      throw new RuntimeError(address, `did not come up on ${image} (${(err as Error).message}); the previous container (${info.Config.Image}) is back and running`);
    }
    return { changed: true };
  }

  /** Removes the containers replace renamed aside for this node (all but `keepId`). */
  async discardReplaced(address: string, keepId?: string): Promise<void> {
    const docker = this.docker(address);
    for (const c of await replacedContainers(docker, this.containerName(address))) {
      if (c.Id !== keepId) await docker.getContainer(c.Id).remove({ force: true });
    }
  }

  private endpointOf(address: string): string {
    return this.config.nodeEndpoints[address] ?? this.config.endpoint;
  }

  private async hasImage(address: string, image: string): Promise<boolean> {
    return this.docker(address).getImage(image).inspect().then(() => true, (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return false;
      throw err;
    });
  }

  /** The credentials for pulls, from the worker's environment; none without `registryAuth`. */
  private authconfig(address: string, image: string): { username: string; password: string; serveraddress: string } | undefined {
    const auth = this.config.registryAuth;
    if (!auth) return undefined;
    const missing = [auth.usernameEnv, auth.passwordEnv].filter((name) => !this.env[name]);
    if (missing.length > 0) throw new RuntimeError(address, `registryAuth names ${missing.join(' and ')}, which the worker's environment does not set: set ${missing.length > 1 ? 'them' : 'it'} where the worker starts`);
    return { username: this.env[auth.usernameEnv]!, password: this.env[auth.passwordEnv]!, serveraddress: registryOf(image) };
  }

  /**
   * Whether the node's engine can run `version`: its image is there, or its registry has it and
   * takes the worker's credentials (asked without pulling: a dry run changes nothing).
   */
  async checkVersion(address: string, version: string): Promise<void> {
    const image = this.imageFor(version);
    if (await this.hasImage(address, image)) return;
    await this.docker(address).getImage(image).distribution({ authconfig: this.authconfig(address, image) }).catch((err: Error) => {
      throw new RuntimeError(address, `image ${image} is not on ${this.endpointOf(address)}, and its registry does not give it (${registryReason(err)}): push it to the registry, or build or load it on that host`);
    });
  }

  /**
   * Pulls `version`'s image onto the node's engine when it lacks it, with the worker's registry
   * credentials; resolves true when it pulled. Fails naming the image, the engine and the
   * registry's own reason (unknown image, refused credentials, unreachable registry).
   */
  async pullVersion(address: string, version: string): Promise<boolean> {
    const image = this.imageFor(version);
    const key = `${this.endpointOf(address)} ${image}`;
    let pull = this.pulls.get(key);
    if (!pull) {
      pull = this.pull(address, image).finally(() => this.pulls.delete(key));
      this.pulls.set(key, pull);
    }
    return pull;
  }

  private async pull(address: string, image: string): Promise<boolean> {
    if (await this.hasImage(address, image)) return false;
    const docker = this.docker(address);
    const failed = (reason: string) => new RuntimeError(address, `pulling ${image} onto ${this.endpointOf(address)} failed: ${reason}`);
    const stream = (await docker.pull(image, { authconfig: this.authconfig(address, image) }).catch((err: Error) => {
      throw failed(registryReason(err));
    })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, events: { error?: string }[]) => {
        const error = err?.message ?? events.find((e) => e.error)?.error;
        if (error) reject(failed(tidyReason(error)));
        else resolve();
      });
    });
    if (!(await this.hasImage(address, image))) throw failed('the engine reports the pull done, but the image is not there');
    return true;
  }

  async readDataDir(address: string): Promise<Readable> {
    const c = await this.container(address);
    return (await c.getArchive({ path: `${this.config.dataDir}/.` })) as unknown as Readable;
  }

  /** One getArchive per file (each a tar of one entry), joined into one tar named by the paths. */
  async readDataFiles(address: string, paths: readonly string[]): Promise<Readable> {
    const c = await this.container(address);
    const out = pack();
    const copy = async () => {
      for (const path of paths) {
        const archive = (await c.getArchive({ path: `${this.config.dataDir}/${path}` })) as unknown as Readable;
        await copyOnlyEntry(archive, out, path);
      }
      out.finalize();
    };
    copy().catch((err: Error) => out.destroy(new RuntimeError(address, `reading ${paths.join(', ')}: ${err.message}`)));
    return out;
  }

  async writeDataDir(address: string, tar: Readable): Promise<void> {
    const c = await this.container(address);
    if ((await c.inspect()).State.Running) throw new RuntimeError(address, 'is running: stop it before writing its data directory');
    await c.putArchive(ownedBy(tar, REDIS_UID, REDIS_GID), { path: this.config.dataDir });
  }

  /** Empties the data volume with a short-lived container of the node's own image (it has a shell). */
  async cleanDataDir(address: string): Promise<void> {
    const c = await this.container(address);
    const info = await c.inspect();
    if (info.State.Running) throw new RuntimeError(address, 'is running: stop it before cleaning its data directory');
    const data = info.Mounts.find((m) => m.Destination === this.config.dataDir);
    if (!data) throw new RuntimeError(address, `has no mount at ${this.config.dataDir}`);
    const docker = this.docker(address);
    const cleaner = await docker.createContainer({
      Image: info.Config.Image,
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['rm -rf /target/* /target/.[!.]* /target/..?* 2>/dev/null; exit 0'],
      HostConfig: { NetworkMode: 'none', Mounts: [{ Type: data.Type as 'volume' | 'bind', Source: data.Type === 'volume' ? data.Name! : data.Source, Target: '/target' }] },
    });
    try {
      await cleaner.start();
      const { StatusCode } = (await cleaner.wait()) as { StatusCode: number };
      if (StatusCode !== 0) throw new RuntimeError(address, `cleaning ${this.config.dataDir} failed with ${StatusCode}`);
    } finally {
      await cleaner.remove({ force: true });
    }
  }
}
