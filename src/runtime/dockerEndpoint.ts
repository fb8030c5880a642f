/**
 * How the worker reaches a Docker engine. The Docker API is root on that host, so an endpoint
 * anyone on the path could read or answer is refused unless the inventory says `insecure: true`:
 * tcp:// (http) without client certificates, and ssh:// without a known host key.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import type { DockerRuntimeConfig } from '../config';

export interface EndpointSecurity {
  /** runtimes.<name>.insecure: allow plain tcp:// and unchecked ssh:// host keys. @default false */
  insecure?: boolean;
  /** runtimes.<name>.sshKnownHostsFile: where ssh:// host keys are checked. */
  sshKnownHostsFile?: string;
}

/** Whether known_hosts `text` lists `key` (the raw host key) for `host` on `port`, as OpenSSH matches it. */
export function knownHostKey(text: string, host: string, port: number, key: Buffer): boolean {
  const names = port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
  const wanted = key.toString('base64');
  const nameMatches = (pattern: string) => {
    if (pattern.startsWith('|1|')) {
      // Hashed entry (HashKnownHosts): |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
      const [, , salt, hash] = pattern.split('|');
      return names.some((n) => createHmac('sha1', Buffer.from(salt ?? '', 'base64')).update(n).digest('base64') === hash);
    }
    return pattern.split(',').some((p) => names.includes(p));
  };
  return text.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) return false;
    return nameMatches(fields[0]!) && fields[2] === wanted;
  });
}

/**
 * dockerode options for an endpoint: a socket path, unix://, tcp:// or https:// (TLS with client
 * certificates), or ssh:// (host key checked against sshKnownHostsFile).
 */
export function dockerOptions(endpoint: string, tls?: DockerRuntimeConfig['tls'], security: EndpointSecurity = {}): Docker.DockerOptions {
  if (endpoint.startsWith('/') || endpoint.startsWith('unix://')) return { socketPath: endpoint.replace(/^unix:\/\//, '') };
  const url = new URL(endpoint);
  if (url.protocol === 'ssh:') {
    const host = url.hostname;
    const port = Number(url.port || 22);
    const knownHosts = security.sshKnownHostsFile;
    if (!knownHosts && !security.insecure) {
      throw new Error(
        `docker endpoint "${endpoint}": no known host key to check the ssh server against; set the runtime's sshKnownHostsFile to a known_hosts file that lists ${host} (ssh-keyscan -p ${port} ${host}, checked out of band), or "insecure": true to accept any host key`,
      );
    }
    const text = knownHosts ? readFileSync(knownHosts, 'utf8') : undefined;
    const hostVerifier = text === undefined ? undefined : (key: Buffer) => knownHostKey(text, host, port, key);
    return { protocol: 'ssh', host, port, username: url.username || undefined, sshOptions: { agent: process.env.SSH_AUTH_SOCK, hostVerifier } } as Docker.DockerOptions;
  }
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const read = (f?: string) => (f ? readFileSync(f) : undefined);
    const secure = url.protocol === 'https:' || Boolean(tls?.certFile);
    const clientCertificates = Boolean(tls?.certFile && tls.keyFile);
    if (!clientCertificates && !security.insecure) {
      throw new Error(
        `docker endpoint "${endpoint}": ${secure ? 'TLS without a client certificate' : 'plain HTTP'} lets anyone who reaches the port drive Docker; set the runtime's tls.caFile, tls.certFile and tls.keyFile (dockerd --tlsverify), or "insecure": true to allow it`,
      );
    }
    return {
      protocol: secure ? 'https' : 'http',
      host: url.hostname,
      port: Number(url.port || (secure ? 2376 : 2375)),
      ca: read(tls?.caFile),
      cert: read(tls?.certFile),
      key: read(tls?.keyFile),
    };
  }
  throw new Error(`docker endpoint "${endpoint}": expected a socket path, unix://, tcp:// or ssh://`);
}
