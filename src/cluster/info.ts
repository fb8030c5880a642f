/** Parsing of INFO and CLUSTER INFO replies. Pure. */

export type InfoSections = Record<string, Record<string, string>>;

/** Parses an INFO reply into sections keyed by lower-case section name. */
export function parseInfo(reply: string): InfoSections {
  const sections: InfoSections = {};
  let current: Record<string, string> = {};
  sections.default = current;
  for (const raw of reply.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      current = {};
      sections[line.slice(1).trim().toLowerCase()] = current;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) current[line.slice(0, colon)] = line.slice(colon + 1);
  }
  if (Object.keys(sections.default!).length === 0) delete sections.default;
  return sections;
}

/** All fields of an INFO reply, regardless of section. */
export function flattenInfo(sections: InfoSections): Record<string, string> {
  return Object.assign({}, ...Object.values(sections)) as Record<string, string>;
}

export interface ClusterInfo {
  state: 'ok' | 'fail';
  slotsAssigned: number;
  slotsOk: number;
  slotsPfail: number;
  slotsFail: number;
  knownNodes: number;
  size: number;
  currentEpoch: number;
  myEpoch: number;
  raw: Record<string, string>;
}

export function parseClusterInfo(reply: string): ClusterInfo {
  const raw = flattenInfo(parseInfo(reply));
  const num = (key: string) => Number(raw[key] ?? 0);
  return {
    state: raw.cluster_state === 'ok' ? 'ok' : 'fail',
    slotsAssigned: num('cluster_slots_assigned'),
    slotsOk: num('cluster_slots_ok'),
    slotsPfail: num('cluster_slots_pfail'),
    slotsFail: num('cluster_slots_fail'),
    knownNodes: num('cluster_known_nodes'),
    size: num('cluster_size'),
    currentEpoch: num('cluster_current_epoch'),
    myEpoch: num('cluster_my_epoch'),
    raw,
  };
}

/** Fields of INFO replication, typed for the checks that use them. */
export interface ReplicationInfo {
  role: 'master' | 'replica';
  masterLinkUp: boolean | null;
  masterSyncInProgress: boolean;
  connectedReplicas: number;
  replicationOffset: number;
}

export function parseReplicationInfo(sections: InfoSections): ReplicationInfo {
  const r = sections.replication ?? {};
  const role = r.role === 'slave' ? 'replica' : 'master';
  return {
    role,
    masterLinkUp: role === 'replica' ? r.master_link_status === 'up' : null,
    masterSyncInProgress: r.master_sync_in_progress === '1',
    connectedReplicas: Number(r.connected_slaves ?? 0),
    replicationOffset: Number((role === 'replica' ? r.slave_repl_offset : r.master_repl_offset) ?? 0),
  };
}
