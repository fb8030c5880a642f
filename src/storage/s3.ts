/**
 * A BackupStore in an S3 bucket (AWS or any S3-compatible server), below the configured
 * prefix. A put is a multipart upload of bounded parts: the object appears only when the upload
 * completes, and a failed put aborts it. Credentials come from the standard AWS chain.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pipeline, Readable } from 'node:stream';
import type { StoreConfig } from '../config';
import { checkKey, checkPrefix, compareKeys, createDigest, jsonBody, readJson, StoreError, StoreObjectMissing } from './types';
import type { BackupStore, PutOptions, PutResult, StoredObject } from './types';

export type S3StoreConfig = Extract<StoreConfig, { type: 's3' }>;

/** Memory per put is about PART_SIZE * (QUEUE_SIZE + 1). */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 3;
const DELETE_BATCH = 1000;

/**
 * The client for a store. Credentials: the SDK's default chain (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles...); an `env` other than process.env is
 * read for the keys and the profile first.
 */
export function createS3Client(config: Pick<S3StoreConfig, 'region' | 'endpoint' | 'forcePathStyle'>, env: NodeJS.ProcessEnv = process.env): S3Client {
  const options: S3ClientConfig = {
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    // Checksums only where S3 demands them: S3-compatible servers vary in the newer ones, and
    // every put has its own SHA-256 anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (env !== process.env) {
    if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
      options.credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
    } else if (env.AWS_PROFILE) {
      options.profile = env.AWS_PROFILE;
    }
  }
  return new S3Client(options);
}

const errorName = (err: unknown) => (err as { name?: string }).name ?? '';
const httpStatus = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
// XAdminUserNotFound: versitygw's answer to an unknown access key.
const CREDENTIAL_ERRORS = ['CredentialsProviderError', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'XAdminUserNotFound'];
const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'TimeoutError'];

export class S3BackupStore implements BackupStore {
  readonly kind = 's3';
  readonly description: string;
  private readonly base: string;
  private readonly endpoint: string;

  constructor(
    private readonly config: S3StoreConfig,
    private readonly client: S3Client = createS3Client(config),
  ) {
    const trimmed = config.prefix.replace(/^\/+|\/+$/g, '');
    this.base = trimmed ? `${trimmed}/` : '';
    this.endpoint = config.endpoint ?? `https://s3.${config.region}.amazonaws.com`;
    this.description = `s3://${config.bucket}/${this.base} (${this.endpoint})`;
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.base + key;
  }

  /** The SDK's error, as a StoreError that names the object and the likely fix. */
  private failure(err: unknown, action: string, key?: string): StoreError {
    const name = errorName(err);
    const code = (err as NodeJS.ErrnoException).code ?? name;
    const what = `${action} s3://${this.config.bucket}/${this.base}${key ?? ''}`;
    let why: string;
    if (name === 'NoSuchBucket') {
      why = `bucket "${this.config.bucket}" does not exist at ${this.endpoint}: create it or fix stores.<name>.bucket in the inventory`;
    } else if (CREDENTIAL_ERRORS.includes(name)) {
      why = `the S3 credentials are missing or wrong (${name}): set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the worker's environment`;
    } else if (name === 'AccessDenied' || httpStatus(err) === 403) {
      why = `access denied (${name}): give the worker's credentials access to bucket "${this.config.bucket}", or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE to ones that have it`;
    } else if (UNREACHABLE.includes(code)) {
      why = `cannot reach ${this.endpoint} (${code}): check that the server is up and stores.<name>.endpoint/region in the inventory`;
    } else {
      why = `${name || 'error'}: ${(err as Error).message}`;
    }
    return new StoreError(key, `${what} failed: ${why}`, { cause: err });
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const Key = this.objectKey(key);
    const { signal, onProgress } = opts;
    signal?.throwIfAborted();
    const digest = createDigest();
    let sourceError: Error | undefined;
    // A body that fails fails the digest stream Upload reads; Upload then aborts the upload.
    pipeline(body, digest.stream, (err) => {
      if (err) sourceError ??= err;
    });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key, Body: digest.stream },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    if (onProgress) upload.on('httpUploadProgress', (p) => onProgress(p.loaded ?? 0));
    let abortedParts = false;
    const onAbort = () => {
      // Like the fs store's pipeline: an AbortError whose cause is the signal's reason.
      sourceError ??= Object.assign(new Error(`the put of "${key}" was aborted`, { cause: signal?.reason }), { name: 'AbortError' });
      if (!digest.stream.readableEnded) {
        digest.stream.destroy(sourceError);
      } else if (digest.size() > PART_SIZE) {
        // Read to the end, parts still in flight: stop Upload before it completes the upload.
        abortedParts = true;
        void upload.abort();
      }
      // else: one PutObject carries it all and cannot be called back; the abort comes too late.
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      // Errors of the body (or the abort) are the caller's; only the SDK's get an S3 explanation.
      const bodyError = sourceError ?? body.errored ?? digest.stream.errored;
      digest.stream.destroy();
      // Upload rejects at once on abort() and cleans up later: do it now, so nothing is left.
      if (abortedParts && upload.uploadId) await this.abortUpload(Key, upload.uploadId);
      if (bodyError) throw bodyError;
      throw this.failure(err, 'put', key);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return { key, ...digest.result() };
  }

