/** Inputs of configureAcl and rotateCredentials. No password is ever an input: the worker reads them. */
import { z } from 'zod';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS } from '../shared';
import { clusterName } from './inputs';

export const configureAclInput = z
  .object({
    cluster: clusterName,
    /** Return what would change on each node without touching any. @default false */
    dryRun: z.boolean().default(false),
    /** Pre-approve turning the default user off (it cuts off every client still on the old password). @default false */
    approve: z.boolean().default(false),
    /** How long the approval gate waits for the approve update before it declines. @default 86400 (24 h) */
    approvalTimeoutSeconds: z.int().min(1).max(30 * 86_400).default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
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
