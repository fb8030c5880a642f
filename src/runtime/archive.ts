/**
 * Tar helpers: the docker runtime's files move through getArchive/putArchive as tar streams, and
 * every runtime's readDataFiles answers with a tar.
 */
import type { Readable } from 'node:stream';
import { extract, pack, type Pack } from 'tar-stream';

/**
 * The `redis` user of the node images (docker/redis, scripts/build-images.sh): the same ids in
 * every version's image, so a replace keeps the node's volumes readable.
 */
export const REDIS_UID = 100;
export const REDIS_GID = 101;

export interface TarOwner {
  mode: number;
  uid: number;
  gid: number;
}

/** A tar of small files ("dir/name" paths; their directories 0700), all with one owner, for putArchive. */
export function filesTar(files: readonly { name: string; content: string }[], owner: TarOwner): Promise<Buffer> {
  const p = pack();
  const dirs = [...new Set(files.flatMap((f) => (f.name.includes('/') ? [f.name.slice(0, f.name.lastIndexOf('/'))] : [])))];
  for (const name of dirs) p.entry({ name, type: 'directory', mode: 0o700, uid: owner.uid, gid: owner.gid });
  for (const f of files) p.entry({ name: f.name, mode: owner.mode, uid: owner.uid, gid: owner.gid }, f.content);
  p.finalize();
  return collect(p);
}

function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * The same archive with every entry owned by uid:gid: data restored into a container must be
 * the redis user's, whoever owned the files where the backup was taken.
 */
export function ownedBy(archive: Readable, uid: number, gid: number): Readable {
  const ex = extract();
  const out = pack();
  ex.on('entry', (header, stream, next) => {
    stream.pipe(out.entry({ ...header, uid, gid, uname: undefined, gname: undefined }, next));
  });
  ex.on('finish', () => out.finalize());
  ex.on('error', (err) => out.destroy(err));
  archive.on('error', (err) => out.destroy(err));
  archive.pipe(ex);
  return out;
}

/**
 * The first file of a tar (readDataFiles of one small file: nodes.conf, an AOF manifest) as
 * text; undefined when the tar holds none. The rest of the tar is read and dropped.
 */
export async function firstFileText(tar: Readable): Promise<string | undefined> {
  const ex = extract();
  tar.on('error', (err) => ex.destroy(err));
  tar.pipe(ex);
  let text: string | undefined;
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    text ??= Buffer.concat(chunks).toString('utf8');
  }
  return text;
}

/** Copies the one file entry of `archive` into `out` under `name`, streaming. */
export function copyOnlyEntry(archive: Readable, out: Pack, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    let found = false;
    ex.on('entry', (header, stream, next) => {
      if (header.type !== 'file' || found) {
        stream.resume();
        stream.on('end', next);
        return;
      }
      found = true;
      const entry = out.entry({ name, size: header.size, mode: header.mode, mtime: header.mtime }, (err) => (err ? reject(err) : next()));
      stream.pipe(entry);
    });
    ex.on('finish', () => (found ? resolve() : reject(new Error(`${name} is not a file`))));
    ex.on('error', reject);
    archive.on('error', reject);
    archive.pipe(ex);
  });
}
