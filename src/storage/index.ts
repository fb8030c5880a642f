import type { StoreConfig } from '../config';
import { FsBackupStore } from './fs';
import { createS3Client, S3BackupStore } from './s3';
import type { BackupStore } from './types';

export type { BackupStore, PutOptions, PutResult, StoredObject } from './types';
export { checkKey, checkPrefix, StoreError, StoreObjectMissing } from './types';
export { FsBackupStore, partialFileName } from './fs';
export { createS3Client, S3BackupStore, type S3StoreConfig } from './s3';

/** The store an inventory entry describes; `env` supplies S3 credentials when it is not process.env. */
export function createStore(config: StoreConfig, env: NodeJS.ProcessEnv = process.env): BackupStore {
  return config.type === 'fs' ? new FsBackupStore(config.path) : new S3BackupStore(config, createS3Client(config, env));
}
