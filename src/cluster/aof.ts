/**
 * Redis 7 multi-part AOF: the manifest that names the base and incr files, and the key count
 * an RDB-preamble base file records in its header. Pure: used by the backup activities.
 */

export type AofFileType = 'b' | 'h' | 'i';

export interface AofFile {
  name: string;
  seq: number;
  type: AofFileType;
  /** Fields a newer Redis adds (8.0: startoffset, endoffset), kept as written. */
  extra?: [string, string][];
}

/** Parses appendonly.aof.manifest: one `file <name> seq <n> type <b|h|i>` line per file. */
export function parseAofManifest(text: string): AofFile[] {
  const files: AofFile[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const tokens = splitManifestLine(line);
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < tokens.length; i += 2) fields[tokens[i]!] = tokens[i + 1]!;
    const type = fields.type;
    if (!fields.file || !fields.seq || (type !== 'b' && type !== 'h' && type !== 'i')) {
      throw new Error(`AOF manifest line ${index + 1} is not "file <name> seq <n> type <b|h|i>": ${line}`);
    }
    const extra = Object.entries(fields).filter(([k]) => k !== 'file' && k !== 'seq' && k !== 'type');
    files.push({ name: fields.file, seq: Number(fields.seq), type, ...(extra.length ? { extra } : {}) });
  }
  return files;
}

/** Tokens separated by spaces; a name Redis had to quote ("...") is unquoted. */
function splitManifestLine(line: string): string[] {
  const tokens: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) tokens.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return tokens;
}

export function serializeAofManifest(files: readonly AofFile[]): string {
  const quote = (name: string) => (/^[A-Za-z0-9._-]+$/.test(name) ? name : JSON.stringify(name));
  return files.map((f) => `file ${quote(f.name)} seq ${f.seq} type ${f.type}${(f.extra ?? []).map(([k, v]) => ` ${k} ${v}`).join('')}\n`).join('');
}

/**
 * The files a backup keeps: the base and the incr files, without history files (type h,
 * waiting for deletion). Throws when the manifest has no base: nothing to restore from.
 */
export function backupAofFiles(files: readonly AofFile[]): { base: AofFile; incr: AofFile[] } {
  const base = files.find((f) => f.type === 'b');
  if (!base) throw new Error('the AOF manifest names no base file: the node has not completed an AOF rewrite');
  return { base, incr: files.filter((f) => f.type === 'i') };
}

const RDB_OPCODE = { SLOT_INFO: 0xf4, FUNCTION2: 0xf5, MODULE_AUX: 0xf7, AUX: 0xfa, RESIZEDB: 0xfb, SELECTDB: 0xfe, EOF: 0xff } as const;

/** Not enough bytes yet: give the parser a longer prefix. */
const NEED_MORE = Symbol('need more bytes');

/**
 * The number of keys an RDB file (or an AOF base with the RDB preamble) holds, read from its
 * header: the RESIZEDB record Redis writes before a database's keys, taken at fork time.
 * `prefix` is the start of the file. Returns 'need-more' when the header goes on past it,
 * and undefined when the file is not an RDB or its header cannot be read (module aux data).
 * Only database 0 exists in a cluster, so the first RESIZEDB is the count.
 */
export function rdbKeyCount(prefix: Uint8Array): number | 'need-more' | undefined {
  if (prefix.length < 9) return 'need-more';
  if (String.fromCharCode(...prefix.subarray(0, 5)) !== 'REDIS') return undefined;
  let pos = 9;
  const need = (n: number) => {
    if (pos + n > prefix.length) throw NEED_MORE;
  };
  const length = (): { value: number; special: boolean } => {
    need(1);
    const first = prefix[pos]!;
    const kind = first >> 6;
    if (kind === 0) return (pos += 1), { value: first & 0x3f, special: false };
    if (kind === 1) {
      need(2);
      const value = ((first & 0x3f) << 8) | prefix[pos + 1]!;
      return (pos += 2), { value, special: false };
    }
    if (kind === 3) return (pos += 1), { value: first & 0x3f, special: true };
    const bytes = first === 0x80 ? 4 : first === 0x81 ? 8 : -1;
    if (bytes < 0) throw new Error('bad length');
    need(1 + bytes);
    let value = 0;
    for (let i = 1; i <= bytes; i++) value = value * 256 + prefix[pos + i]!;
    return (pos += 1 + bytes), { value, special: false };
  };
  const skipString = () => {
    const { value, special } = length();
    if (!special) return need(value), (pos += value);
    if (value <= 2) return need(1 << value), (pos += 1 << value);
    if (value === 3) {
      const compressed = length().value;
      length();
      return need(compressed), (pos += compressed);
    }
    throw new Error('bad string encoding');
  };
  try {
    for (;;) {
      need(1);
      const opcode = prefix[pos++]!;
      if (opcode === RDB_OPCODE.AUX) {
        skipString();
        skipString();
      } else if (opcode === RDB_OPCODE.FUNCTION2) skipString();
      else if (opcode === RDB_OPCODE.SELECTDB) length();
      else if (opcode === RDB_OPCODE.RESIZEDB) return length().value;
      else if (opcode === RDB_OPCODE.EOF) return 0;
      else return undefined;
    }
  } catch (err) {
    if (err === NEED_MORE) return 'need-more';
    return undefined;
  }
}
