/**
 * A scriptable FHIR server on 127.0.0.1 (ephemeral port) for adapter tests. Each route (`METHOD /path`, query
 * ignored) has a queue of replies; when a queue is empty the fallback responder answers. Every request is recorded
 * with its parsed body, and the highest number of requests in flight at once is tracked.
 *
 * A reply can also reset the connection or never answer, to exercise the client's retry and timeout paths.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One scripted reply. */
export interface ScriptedReply {
  /** Default 200. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as is; anything else as JSON with `application/fhir+json`. */
  readonly body?: unknown;
  /** Destroy the socket instead of answering (the client sees a connection reset). */
  readonly reset?: boolean;
  /** Never answer; the connection is destroyed when the server closes. */
  readonly hang?: boolean;
  /** Answer after this many milliseconds (keeps the request in flight). */
  readonly delayMs?: number;
}

/** A request as the server saw it. */
export interface RecordedRequest {
  readonly method: string;
  /** The path after the base path, with the query string, e.g. `/Observation?identifier=a%7Cb`. */
  readonly url: string;
  /** The path after the base path, without the query. */
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, or `undefined`. */
  readonly body: unknown;
}

/** Computes a reply from the request. */
export type Responder = (request: RecordedRequest) => ScriptedReply | Promise<ScriptedReply>;

const BASE_PATH = '/fhir';

const notFound: Responder = () => ({
  status: 404,
  body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] },
});

/** The loopback server. Always {@link close} it (e.g. in `afterEach`). */
export class LoopbackFhir {
  /** `http://127.0.0.1:<port>/fhir`. */
  readonly baseUrl: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** The most requests in flight at the same time. */
  maxInFlight = 0;
  #inFlight = 0;
  #fallback: Responder = notFound;
  readonly #routes = new Map<string, ScriptedReply[]>();
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: http.Server) {
    this.#server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE_PATH}`;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      void this.handle(req, res);
    });
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
      });
    });
  }

  /** Starts a server on an ephemeral port. */
  static async start(): Promise<LoopbackFhir> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return new LoopbackFhir(server);
  }

  /**
   * Queues replies for a route.
   * @param route - `METHOD /path` relative to the base, e.g. `PUT /Observation/o1`, `POST /` for batches
   * @param replies - answered in order, one per request
   */
  reply(route: string, ...replies: ScriptedReply[]): this {
    const queue = this.#routes.get(route) ?? [];
    queue.push(...replies);
    this.#routes.set(route, queue);
    return this;
  }

  /**
   * Sets the responder for requests without a queued reply (default: 404 not-found).
   * @param responder - computes a reply
   */
  otherwise(responder: Responder): this {
    this.#fallback = responder;
    return this;
  }

  /**
   * The recorded requests of one route.
   * @param route - `METHOD /path`
   */
  requestsTo(route: string): RecordedRequest[] {
    return this.requests.filter((r) => `${r.method} ${r.pathname}` === route);
  }

  /** Stops the server, destroying open (and hanging) connections. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    let counted = true;
    const done = (): void => {
      if (counted) {
        counted = false;
        this.#inFlight--;
      }
    };
    res.on('close', done);
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://loopback');
    const pathname = url.pathname.startsWith(BASE_PATH) ? url.pathname.slice(BASE_PATH.length) || '/' : url.pathname;
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      url: pathname + url.search,
      pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text.length > 0 ? JSON.parse(text) : undefined,
    };
    this.requests.push(request);
    const reply = this.#routes.get(`${request.method} ${pathname}`)?.shift() ?? (await this.#fallback(request));
    if (reply.hang === true) {
      return;
    }
    if (reply.reset === true) {
      req.socket.destroy();
      return;
    }
    if (reply.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    }
    const headers: Record<string, string> = { ...reply.headers };
    let payload: string | undefined;
    if (typeof reply.body === 'string') {
      payload = reply.body;
    } else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['content-type'] ??= 'application/fhir+json';
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(payload);
  }
}
