/**
 * A BackupStore in a local (or mounted) directory: a key is a file below it. A put writes a
 * temp file beside its target and renames it, so a reader sees the old object or the whole new
 * one; a crash mid-put leaves only the temp file, which list ignores and abortIncomplete removes.
 * Backups hold every value of the cluster: files are 0600 (temp files too, from their creation)
 * in 0700 directories; directories made looser before are tightened when a store first writes below them.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey, checkPrefix, compareKeys, createDigest, jsonBody, readJson, StoreObjectMissing } from './types';
import type { BackupStore, PutOptions, PutResult, StoredObject } from './types';

const PARTIAL_MARK = '.rf-partial-';

/** The temp file name a put of `name` writes first: hidden, and unique per put. */
export function partialFileName(name: string): string {
  return `${PARTIAL_MARK}${randomBytes(6).toString('hex')}.${name}`;
}

/** The name a temp file would have been renamed to, or undefined for a finished object. */
function unfinishedName(fileName: string): string | undefined {
  if (!fileName.startsWith(PARTIAL_MARK)) return undefined;
  const rest = fileName.slice(PARTIAL_MARK.length);
  return rest.slice(rest.indexOf('.') + 1);
}

/** Writes to an open file and syncs it at the end: on disk before it gets its name, so a crash never leaves a short file at the key. */
function fileWriter(file: FileHandle): Writable {
  const writeAll = async (data: Buffer) => {
    for (let offset = 0; offset < data.length; ) offset += (await file.write(data, offset)).bytesWritten;
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writeAll(chunk).then(() => callback(), callback);
    },
    writev(chunks, callback) {
      writeAll(Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(() => callback(), callback);
    },
    final(callback) {
      file.sync().then(() => callback(), callback);
    },
  });
}

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

interface FileEntry {
  /** The key, or for a temp file the key it was being written to. */
  key: string;
  path: string;
  partial: boolean;
}

export class FsBackupStore implements BackupStore {
  readonly kind = 'fs';
  readonly description: string;
  /** Directories this store has made 0700 already (a put need not chmod them again). */
  private readonly tightened = new Set<string>();

  constructor(readonly root: string) {
    this.description = root;
  }

  private pathOf(key: string): string {
    checkKey(key);
    const segments = key.split('/');
    if (segments.some((s) => s.startsWith(PARTIAL_MARK))) {
      throw new Error(`invalid store key "${key}": names starting with "${PARTIAL_MARK}" are the fs store's temp files`);
    }
    return join(this.root, ...segments);
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const target = this.pathOf(key);
    opts.signal?.throwIfAborted();
    await this.privateDirs(dirname(target));
    const temp = join(dirname(target), partialFileName(basename(target)));
    const digest = createDigest(opts.onProgress);
    let renamed = false;
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await pipeline(body, digest.stream, fileWriter(file), opts.signal ? { signal: opts.signal } : {});
      } finally {
        await file.close();
      }
      await rename(temp, target);
      renamed = true;
    } finally {
      if (!renamed) {
        body.destroy();
        await rm(temp, { force: true });
      }
    }
    return { key, ...digest.result() };
  }

  /** Creates dir (0700) and makes it and every directory between it and the root 0700. */
  private async privateDirs(dir: string): Promise<void> {
    // Always: the directory may have been removed since (mode 0700 then applies to what mkdir creates).
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (this.tightened.has(dir)) return;
    const segments = relative(this.root, dir).split(sep).filter(Boolean);
    for (let i = 0; i <= segments.length; i++) {
      const path = join(this.root, ...segments.slice(0, i));
      if (this.tightened.has(path)) continue;
      try {
        await chmod(path, 0o700);
      } catch (err) {
        // A root that another user owns (a shared mount) is theirs to set; below it, everything is ours.
        if (!(i === 0 && (err as NodeJS.ErrnoException).code === 'EPERM')) throw err;
      }
      this.tightened.add(path);
    }
  }

  putJson(key: string, value: unknown): Promise<PutResult> {
    return this.put(key, jsonBody(key, value));
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (err) {
      if (isMissing(err)) throw new StoreObjectMissing(key, this.description);
      throw err;
    }
    if (!(await file.stat()).isFile()) {
      await file.close();
      throw new StoreObjectMissing(key, this.description);
    }
    return file.createReadStream();
  }

  getJson<T = unknown>(key: string): Promise<T | undefined> {
    return readJson<T>(this, key);
  }

  async head(key: string): Promise<{ size: number; lastModified: Date } | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { size: s.size, lastModified: s.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    for (const entry of await this.files(prefix)) {
      if (entry.partial) continue;
      const s = await stat(entry.path).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)));
      if (s) objects.push({ key: entry.key, size: s.size, lastModified: s.mtime });
    }
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(keys: string[]): Promise<void> {
    const paths = keys.map((k) => this.pathOf(k));
    for (const path of paths) await rm(path, { force: true });
  }

  async abortIncomplete(prefix: string, olderThan: Date): Promise<number> {
    let removed = 0;
    for (const entry of await this.files(prefix)) {
      if (!entry.partial) continue;
      const s = await stat(entry.path).catch(() => undefined);
      // A put still writing touches its file all the time; an old mtime means it is gone.
      if (s && s.mtime < olderThan) {
        await rm(entry.path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Files whose key starts with prefix, walking only the directories that can hold them. */
  private async files(prefix: string): Promise<FileEntry[]> {
    checkPrefix(prefix);
    const found: FileEntry[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.root, ...dirKey.split('/')), { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const e of entries) {
        if (e.isDirectory()) {
          const sub = `${dirKey}${e.name}/`;
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) await walk(sub);
        } else if (e.isFile()) {
          const finalName = unfinishedName(e.name);
          const key = `${dirKey}${finalName ?? e.name}`;
          if (key.startsWith(prefix)) found.push({ key, path: join(this.root, ...dirKey.split('/'), e.name), partial: finalName !== undefined });
        }
      }
    };
    await walk(prefix.slice(0, prefix.lastIndexOf('/') + 1));
    return found;
  }
}