  private async abortUpload(Key: string, UploadId: string): Promise<boolean> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key, UploadId }));
      return true;
    } catch (err) {
      // Finished or aborted meanwhile.
      if (errorName(err) === 'NoSuchUpload') return false;
      throw this.failure(err, 'abort the upload to', Key.slice(this.base.length));
    }
  }

  putJson(key: string, value: unknown): Promise<PutResult> {
    return this.put(key, jsonBody(key, value));
  }

  async get(key: string): Promise<Readable> {
    const Key = this.objectKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key }));
      if (!(res.Body instanceof Readable)) throw new Error('the SDK returned a body that is not a Node stream');
      return res.Body;
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') throw new StoreObjectMissing(key, this.description);
      throw this.failure(err, 'get', key);
    }
  }

  getJson<T = unknown>(key: string): Promise<T | undefined> {
    return readJson<T>(this, key);
  }

  async head(key: string): Promise<{ size: number; lastModified: Date } | undefined> {
    const Key = this.objectKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key }));
      return { size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0) };
    } catch (err) {
      // HEAD has no error body: a missing bucket is a 404 too, and shows up in list or put.
      if (errorName(err) === 'NotFound' || errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return undefined;
      throw this.failure(err, 'head', key);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkPrefix(prefix);
    const objects: StoredObject[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.config.bucket, Prefix: this.base + prefix })) {
        for (const o of page.Contents ?? []) {
          if (!o.Key?.startsWith(this.base)) continue;
          objects.push({ key: o.Key.slice(this.base.length), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
        }
      }
    } catch (err) {
      throw this.failure(err, 'list', prefix);
    }
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(keys: string[]): Promise<void> {
    const objects = keys.map((k) => ({ Key: this.objectKey(k) }));
    for (let i = 0; i < objects.length; i += DELETE_BATCH) {
      const batch = objects.slice(i, i + DELETE_BATCH);
      let errors;
      try {
        ({ Errors: errors } = await this.client.send(new DeleteObjectsCommand({ Bucket: this.config.bucket, Delete: { Objects: batch, Quiet: true } })));
      } catch (err) {
        throw this.failure(err, 'delete', batch[0]!.Key!.slice(this.base.length));
      }
      const failed = (errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0]!;
        const key = first.Key?.slice(this.base.length);
        throw this.failure(Object.assign(new Error(first.Message ?? ''), { name: first.Code }), `delete (${failed.length} of ${batch.length} failed)`, key);
      }
    }
  }

  async abortIncomplete(prefix: string, olderThan: Date): Promise<number> {
    checkPrefix(prefix);
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.config.bucket, Prefix: this.base + prefix, KeyMarker, UploadIdMarker }));
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= olderThan) continue;
          if (await this.abortUpload(u.Key, u.UploadId)) aborted++;
        }
        if (!page.IsTruncated) return aborted;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw this.failure(err, 'abort incomplete uploads under', prefix);
    }
  }
}
