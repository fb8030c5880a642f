/**
 * BackupStore: where backups go, a directory or an S3 bucket. Activities speak of keys
 * ("clusters/prod/2026-11-27T02-00/node-7001.tar"); only a store knows about files or buckets.
 * Also the rules both stores share: which keys are valid, their order, the digest of a put.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { text } from 'node:stream/consumers';

export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

export interface PutResult {
  key: string;
  size: number;
  /** Hex SHA-256 of the bytes stored. */
  sha256: string;
}

export interface PutOptions {
  /** Called with the bytes sent so far (fs: per chunk; S3: per finished part). */
  onProgress?: (bytes: number) => void;
  /**
   * Aborts the put: it rejects with an AbortError and leaves no object at the key. Too late
   * once the whole body is on its way in one piece (fs: written and synced; S3: a body of one
   * part, sent as a single PutObject): the put then completes.
   */
  signal?: AbortSignal;
}

export interface BackupStore {
  readonly kind: 'fs' | 's3';
  /** Where it is, for messages: "s3://bucket/prefix (endpoint)" or the directory. Never secrets. */
  readonly description: string;
  /**
   * Streams body to key without buffering it whole; size and sha256 are computed on the way.
   * Atomic: nobody sees an object at key until it resolves, and a failed or aborted put leaves
   * none (a crash may leave a temp file or an open multipart upload: see abortIncomplete).
   * Overwrites an existing key.
   */
  put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  putJson(key: string, value: unknown): Promise<PutResult>;
  /** Streams the object; throws StoreObjectMissing when absent. */
  get(key: string): Promise<Readable>;
  /** undefined when missing. */
  getJson<T = unknown>(key: string): Promise<T | undefined>;
  head(key: string): Promise<{ size: number; lastModified: Date } | undefined>;
  /** Every object whose key starts with prefix (recursive), sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Idempotent: missing keys are fine. */
  delete(keys: string[]): Promise<void>;
  /** Removes what interrupted puts under prefix left, if they started before olderThan. Returns how many. */
  abortIncomplete(prefix: string, olderThan: Date): Promise<number>;
}

export class StoreObjectMissing extends Error {
  constructor(
    readonly key: string,
    store: string,
  ) {
    super(`no object "${key}" in ${store}`);
    this.name = 'StoreObjectMissing';
  }
}

/** A store operation that failed, with what to fix in its message. */
export class StoreError extends Error {
  constructor(
    readonly key: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

function badSegment(path: string, allowTrailingSlash: boolean): string | undefined {
  if (path.startsWith('/')) return 'it is absolute';
  if (path.includes('\\')) return 'it contains "\\"';
  const segments = path.split('/');
  if (allowTrailingSlash && segments.length > 1 && segments.at(-1) === '') segments.pop();
  for (const s of segments) {
    if (s === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (s === '.' || s === '..') return `it has a "${s}" segment`;
  }
  return undefined;
}

/** Keys are relative, '/'-separated, and mean the same in a directory and in a bucket. */
export function checkKey(key: string): void {
  const why = key === '' ? 'it is empty' : badSegment(key, false);
  if (why) throw new Error(`invalid store key "${key}": ${why}; use a relative path like "clusters/prod/backup.tar"`);
}

/** A list prefix: "" (everything), a key's beginning, or a folder ending in "/". */
export function checkPrefix(prefix: string): void {
  const why = prefix === '' ? undefined : badSegment(prefix, true);
  if (why) throw new Error(`invalid store prefix "${prefix}": ${why}; use "" or a relative path like "clusters/prod/"`);
}

/** Byte order of the UTF-8 keys, the order S3 lists in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A pass-through that counts and hashes what flows through it. */
export function createDigest(onProgress?: (bytes: number) => void): {
  stream: Transform;
  /** Bytes through so far. */
  size(): number;
  /** Once the stream has ended. */
  result(): { size: number; sha256: string };
} {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      onProgress?.(size);
      callback(null, chunk);
    },
  });
  let sha256: string | undefined;
  return {
    stream,
    size: () => size,
    result: () => ({ size, sha256: (sha256 ??= hash.digest('hex')) }),
  };
}

export function jsonBody(key: string, value: unknown): Readable {
  const json = JSON.stringify(value, null, 2);
  if (json === undefined) throw new Error(`cannot store ${typeof value} as JSON at "${key}"`);
  return Readable.from([Buffer.from(`${json}\n`)]);
}

export async function readJson<T>(store: BackupStore, key: string): Promise<T | undefined> {
  let body: Readable;
  try {
    body = await store.get(key);
  } catch (err) {
    if (err instanceof StoreObjectMissing) return undefined;
    throw err;
  }
  const raw = await text(body);
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new StoreError(key, `"${key}" in ${store.description} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
