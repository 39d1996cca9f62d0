import { createServer } from 'node:http';

import { gracefulClose } from '../http/graceful-close';
import { listen } from '../http/listen';
import type { DebuggerHandlerOptions } from './debugger-handler';
import { createDebuggerHandler, DEBUGGER_SECURITY_HEADERS } from './debugger-handler';

/** Options of {@link startDebuggerServer}. */
export interface DebuggerServerOptions extends DebuggerHandlerOptions {
  /** TCP port; 0 picks a free one (tests). Default 7072 (the local stack serves the debugger on 7071). */
  readonly port?: number;
  /** Interface to bind; loopback by default, as the debugger has no authentication. */
  readonly host?: string;
}

/** A running debugger server. */
export interface DebuggerServer {
  /** The page's URL, e.g. `http://127.0.0.1:7072/`. */
  readonly url: string;
  /** Stops accepting requests and lets requests in flight finish. Idempotent. */
  close(): Promise<void>;
}

/** The standalone port (`iomt debugger`), next to the local stack's 7071. */
export const DEFAULT_DEBUGGER_PORT = 7072;

/**
 * Serves only the web mapping debugger (for `iomt debugger` and tests); the local stack mounts
 * {@link createDebuggerHandler} on its own server instead.
 *
 * @param options - where to listen, and the handler's options
 */
export async function startDebuggerServer(options: DebuggerServerOptions = {}): Promise<DebuggerServer> {
  const handler = createDebuggerHandler(options);
  const server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) {
          const text = JSON.stringify({ error: 'Not found' });
          res.writeHead(404, {
            ...DEBUGGER_SECURITY_HEADERS,
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
        }
      },
      () => res.destroy(),
    );
  });
  const close = gracefulClose(server);
  const { origin } = await listen(server, options.port ?? DEFAULT_DEBUGGER_PORT, options.host ?? '127.0.0.1');
  return { url: `${origin}/`, close };
}
