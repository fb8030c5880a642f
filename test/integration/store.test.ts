/**
 * The BackupStore contract, run against a directory and against a real S3 server (versitygw on
 * 127.0.0.1:19900, started here: this file needs no Temporal server).
 */
import { CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { StoreConfig } from '../../src/config';
import { createS3Client, createStore, FsBackupStore, partialFileName, StoreObjectMissing, type BackupStore } from '../../src/storage';
import { createBucket, findVersitygw, startS3Server, type S3Server } from '../harness/s3Server';
import { eventually } from '../helpers/waitFor';

const S3_PORT = 19900;
const BUCKET = 'redisforge-test';
const CREDENTIALS = { accessKeyId: 'rf-test-access', secretAccessKey: 'rf-test-secret-0123456789' };
const S3_ENV = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey };
const MiB = 1024 * 1024;

const versitygwMissing = (() => {
  try {
    findVersitygw();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
})();
if (versitygwMissing && process.env.CI !== 'true') console.warn(`${versitygwMissing}: the s3 store tests are skipped (with CI=true they fail)`);

let tmp: string;
let server: S3Server | undefined;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'rf-store-test-'));
  if (versitygwMissing) return;
  server = await startS3Server({ port: S3_PORT, dataDir: join(tmp, 's3'), ...{ accessKey: CREDENTIALS.accessKeyId, secretKey: CREDENTIALS.secretAccessKey }, logFile: join(tmp, 'versitygw.log') });
  await createBucket(server.endpoint, BUCKET, CREDENTIALS);
}, 30_000);

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const s3Config = (overrides: Partial<Extract<StoreConfig, { type: 's3' }>> = {}): Extract<StoreConfig, { type: 's3' }> => ({
  type: 's3',
  bucket: BUCKET,
  prefix: 'backups/run',
  region: 'us-east-1',
  endpoint: server!.endpoint,
  forcePathStyle: true,
  ...overrides,
});

/** A store and what only its own kind can see: the leftovers of a crashed put. */
interface Subject {
  store: BackupStore;
  /** Leaves at key what a put killed midway leaves behind. */
  leaveIncomplete(key: string): Promise<void>;
  /** How many such leftovers are under prefix. */
  leftovers(prefix: string): Promise<number>;
}

function fsSubject(): Subject {
  const root = join(tmp, 'fs');
  const partials = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? partials(join(dir, e.name)) : e.name.startsWith('.rf-partial-') ? [join(dir, e.name)] : [],
    );
  return {
    store: createStore({ type: 'fs', path: root }),
    async leaveIncomplete(key) {
      const dir = join(root, ...key.split('/').slice(0, -1));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, partialFileName(key.split('/').at(-1)!)), 'half a backup');
    },
    async leftovers(prefix) {
      return partials(join(root, ...prefix.split('/'))).length;
    },
  };
}

function s3Subject(): Subject {
  const config = s3Config();
  const raw: S3Client = createS3Client(config, S3_ENV);
  return {
    store: createStore(config, S3_ENV),
    async leaveIncomplete(key) {
      await raw.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `backups/run/${key}` }));
    },
    async leftovers(prefix) {
      const res = await raw.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: `backups/run/${prefix}` }));
      return res.Uploads?.length ?? 0;
    },
  };
}

/**
 * `count` MiB of random bytes, made as they are read; `sha256()` once it has been read. Fails
 * at MiB `failAt`, or calls `midway` at the 10th MiB.
 */
function generated(count: number, failAt?: number, midway?: () => void): { body: Readable; sha256(): string } {
  const hash = createHash('sha256');
  async function* chunks() {
    for (let i = 0; i < count; i++) {
      if (i === failAt) throw new Error('the source failed midway');
      if (i === 10) midway?.();
      const chunk = randomBytes(MiB);
      hash.update(chunk);
      yield chunk;
    }
  }
  return { body: Readable.from(chunks()), sha256: () => hash.digest('hex') };
}

