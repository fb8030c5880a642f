/**
 * Recreating a container on another image, the way both a Redis node (DockerRuntime.replace)
 * and the Envoy proxy (upgradeEnvoy) are upgraded: same name, labels, command, entrypoint, env,
 * working dir, mounts, network mode and restart policy. The old container is renamed aside,
 * not removed, so the caller can roll back to it or remove it once the new one is good.
 */
import Docker from 'dockerode';

/** The suffix of a container renamed aside by recreateContainer, before a timestamp. */
export const REPLACED_SUFFIX = '-replaced-';

export interface RecreatedContainer {
  container: Docker.Container;
  /** The name the old container was renamed to. */
  replacedName: string;
  previousImage: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Stops the container, renames it `<name>-replaced-<ms>`, and creates and starts one named
 * `<name>` (default: the old one's name) on `image`. What the old image brought (its labels,
 * env, command, entrypoint, working dir) is left to the new image; what the container was
 * created with is kept.
 */
export async function recreateContainer(docker: Docker, old: Docker.Container, info: Docker.ContainerInspectInfo, image: string, stopTimeoutSeconds: number, name = info.Name.replace(/^\//, '')): Promise<RecreatedContainer> {
  const oldImage = (await docker.getImage(info.Image).inspect().catch(() => undefined))?.Config;
  const imageLabels = oldImage?.Labels ?? {};
  const imageEnv = new Set(oldImage?.Env ?? []);
  const binds = info.HostConfig.Binds ?? [];
  const keep = <T>(mine: T, theImages: unknown): T | undefined => (same(mine, theImages) ? undefined : mine ?? undefined);

  if (info.State.Running) await old.stop({ t: stopTimeoutSeconds }).catch(ignoreNotModified);
  const replacedName = `${name}${REPLACED_SUFFIX}${Date.now()}`;
  await old.rename({ name: replacedName });
  const container = await docker.createContainer({
    name,
    Image: image,
    Cmd: keep(info.Config.Cmd, oldImage?.Cmd),
    Entrypoint: keep(info.Config.Entrypoint, oldImage?.Entrypoint),
    Env: (info.Config.Env ?? []).filter((e) => !imageEnv.has(e)),
    Labels: Object.fromEntries(Object.entries(info.Config.Labels ?? {}).filter(([k, v]) => imageLabels[k] !== v)),
    WorkingDir: keep(info.Config.WorkingDir || undefined, oldImage?.WorkingDir || undefined),
    User: keep(info.Config.User || undefined, oldImage?.User || undefined),
    HostConfig: {
      NetworkMode: info.HostConfig.NetworkMode,
      RestartPolicy: info.HostConfig.RestartPolicy,
      Binds: info.HostConfig.Binds ?? undefined,
      Mounts: info.Mounts.filter((m) => m.Type === 'volume' || m.Type === 'bind')
        .map((m) => ({ Type: m.Type as 'volume' | 'bind', Source: m.Type === 'volume' ? m.Name! : m.Source, Target: m.Destination, ReadOnly: !m.RW }))
        .filter((m) => !binds.some((b) => b.split(':')[1] === m.Target)),
    },
  });
  await container.start();
  return { container, replacedName, previousImage: info.Config.Image };
}

/** Containers renamed aside from `name`, newest first. */
export async function replacedContainers(docker: Docker, name: string): Promise<Docker.ContainerInfo[]> {
  const list = await docker.listContainers({ all: true, filters: { name: [`${name}${REPLACED_SUFFIX}`] } });
  const stamp = (c: Docker.ContainerInfo) => Number(c.Names.find((n) => n.startsWith(`/${name}${REPLACED_SUFFIX}`))?.split(REPLACED_SUFFIX).pop() ?? 0);
  return list.filter((c) => stamp(c) > 0).sort((a, b) => stamp(b) - stamp(a));
}

/** The container named exactly `name`, if any. */
export async function containerNamed(docker: Docker, name: string): Promise<Docker.Container | undefined> {
  const list = await docker.listContainers({ all: true, filters: { name: [name] } });
  const found = list.find((c) => c.Names.includes(`/${name}`));
  return found ? docker.getContainer(found.Id) : undefined;
}

/**
 * Undoes recreateContainer: removes the new `<name>` (when it is not the replaced one) and
 * renames `replacedName` back to `<name>`, then starts it. Idempotent.
 */
export async function restoreReplaced(docker: Docker, name: string, replacedName: string): Promise<void> {
  const aside = await containerNamed(docker, replacedName);
  if (aside) {
    const current = await containerNamed(docker, name);
    if (current) await current.remove({ force: true });
    await aside.rename({ name });
  }
  const restored = await containerNamed(docker, name);
  if (!restored) throw new Error(`neither ${name} nor ${replacedName} exists: nothing to roll back to`);
  if (!(await restored.inspect()).State.Running) await restored.start().catch(ignoreNotModified);
}

export function ignoreNotModified(err: { statusCode?: number }): void {
  if (err.statusCode !== 304) throw err;
}
