/**
 * Redis TLS on the nodes a runtime runs: the redis.conf directives that put the node's port on
 * TLS and the replication link and cluster bus too, from the inventory's `tls.server`.
 */
import type { ClusterConfig } from '../config';
import { quoteConf } from './aclConf';

/** The node's certificate, key and CA, as paths the node itself opens (a host path, or one inside the container). */
export interface NodeTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** Keep a plaintext port at port + this offset; absent: plaintext is off (port 0). */
  plaintextPortOffset?: number;
  authClients: 'yes' | 'optional' | 'no';
}

/**
 * The inventory's `tls.server` with its CA resolved (the client-side caFile by default), or
 * undefined when the runtimes provision plaintext nodes.
 */
export function serverTls(cluster: string, config: ClusterConfig | undefined): NodeTls | undefined {
  const server = config?.tls?.server;
  if (!server) return undefined;
  // The inventory schema already refused a server section without either CA.
  const caFile = (server.caFile ?? config.tls?.caFile)!;
  return { certFile: server.certFile, keyFile: server.keyFile, caFile, plaintextPortOffset: server.plaintextPortOffset, authClients: server.authClients };
}

/**
 * The directives for a node on `port`. The node's own port becomes its TLS port, so every
 * address in the inventory and in CLUSTER NODES stays the same whether TLS is on or not; the
 * node uses its certificate as a client too, towards its master and on the cluster bus.
 */
export function tlsDirectives(port: number, tls: NodeTls): [string, string][] {
  return [
    ['port', String(tls.plaintextPortOffset ? port + tls.plaintextPortOffset : 0)],
    ['tls-port', String(port)],
    ['tls-cert-file', quoteConf(tls.certFile)],
    ['tls-key-file', quoteConf(tls.keyFile)],
    ['tls-ca-cert-file', quoteConf(tls.caFile)],
    ['tls-auth-clients', tls.authClients],
    ['tls-replication', 'yes'],
    ['tls-cluster', 'yes'],
  ];
}

