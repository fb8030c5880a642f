/** "host:port" addresses, as the inventory and CLUSTER NODES write them. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export function hostOf(address: string): string {
  return splitAddress(address).host;
}

function ipv4(host: string): number | undefined {
  const parts = host.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/**
 * Whether `address` matches one inventory entry: "host:port", "host:first-last", or
 * "a.b.c.d/nn:port[-port]" (a CIDR, IPv4). Hosts compare as written, so "localhost" is not
 * "127.0.0.1".
 */
export function addressMatches(entry: string, address: string): boolean {
  const { host, port } = splitAddress(address);
  const colon = entry.lastIndexOf(':');
  const hostPart = entry.slice(0, colon);
  const [first, last = first] = entry.slice(colon + 1).split('-').map(Number) as [number, number?];
  if (!(port >= first && port <= last!)) return false;
  const slash = hostPart.indexOf('/');
  if (slash < 0) return hostPart === host;
  const net = ipv4(hostPart.slice(0, slash));
  const bits = Number(hostPart.slice(slash + 1));
  const ip = ipv4(host);
  if (net === undefined || ip === undefined || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(ip / size) === Math.floor(net / size);
}

/** Whether `address` is one of `nodes` or falls in one of the `spare` entries (see addressMatches). */
export function addressInInventory(address: string, nodes: readonly string[], spare: readonly string[] = []): boolean {
  return nodes.includes(address) || spare.some((entry) => addressMatches(entry, address));
}
