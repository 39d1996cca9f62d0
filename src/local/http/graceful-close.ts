import type { Server, ServerResponse } from 'node:http';

/**
 * Makes the idempotent `close()` of a server: stop accepting connections and resolve once the requests in flight
 * are answered. Call it before the server gets requests.
 *
 * Keep-alive connections would hold `server.close()` open: idle ones are closed at once, and once closing, each
 * finished response frees its socket.
 *
 * @param server - the server to close
 */
export function gracefulClose(server: Server): () => Promise<void> {
  let closing = false;
  // Before the server's own request listener, so the 'finish' hook is there whatever the handler does.
  server.prependListener('request', (_req, res: ServerResponse) => {
    res.on('finish', () => {
      if (closing) {
        server.closeIdleConnections();
      }
    });
  });
  let closed: Promise<void> | undefined;
  return () =>
    (closed ??= new Promise<void>((resolve, reject) => {
      closing = true;
      server.close((error) => {
        if (error === undefined) {
          resolve();
        } else {
          reject(error);
        }
      });
      server.closeIdleConnections();
    }));
}
