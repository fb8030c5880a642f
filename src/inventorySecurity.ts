/**
 * The inventory's security settings: who the worker logs in as (one password, or an ACL user
 * per role), Redis TLS on the client and on the nodes, and which addresses and ports beyond a
 * cluster's nodes it may use. Names of variables and files only: never a secret.
 */
import { z } from 'zod';

export const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name, e.g. REDIS_REQUIREPASS');

export const authSchema = z
  .object({
    /** Environment variable holding the ACL user name; none means the default user. */
    usernameEnv: envName.optional(),
    /** Environment variable holding the password (requirepass); unset or empty means no AUTH. */
    passwordEnv: envName.default('REDIS_REQUIREPASS'),
    /** A file holding the password, used when the variable is unset (e.g. a mounted secret). */
    passwordFile: z.string().optional(),
  })
  .strict();

export const tlsSchema = z
  .object({
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    servername: z.string().optional(),
    /** @default true */
    rejectUnauthorized: z.boolean().default(true),
    /** Required to set rejectUnauthorized false; clusterHealth reports it as a finding. @default false */
    insecure: z.boolean().default(false),
    /**
     * What the runtimes provision on the nodes they run: tls-port on the node's port,
     * tls-replication and tls-cluster yes. Absent: the nodes are started elsewhere (the worker
     * only connects with TLS).
     */
    server: z
      .object({
        certFile: z.string(),
        keyFile: z.string(),
        /** CA that signs clients' and other nodes' certificates; default the client-side caFile. */
        caFile: z.string().optional(),
        /** Keep a plaintext port at port + this offset; absent: the plaintext port is off (port 0). */
        plaintextPortOffset: z.int().min(1).max(50000).optional(),
        /** tls-auth-clients: whether clients must present a certificate. @default "yes" */
        authClients: z.enum(['yes', 'optional', 'no']).default('yes'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.server && !t.server.caFile && !t.caFile) {
      ctx.addIssue({ code: 'custom', path: ['server', 'caFile'], message: "name the CA that signs the nodes' and clients' certificates (or set tls.caFile)" });
    }
    if (!t.rejectUnauthorized && !t.insecure) {
      ctx.addIssue({ code: 'custom', path: ['rejectUnauthorized'], message: 'false turns off certificate checks: set "insecure": true as well to mean it (clusterHealth then reports it)' });
    }
  });

/** One ACL user: its name, and where its password is (never in this file). */
const aclUserSchema = (defaultName: string) =>
  z
    .object({
      /** @default the role's name, e.g. "redisforge-operator" */
      username: z.string().regex(/^[A-Za-z0-9._-]+$/, 'ACL user names use letters, digits, ., - and _').default(defaultName),
      passwordEnv: envName.optional(),
      passwordFile: z.string().optional(),
      /** rotateCredentials: where the new password is while a rotation rolls out. */
      nextPasswordEnv: envName.optional(),
      nextPasswordFile: z.string().optional(),
    })
    .strict()
    .refine((u) => u.passwordEnv !== undefined || u.passwordFile !== undefined, { message: 'name passwordEnv or passwordFile: where the password of this user is' });

/**
 * Distinct users per role. With it the worker connects as `operator`, replicas sync as
 * `replication` (masteruser) and applications (Envoy) use `application`; the default user is off.
 */
export const aclSchema = z
  .object({
    operator: aclUserSchema('redisforge-operator'),
    replication: aclUserSchema('redisforge-replication'),
    application: aclUserSchema('app'),
    /** ACL rules of the application user. @default "~* &* +@all -@admin -@dangerous" */
    applicationRules: z.string().default('~* &* +@all -@admin -@dangerous'),
  })
  .strict();

/**
 * Addresses addNode and createCluster may use beyond `nodes`: "host:port", "host:first-last",
 * or a CIDR with a port or a port range ("10.0.0.0/24:7001-7010").
 */
export const spareEntry = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9._-]+|\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}):\d{1,5}(?:-\d{1,5})?$/,
    'expected "host:port", "host:first-last" or "a.b.c.d/nn:port[-port]", e.g. "127.0.0.1:7007-7010"',
  );

export const portRange = z.string().regex(/^\d{1,5}-\d{1,5}$/, 'expected "first-last", e.g. "40001-40100"');

