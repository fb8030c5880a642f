/** Inputs of configureAcl and rotateCredentials. No password is ever an input: the worker reads them. */
import { z } from 'zod';
import { clusterName } from './inputs';

export const configureAclInput = z
  .object({
    cluster: clusterName,
    /** Return what would change on each node without touching any. @default false */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type ConfigureAclInput = z.input<typeof configureAclInput>;

export const rotateCredentialsInput = z
  .object({
    cluster: clusterName,
    /** Whose password: the new one is the user's nextPasswordEnv/nextPasswordFile in the worker's environment. */
    user: z.enum(['operator', 'replication', 'application'], { error: 'expected one of "operator", "replication", "application"' }),
    /** Check every node and the next password without changing anything. @default false */
    dryRun: z.boolean().default(false),
    /** How long the replicas' links may take to come back up. @default 120 */
    timeoutSeconds: z.int().min(5).max(3600).default(120),
  })
  .strict();
export type RotateCredentialsInput = z.input<typeof rotateCredentialsInput>;
