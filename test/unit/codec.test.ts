/**
 * The payload codec without a server: what it writes hides the value and its encoding, a rotated
 * key set still reads the old payloads and writes with the new key, a payload whose key is
 * missing fails naming that key, and plain payloads (recorded histories, older runs) pass through.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { codecFromEnv, CodecKeyError, EncryptionCodec, generateCodecKey, isEncrypted, KEY_ID_METADATA, parseCodecKeys } from '../../src/codec';

const input = { cluster: 'secret-cluster', node: '127.0.0.1:7001', nested: [1, 'two', null] };
const plain = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const read = (payload: Payload): unknown => defaultPayloadConverter.fromPayload(payload);
const codec = (...entries: string[]) => new EncryptionCodec(parseCodecKeys(entries.join(','), 'test'));
const text = (bytes?: Uint8Array | null) => Buffer.from(bytes ?? []).toString('utf8');

const oldKey = generateCodecKey('old');
const newKey = generateCodecKey('new');

test('round trip: the stored payload shows neither the value nor its encoding, and decodes to the same value', async () => {
  const c = codec(oldKey);
  const [sealed] = await c.encode([plain(input)]);
  expect(isEncrypted(sealed!)).toBe(true);
  expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('old');
  expect(Object.keys(sealed!.metadata!).sort()).toEqual(['encoding', 'encryption-cipher', 'encryption-key-id']);
  expect(Buffer.from(sealed!.data!).toString('latin1')).not.toMatch(/secret-cluster|127\.0\.0\.1|json\/plain/);
  const [opened] = await c.decode([sealed!]);
  expect(read(opened!)).toEqual(input);
  expect(text(opened!.metadata!.encoding)).toBe('json/plain');
  // A fresh IV each time: the same value never gives the same ciphertext.
  const [again] = await c.encode([plain(input)]);
  expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
});

test('rotation: with the new key first, old payloads still decrypt and new ones use the new key', async () => {
  const [before] = await codec(oldKey).encode([plain(input)]);
  const rotated = codec(newKey, oldKey);
  expect(read((await rotated.decode([before!]))[0]!)).toEqual(input);
  const [after] = await rotated.encode([plain(input)]);
  expect(text(after!.metadata![KEY_ID_METADATA])).toBe('new');
  // The old key alone cannot read what the new key wrote, and says which key it needs.
  await expect(codec(oldKey).decode([after!])).rejects.toThrow(/encrypted with key "new" and this process has the keys "old": add "new:<base64key>" to REDISFORGE_CODEC_KEYS/);
});

test('a payload whose key id is unknown, or whose key is wrong, fails naming the key id', async () => {
  const [sealed] = await codec(oldKey).encode([plain(input)]);
  const err = await new EncryptionCodec([]).decode([sealed!]).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CodecKeyError);
  expect((err as CodecKeyError).keyId).toBe('old');
  expect((err as Error).message).toMatch(/encrypted with key "old" and this process has no codec keys/);
  // Same id, another key: GCM's tag refuses it rather than returning garbage.
  await expect(codec(generateCodecKey('old')).decode([sealed!])).rejects.toThrow(/key "old" does not open with the key "old" given here/);
  // The key id is bound to the ciphertext: relabelling a payload does not open it with another key.
  const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('new') } };
  await expect(codec(newKey, oldKey).decode([relabelled])).rejects.toThrow(/key "new" does not open/);
});

test('plain payloads pass through decode; without keys, encode leaves payloads plain', async () => {
  const payloads = [plain(input), plain('text'), plain(undefined)];
  const decoded = await codec(oldKey).decode(payloads);
  decoded.forEach((p, i) => expect(p).toBe(payloads[i]));
  expect(decoded.map(read)).toEqual([input, 'text', undefined]);
  const off = new EncryptionCodec([]);
  expect(off.encryptingKeyId).toBeUndefined();
  expect(await off.encode(payloads)).toBe(payloads);
});

test('keys from the environment or a file; bad keys are refused naming the variable, never echoing the key', () => {
  expect(codecFromEnv({}).keys).toEqual([]);
  expect(codecFromEnv({ REDISFORGE_CODEC_KEYS: `${newKey}, ${oldKey}` }).keys.map((k) => k.id)).toEqual(['new', 'old']);
  const file = join(mkdtempSync(join(tmpdir(), 'codec-')), 'keys');
  writeFileSync(file, `# rotated 2026-12\n${newKey}\n${oldKey}\n`, { mode: 0o600 });
  expect(codecFromEnv({ REDISFORGE_CODEC_KEYS_FILE: file }).encryptingKeyId).toBe('new');
  expect(() => codecFromEnv({ REDISFORGE_CODEC_KEYS_FILE: join(file, 'missing') })).toThrow(/REDISFORGE_CODEC_KEYS_FILE=.*missing cannot be read \(ENOTDIR\)/);
  expect(() => codecFromEnv({ REDISFORGE_CODEC_KEYS: newKey, REDISFORGE_CODEC_KEYS_FILE: file })).toThrow('both REDISFORGE_CODEC_KEYS and REDISFORGE_CODEC_KEYS_FILE are set');
  const short = `short:${Buffer.alloc(16).toString('base64')}`;
  expect(() => codecFromEnv({ REDISFORGE_CODEC_KEYS: short })).toThrow('REDISFORGE_CODEC_KEYS: key "short" is 16 bytes, AES-256 needs 32');
  expect(() => codecFromEnv({ REDISFORGE_CODEC_KEYS: 'c2VjcmV0LWtleS1ieXRlcw==' })).toThrow(/entry 1 has no valid key id/);
  expect(() => codecFromEnv({ REDISFORGE_CODEC_KEYS: `${oldKey},${oldKey}` })).toThrow('key id "old" is listed twice');
  try {
    codecFromEnv({ REDISFORGE_CODEC_KEYS: `bad id:${oldKey.split(':')[1]}` });
  } catch (err) {
    expect((err as Error).message).not.toContain(oldKey.split(':')[1]);
  }
});
