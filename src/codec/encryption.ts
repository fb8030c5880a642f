/**
 * AES-256-GCM payload codec: each payload is serialized whole (metadata and data, as the
 * Temporal Payload protobuf) and encrypted, so the server stores neither the values nor their
 * encoding. The key id travels in the clear in the metadata (and is bound to the ciphertext as
 * associated data), so a process knows which of its keys opens a payload, and says which one is
 * missing when none does. Payloads that are not encrypted (older runs, recorded histories)
 * pass through decode unchanged.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Field, MapField, Type } from 'protobufjs';
import { KEYS_ENV, KEYS_FILE_ENV, type CodecKey } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** temporal.api.common.v1.Payload, the fields a codec carries (wire-compatible with the SDKs'). */
const PayloadMessage = new Type('Payload').add(new MapField('metadata', 1, 'string', 'bytes')).add(new Field('data', 2, 'bytes'));

/** An encrypted payload this process cannot open: names the key id it needs. */
export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
  constructor(
    message: string,
    readonly keyId: string,
  ) {
    super(message);
  }
}

const text = (bytes: Uint8Array | null | undefined): string | undefined => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  /** `keys[0]` encrypts; all decrypt. No keys: payloads are written plain, and only plain ones are read. */
  constructor(readonly keys: readonly CodecKey[]) {
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id new payloads are encrypted with; undefined when encryption is off. */
  get encryptingKeyId(): string | undefined {
    return this.keys[0]?.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const current = this.keys[0];
    if (!current) return payloads;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(current.id));
      const plain = PayloadMessage.encode(PayloadMessage.fromObject({ metadata: payload.metadata ?? {}, data: payload.data ?? new Uint8Array() })).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(current.id), [CIPHER_METADATA]: Buffer.from(CIPHER) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private decrypt(payload: Payload): Payload {
    const id = text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
    const key = this.byId.get(id);
    if (!key) {
      const have = this.keys.length ? `this process has the keys ${this.keys.map((k) => `"${k.id}"`).join(', ')}` : 'this process has no codec keys';
      throw new CodecKeyError(`a payload is encrypted with key "${id}" and ${have}: add "${id}:<base64key>" to ${KEYS_ENV} (or the file ${KEYS_FILE_ENV} names)`, id);
    }
    const sealed = Buffer.from(payload.data ?? new Uint8Array());
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError(`a payload encrypted with key "${id}" is truncated (${sealed.length} bytes)`, id);
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(id));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new CodecKeyError(`a payload encrypted with key "${id}" does not open with the key "${id}" given here: it is not the key it was encrypted with (or the payload was altered)`, id);
    }
    const message = PayloadMessage.decode(plain) as unknown as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
    return { metadata: message.metadata ?? {}, data: message.data ?? new Uint8Array() };
  }
}
