/** Every secret of a test run, by name: what the hygiene and secrets tests search for. */
import { aclEnv } from './acl';
import { password } from './cluster';
import { REGISTRY_PASSWORD, runInfo, S3_SECRET_KEY } from './env';

export interface NamedSecret {
  name: string;
  value: string;
}

export function runSecrets(): NamedSecret[] {
  const secrets: NamedSecret[] = [
    { name: 'the Redis password (REDIS_REQUIREPASS)', value: password() },
    { name: 'the S3 secret key (AWS_SECRET_ACCESS_KEY)', value: S3_SECRET_KEY },
    { name: 'the image registry password', value: REGISTRY_PASSWORD },
    ...Object.entries(aclEnv(password())).map(([env, value]) => ({ name: `the ACL password ${env}`, value })),
  ];
  // The payload codec's key, in run.json once the run encrypts its payloads.
  const codecKey = (runInfo() as { codecKey?: unknown }).codecKey;
  if (typeof codecKey === 'string' && codecKey) {
    secrets.push({ name: 'the payload codec key', value: codecKey });
    // Written as <id>:<base64 key>: the key itself may leak without its id, or in hex.
    const key = codecKey.slice(codecKey.lastIndexOf(':') + 1);
    if (key !== codecKey) secrets.push({ name: 'the payload codec key (base64)', value: key });
    const bytes = Buffer.from(key, 'base64');
    if (bytes.length >= 16) secrets.push({ name: 'the payload codec key (hex)', value: bytes.toString('hex') });
  }
  // A short value would match by chance and prove nothing: every secret of the run is long.
  for (const s of secrets) if (s.value.length < 8) throw new Error(`${s.name} is too short to search for: "${s.value}"`);
  return secrets;
}

/** The names of the secrets `text` contains (none, or the test fails naming them). */
export function leakedIn(text: string, secrets: readonly NamedSecret[]): string[] {
  return secrets.filter((s) => text.includes(s.value)).map((s) => s.name);
}
