/**
 * nodes.conf: each node line has the CLUSTER NODES format, and a final
 * `vars currentEpoch N lastVoteEpoch M` line. Parsing keeps every byte so that
 * serialize(parse(text)) === text; rewriting touches only the address fields.
 */
import { parseClusterNodeLine, type ClusterNode } from './nodes';

export type NodesConfLine =
  | { kind: 'node'; fields: string[] }
  | { kind: 'vars'; fields: string[] }
  | { kind: 'other'; text: string };

export interface NodesConf {
  lines: NodesConfLine[];
  /** Whether the text ended with a newline (Redis always writes one). */
  trailingNewline: boolean;
}

export function parseNodesConf(text: string): NodesConf {
  const trailingNewline = text.endsWith('\n');
  const body = trailingNewline ? text.slice(0, -1) : text;
  const lines: NodesConfLine[] = body === '' ? [] : body.split('\n').map(classifyLine);
  return { lines, trailingNewline };
}

function classifyLine(text: string): NodesConfLine {
  const fields = text.split(' ');
  if (fields[0] === 'vars') return { kind: 'vars', fields };
  if (fields.length >= 8 && /^[0-9a-f]{40}$/.test(fields[0] ?? '')) return { kind: 'node', fields };
  return { kind: 'other', text };
}

export function serializeNodesConf(conf: NodesConf): string {
  const text = conf.lines
    .map((line) => (line.kind === 'other' ? line.text : line.fields.join(' ')))
    .join('\n');
  return conf.trailingNewline ? `${text}\n` : text;
}

export function nodesConfNodes(conf: NodesConf): ClusterNode[] {
  return conf.lines.flatMap((line) => (line.kind === 'node' ? [parseClusterNodeLine(line.fields.join(' '))] : []));
}

/** The `vars` line as numbers: currentEpoch, lastVoteEpoch. */
export function nodesConfVars(conf: NodesConf): Record<string, number> {
  const vars: Record<string, number> = {};
  const line = conf.lines.find((l) => l.kind === 'vars');
  if (line && line.kind === 'vars') {
    for (let i = 1; i + 1 < line.fields.length; i += 2) vars[line.fields[i]!] = Number(line.fields[i + 1]);
  }
  return vars;
}

/**
 * Returns a copy with node addresses moved: `moves` maps an old "host:port" to a new one.
 * The bus port follows the client port by the same offset it had before; hostname and aux
 * fields (shard-id, tls-port) are kept; ids, flags, epochs and slots are untouched.
 */
export function rewriteNodesConfAddresses(conf: NodesConf, moves: Record<string, string>): NodesConf {
  const lines = conf.lines.map((line): NodesConfLine => {
    if (line.kind !== 'node') return line;
    const [addrField = '', ...rest] = line.fields[1]!.split(',');
    const at = addrField.lastIndexOf('@');
    const hostPort = at === -1 ? addrField : addrField.slice(0, at);
    const target = moves[hostPort];
    if (target === undefined) return line;
    const oldPort = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
    const newPort = Number(target.slice(target.lastIndexOf(':') + 1));
    const bus = at === -1 ? '' : `@${Number(addrField.slice(at + 1)) - oldPort + newPort}`;
    const fields = [...line.fields];
    fields[1] = [`${target}${bus}`, ...rest].join(',');
    return { kind: 'node', fields };
  });
  return { lines, trailingNewline: conf.trailingNewline };
}
