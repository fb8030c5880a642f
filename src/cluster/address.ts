/** "host:port" addresses, as the inventory and CLUSTER NODES write them. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export function hostOf(address: string): string {
  return splitAddress(address).host;
}
