/**
 * The payload encryption keys, from the environment of the process that encodes or decodes:
 * REDISFORGE_CODEC_KEYS="id:base64key[,id2:base64key]", or REDISFORGE_CODEC_KEYS_FILE naming a
 * file in the same form (commas or new lines, # comments). The first key encrypts; every key
 * decrypts, so a rotation puts the new key first and keeps the old ones until no history needs them.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const KEYS_ENV = 'REDISFORGE_CODEC_KEYS';
export const KEYS_FILE_ENV = 'REDISFORGE_CODEC_KEYS_FILE';
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface CodecKey {
  id: string;
  /** 32 bytes: AES-256. */
  key: Buffer;
}

/** Codec keys that cannot be used: the message names the variable (or file) and the fix. */
export class CodecConfigError extends Error {
  override name = 'CodecConfigError';
}

/** Parses "id:base64key" entries; `source` names where they came from, for the errors. */
export function parseCodecKeys(text: string, source: string): CodecKey[] {
  const entries = text
    .split(/[,\n]/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  if (entries.length === 0) throw new CodecConfigError(`${source} holds no key: give "id:base64key[,id2:base64key]" (generate one with \`openssl rand -base64 32\`)`);
  const keys = entries.map((entry, i): CodecKey => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    // The key itself is never echoed: only its position and what is wrong with it.
    if (!KEY_ID.test(id)) throw new CodecConfigError(`${source}: entry ${i + 1} has no valid key id: write "id:base64key", the id of letters, digits, ".", "_" or "-"`);
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) throw new CodecConfigError(`${source}: key "${id}" is ${key.length} bytes, AES-256 needs 32: generate one with \`openssl rand -base64 32\``);
    return { id, key };
  });
  const twice = keys.find((k, i) => keys.findIndex((o) => o.id === k.id) !== i);
  if (twice) throw new CodecConfigError(`${source}: key id "${twice.id}" is listed twice: give each key its own id`);
  return keys;
}

/** The keys this process was given; an empty list when neither variable is set (payloads stay plain). */
export function codecKeysFromEnv(env: NodeJS.ProcessEnv = process.env): CodecKey[] {
  const inline = env[KEYS_ENV];
  const file = env[KEYS_FILE_ENV];
  if (inline && file) throw new CodecConfigError(`both ${KEYS_ENV} and ${KEYS_FILE_ENV} are set: keep one of them`);
  if (inline) return parseCodecKeys(inline, KEYS_ENV);
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CodecConfigError(`${KEYS_FILE_ENV}=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix the path or its permissions`);
  }
  return parseCodecKeys(text, `${KEYS_FILE_ENV} (${file})`);
}

/** A fresh key entry, "id:base64key", for a new deployment, the demo or a test run. */
export function generateCodecKey(id = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
