import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where a server listens. */
export interface Listening {
  /** The bound address (e.g. to tell a loopback bind from a public one). */
  readonly address: AddressInfo;
  /** `http://host:port` for clients on this machine, no trailing slash (see {@link urlHost}). */
  readonly origin: string;
}

/**
 * Starts `server` listening. Rejects with the listen error (EADDRINUSE, EACCES, …) instead of letting the server
 * emit it unhandled.
 *
 * @param server - a server not yet listening
 * @param port - TCP port; 0 picks a free one
 * @param host - the interface to bind
 */
export async function listen(server: Server, port: number, host: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { address, origin: `http://${urlHost(address)}:${address.port}` };
}

/**
 * The host part of a URL that reaches `address` from this machine: IPv6 in brackets, and a wildcard bind
 * (`0.0.0.0`, `::`) replaced by loopback, as a client cannot connect to a wildcard address.
 *
 * @param address - a bound address
 */
export function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') {
    return '127.0.0.1';
  }
  if (address.family === 'IPv6') {
    return address.address === '::' ? '[::1]' : `[${address.address}]`;
  }
  return address.address;
}
