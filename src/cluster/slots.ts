/** Slot arithmetic for Redis Cluster's 16384 hash slots. Pure: no I/O. */

export const SLOT_COUNT = 16384;

/** An inclusive range of slots, as CLUSTER NODES and ADDSLOTSRANGE write them. */
export interface SlotRange {
  start: number;
  end: number;
}

export function isValidSlot(slot: number): boolean {
  return Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT;
}

/** Parses "0-5460" or "100" into a range; throws on anything else. */
export function parseSlotRange(text: string): SlotRange {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) throw new Error(`not a slot range: "${text}"`);
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  if (!isValidSlot(start) || !isValidSlot(end) || end < start) {
    throw new Error(`slot range out of bounds: "${text}"`);
  }
  return { start, end };
}

export function formatSlotRange(range: SlotRange): string {
  return range.start === range.end ? String(range.start) : `${range.start}-${range.end}`;
}

export function formatSlotRanges(ranges: readonly SlotRange[]): string {
  return ranges.map(formatSlotRange).join(',');
}

/** Whether `slot` lies in one of `ranges`: the one slot-in-range test. */
export function slotInRanges(slot: number, ranges: readonly SlotRange[]): boolean {
  return ranges.some((r) => slot >= r.start && slot <= r.end);
}

/** Every slot of the ranges, ascending, each once. */
export function slotsOf(ranges: readonly SlotRange[]): number[] {
  const out: number[] = [];
  for (const r of normalizeRanges(ranges)) for (let s = r.start; s <= r.end; s++) out.push(s);
  return out;
}

export function countSlots(ranges: readonly SlotRange[]): number {
  return ranges.reduce((sum, r) => sum + (r.end - r.start + 1), 0);
}

/** Sorts and merges overlapping or adjacent ranges. */
export function normalizeRanges(ranges: readonly SlotRange[]): SlotRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: SlotRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

export function rangesFromSlots(slots: Iterable<number>): SlotRange[] {
  return normalizeRanges([...slots].map((s) => ({ start: s, end: s })));
}

/** The slots of 0..16383 that none of the given ranges cover. */
export function uncoveredSlots(covered: readonly SlotRange[]): SlotRange[] {
  const merged = normalizeRanges(covered);
  const gaps: SlotRange[] = [];
  let next = 0;
  for (const r of merged) {
    if (r.start > next) gaps.push({ start: next, end: r.start - 1 });
    next = Math.max(next, r.end + 1);
  }
  if (next < SLOT_COUNT) gaps.push({ start: next, end: SLOT_COUNT - 1 });
  return gaps;
}

/** Splits all 16384 slots into `parts` contiguous ranges whose sizes differ by at most one. */
export function splitSlotsEvenly(parts: number): SlotRange[] {
  if (!Number.isInteger(parts) || parts < 1 || parts > SLOT_COUNT) {
    throw new Error(`cannot split ${SLOT_COUNT} slots into ${parts} parts`);
  }
  const base = Math.floor(SLOT_COUNT / parts);
  const extra = SLOT_COUNT % parts;
  const ranges: SlotRange[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = base + (i < extra ? 1 : 0);
    ranges.push({ start, end: start + size - 1 });
    start += size;
  }
  return ranges;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: readonly number[]): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

function utf8Bytes(text: string): number[] {
  // TextEncoder is not guaranteed inside the workflow sandbox; encode by hand.
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return out;
}

/** The hash slot of a key, honouring {hash tags}, as CLUSTER KEYSLOT computes it. */
export function keyHashSlot(key: string): number {
  let bytes = utf8Bytes(key);
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.slice(open + 1, close);
  }
  return crc16(bytes) % SLOT_COUNT;
}

/** The ranges without the given slots. */
export function removeSlots(ranges: readonly SlotRange[], slots: Iterable<number>): SlotRange[] {
  const drop = new Set(slots);
  return rangesFromSlots(slotsOf(ranges).filter((s) => !drop.has(s)));
}
