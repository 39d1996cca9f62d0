import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { gracefulClose } from '../../../src/local/http/graceful-close';
import { listen, urlHost } from '../../../src/local/http/listen';

describe('urlHost', () => {
  test.each<[string, AddressInfo, string]>([
    ['an IPv4 address as it is', { address: '127.0.0.1', family: 'IPv4', port: 1 }, '127.0.0.1'],
    ['the IPv4 wildcard as loopback', { address: '0.0.0.0', family: 'IPv4', port: 1 }, '127.0.0.1'],
    ['an IPv6 address in brackets', { address: '::1', family: 'IPv6', port: 1 }, '[::1]'],
    ['the IPv6 wildcard as loopback', { address: '::', family: 'IPv6', port: 1 }, '[::1]'],
  ])('%s', (_name, address, expected) => {
    expect(urlHost(address)).toBe(expected);
  });
});

/** GET / through `agent` (keep-alive), reading the whole answer; resolves with its status. */
function get(port: number, agent: Agent): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve(res.statusCode);
      });
    })
      .on('error', reject)
      .end();
  });
}

describe('listen and gracefulClose', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  function newServer(hold?: Promise<void>): Server {
    const server = createServer((_req, res) => {
      void (hold ?? Promise.resolve()).then(() => res.end('ok'));
    });
    // Long enough that only gracefulClose, not the keep-alive timeout, can free a kept-alive socket within the test.
    server.keepAliveTimeout = 60_000;
    servers.push(server);
    return server;
  }

  test('answers the bound address and an origin clients can use', async () => {
    const { address, origin } = await listen(newServer(), 0, '127.0.0.1');
    expect(address.address).toBe('127.0.0.1');
    expect(origin).toBe(`http://127.0.0.1:${address.port}`);
    expect(await (await fetch(origin)).text()).toBe('ok');
  });

  test('rejects with the listen error when the port is taken', async () => {
    const { address } = await listen(newServer(), 0, '127.0.0.1');
    await expect(listen(newServer(), address.port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  test('close is idempotent and is not held open by a keep-alive connection', async () => {
    const server = newServer();
    const close = gracefulClose(server);
    const { address } = await listen(server, 0, '127.0.0.1');
    const agent = new Agent({ keepAlive: true });
    try {
      expect(await get(address.port, agent)).toBe(200);
      const first = close();
      expect(close()).toBe(first);
      await first;
      expect(server.listening).toBe(false);
    } finally {
      agent.destroy();
    }
  });

  test('a response finished after close() frees its kept-alive socket, so close resolves', async () => {
    let release = (): void => undefined;
    const server = newServer(new Promise((resolve) => (release = resolve)));
    const close = gracefulClose(server);
    const { address } = await listen(server, 0, '127.0.0.1');
    const agent = new Agent({ keepAlive: true });
    try {
      const arrived = new Promise<void>((resolve) =>
        server.once('request', () => {
          resolve();
        }),
      );
      const response = get(address.port, agent);
      await arrived;
      const closed = close();
      release();
      expect(await response).toBe(200);
      await closed;
      expect(server.listening).toBe(false);
    } finally {
      agent.destroy();
    }
  });
});
