/**
 * Payload encryption for every process that talks to Temporal: the worker, the CLI, the SDK's
 * clients (and so Schedules), the codec server. Never imported by workflow code: codecs run
 * outside the workflow sandbox, on the payloads as they cross the wire.
 */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption';
import { codecKeysFromEnv, KEYS_ENV, KEYS_FILE_ENV } from './keys';

export { CodecKeyError, EncryptionCodec, ENCRYPTED_ENCODING, isEncrypted, KEY_ID_METADATA } from './encryption';
export { CodecConfigError, codecKeysFromEnv, generateCodecKey, KEYS_ENV, KEYS_FILE_ENV, parseCodecKeys, type CodecKey } from './keys';
export { startCodecServer, type CodecServer, type CodecServerOptions } from './server';

/**
 * The codec of this process's keys. Always installed, even without keys: then it writes plain
 * payloads and, reading an encrypted one, says which key is missing instead of "unknown encoding".
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionCodec {
  return new EncryptionCodec(codecKeysFromEnv(env));
}

export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter {
  return { payloadCodecs: [codecFromEnv(env)] };
}

/** For start lines: whether payloads are encrypted, and with which key (never the key itself). */
export function describeCodec(codec: EncryptionCodec): string {
  const id = codec.encryptingKeyId;
  if (!id) return `payloads NOT encrypted (set ${KEYS_ENV} or ${KEYS_FILE_ENV} to encrypt them)`;
  const others = codec.keys.length - 1;
  return `payloads encrypted with key "${id}"${others ? ` (${others} older key${others > 1 ? 's' : ''} to decrypt)` : ''}`;
}
