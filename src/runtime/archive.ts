/** Tar helpers of the docker runtime: files move through getArchive/putArchive as tar streams. */
import type { Readable } from 'node:stream';
import { extract, pack, type Pack } from 'tar-stream';

/** A tar of one file, for putArchive. */
export function singleFileTar(name: string, content: string, mode: number): Promise<Buffer> {
  const p = pack();
  p.entry({ name, mode }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    p.on('data', (c: Buffer) => chunks.push(c));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
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