async function sha256Of(body: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

const body = (text: string) => Readable.from([Buffer.from(text)]);

const kinds = versitygwMissing ? (['fs'] as const) : (['fs', 's3'] as const);
const subjects = { fs: fsSubject, s3: s3Subject };

if (versitygwMissing && process.env.CI === 'true') {
  test('the s3 store tests have versitygw', () => {
    throw new Error(`${versitygwMissing} (CI=true: the s3 store tests must run)`);
  });
}

describe.each(kinds)('%s store', (kind) => {
  let subject: Subject;
  let store: BackupStore;
  beforeAll(() => {
    subject = subjects[kind]();
    store = subject.store;
  });

  test('a 20 MiB stream is stored with its size and sha256, and read back byte for byte', async () => {
    const source = generated(20);
    const progress: number[] = [];
    const put = await store.put('big/twenty.bin', source.body, { onProgress: (bytes) => progress.push(bytes) });
    expect(put).toEqual({ key: 'big/twenty.bin', size: 20 * MiB, sha256: source.sha256() });
    expect(progress.at(-1)).toBe(20 * MiB);
    expect(await sha256Of(await store.get('big/twenty.bin'))).toEqual({ size: 20 * MiB, sha256: put.sha256 });
  });

  test('putJson and getJson round-trip; getJson of a missing key is undefined', async () => {
    const manifest = { cluster: 'prod', nodes: ['127.0.0.1:7001'], at: '2026-11-27T02:00:00Z' };
    const put = await store.putJson('json/manifest.json', manifest);
    expect(put.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.getJson('json/manifest.json')).toEqual(manifest);
    expect(await store.getJson('json/nope.json')).toBeUndefined();
  });

  test('get of a missing key throws StoreObjectMissing naming the key; head is undefined', async () => {
    const err = await store.get('missing/thing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreObjectMissing);
    expect(err).toMatchObject({ key: 'missing/thing' });
    expect(await store.head('missing/thing')).toBeUndefined();
  });

  test('head gives size and time; a put overwrites', async () => {
    const before = Date.now() - 5_000;
    await store.put('head/obj', body('first version'));
    await store.put('head/obj', body('second'));
    const head = await store.head('head/obj');
    expect(head?.size).toBe(6);
    expect(head!.lastModified.getTime()).toBeGreaterThan(before);
    expect((await sha256Of(await store.get('head/obj'))).size).toBe(6);
  });

  test('list: every key starting with the prefix, recursive, sorted, relative to the store', async () => {
    for (const key of ['list/a/2', 'list/a/1', 'list/ab', 'list/b/c/d', 'listing']) await store.put(key, body(key));
    expect((await store.list('list/a')).map((o) => o.key)).toEqual(['list/a/1', 'list/a/2', 'list/ab']);
    expect((await store.list('list/a/')).map((o) => o.key)).toEqual(['list/a/1', 'list/a/2']);
    const all = await store.list('list/');
    expect(all.map((o) => o.key)).toEqual(['list/a/1', 'list/a/2', 'list/ab', 'list/b/c/d']);
    expect(all[3]!.size).toBe('list/b/c/d'.length);
    expect(Date.now() - all[3]!.lastModified.getTime()).toBeLessThan(60_000);
    expect((await store.list('')).map((o) => o.key)).toEqual(expect.arrayContaining(['listing', 'list/b/c/d', 'big/twenty.bin']));
    expect(await store.list('nothing/here/')).toEqual([]);
  });

  test('delete removes what exists and is fine with what does not', async () => {
    await store.put('del/one', body('1'));
    await store.put('del/two', body('2'));
    await store.delete(['del/one', 'del/never-was']);
    expect((await store.list('del/')).map((o) => o.key)).toEqual(['del/two']);
    await store.delete(['del/one', 'del/two']);
    await store.delete([]);
    expect(await store.list('del/')).toEqual([]);
  });

  test('a put whose body fails midway rejects with its error and leaves nothing', async () => {
    await expect(store.put('broken/obj', generated(12, 9).body)).rejects.toThrow('the source failed midway');
    expect(await store.head('broken/obj')).toBeUndefined();
    expect(await store.list('broken/')).toEqual([]);
    expect(await subject.leftovers('broken/')).toBe(0);
  });

  test.each([
    ['while the body is read', 'source'],
    ['after it was read, with parts in flight', 'progress'],
  ] as const)('a put aborted %s rejects and leaves the old object as it was', async (_when, trigger) => {
    const key = `aborted/${trigger}`;
    await store.put(key, body('the old backup'));
    const abort = new AbortController();
    const source = generated(30, undefined, trigger === 'source' ? () => abort.abort() : undefined);
    const put = store.put(key, source.body, {
      signal: abort.signal,
      onProgress: (bytes) => {
        if (trigger === 'progress' && bytes >= 9 * MiB) abort.abort();
      },
    });
    await expect(put).rejects.toMatchObject({ name: 'AbortError' });
    expect((await sha256Of(await store.get(key))).size).toBe('the old backup'.length);
    expect(await subject.leftovers('aborted/')).toBe(0);
  });

  test('abortIncomplete removes what a crashed put left, when older than asked', async () => {
    await subject.leaveIncomplete('crashed/node-7001.tar');
    expect(await subject.leftovers('crashed/')).toBe(1);
    expect(await store.list('crashed/')).toEqual([]);
    expect(await store.abortIncomplete('crashed/', new Date(Date.now() - 60_000))).toBe(0);
    expect(await store.abortIncomplete('elsewhere/', new Date(Date.now() + 60_000))).toBe(0);
    expect(await store.abortIncomplete('crashed/', new Date(Date.now() + 60_000))).toBe(1);
    expect(await subject.leftovers('crashed/')).toBe(0);
  });

  test.each(['', '/etc/passwd', '../up', 'a/../b', 'a\\b', 'a//b', 'dir/', '.'])('key %j is refused, by name', async (key) => {
    const named = `invalid store key "${key}"`;
    await expect(store.put(key, body('x'))).rejects.toThrow(named);
    await expect(store.get(key)).rejects.toThrow(named);
    await expect(store.head(key)).rejects.toThrow(named);
    await expect(store.delete(['ok/key', key])).rejects.toThrow(named);
  });

  test('a bad list prefix is refused', async () => {
    await expect(store.list('../')).rejects.toThrow('invalid store prefix "../"');
    await expect(store.abortIncomplete('/abs', new Date())).rejects.toThrow('invalid store prefix "/abs"');
  });
});

(versitygwMissing ? describe.skip : describe)('s3 store specifics', () => {
  test('objects live under the configured prefix; the description names bucket, prefix and endpoint', async () => {
    const store = createStore(s3Config({ prefix: '/backups/run/' }), S3_ENV);
    expect(store.description).toBe(`s3://${BUCKET}/backups/run/ (${server!.endpoint})`);
    await store.put('where/am-i', body('here'));
    const raw = createS3Client(s3Config(), S3_ENV);
    const res = await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'backups/run/where/' }));
    expect(res.Contents?.map((o) => o.Key)).toEqual(['backups/run/where/am-i']);
    expect((await store.list('where/')).map((o) => o.key)).toEqual(['where/am-i']);
  });

  test('a large put is a multipart upload', async () => {
    const store = createStore(s3Config(), S3_ENV);
    await store.put('parts/seventeen.bin', generated(17).body);
    const raw = createS3Client(s3Config(), S3_ENV);
    const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'backups/run/parts/seventeen.bin' }));
    expect(head.ETag).toMatch(/-3"?$/);
  });

  test('a missing bucket is named, with the endpoint and the fix', async () => {
    const store = createStore(s3Config({ bucket: 'no-such-bucket' }), S3_ENV);
    const expected = `bucket "no-such-bucket" does not exist at ${server!.endpoint}: create it or fix stores.<name>.bucket`;
    await expect(store.list('')).rejects.toThrow(expected);
    await expect(store.put('x', body('x'))).rejects.toThrow(expected);
    await expect(store.get('x')).rejects.toThrow(expected);
  });

  test('wrong credentials say which variables to set', async () => {
    const fix = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the worker's environment";
    const wrongSecret = createStore(s3Config(), { ...S3_ENV, AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
    await expect(wrongSecret.list('')).rejects.toThrow(`(SignatureDoesNotMatch): ${fix}`);
    const unknownKey = createStore(s3Config(), { AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
    await expect(unknownKey.put('x', body('x'))).rejects.toThrow(fix);
  });
});

test('the fs store ignores the temp files of unfinished puts', async () => {
  const store = new FsBackupStore(join(tmp, 'fs-temp'));
  await store.put('a/done', body('done'));
  writeFileSync(join(tmp, 'fs-temp', 'a', partialFileName('pending')), 'half');
  expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/done']);
  await expect(store.put('a/.rf-partial-0.x', body('x'))).rejects.toThrow('temp files');
});

test('the fs store writes files 0600 (temp files from their creation, the manifest too) in 0700 directories, tightening looser ones', async () => {
  const root = join(tmp, 'fs-modes');
  mkdirSync(join(root, 'backups'), { recursive: true });
  [root, join(root, 'backups')].forEach((d) => chmodSync(d, 0o755));
  const store = new FsBackupStore(root);
  const mode = (...path: string[]) => (statSync(join(root, ...path)).mode & 0o777).toString(8);
  // A body that waits after its first chunk holds the put at its temp file.
  const slow = new Readable({ read() {} });
  slow.push('first half ');
  const put = store.put('backups/b1/shard-0.aof', slow);
  const temp = await eventually('the temp file of the put', async () => readdirSync(join(root, 'backups', 'b1')), (names) => names.some((n) => n.startsWith('.rf-partial-')));
  expect(mode('backups', 'b1', temp.find((n) => n.startsWith('.rf-partial-'))!)).toBe('600');
  slow.push('second half');
  slow.push(null);
  await put;
  await store.putJson('backups/b1/manifest.json', { shards: 1 });
  expect([mode(), mode('backups'), mode('backups', 'b1')]).toEqual(['700', '700', '700']);
  expect([mode('backups', 'b1', 'shard-0.aof'), mode('backups', 'b1', 'manifest.json')]).toEqual(['600', '600']);
});
