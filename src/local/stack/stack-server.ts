/**
 * The local stack's HTTP server (127.0.0.1:7071 by default):
 *
 * - `POST /ingest` — device events (see ingest-request.ts for the forms): `202 {"accepted": n}`; `4xx
 *   {"error", "message", "index"?}` for bad input; `503` with `Retry-After` while the queue is full or the stack
 *   stops. Accepted events are never lost: what fails later goes to the dead-letter store. With the intake journal,
 *   the 202 is sent once the events are on disk; when the journal cannot be written the answer is `503
 *   {"error": "journal_unavailable"}` (the events are processed all the same, so a retry can only repeat them —
 *   which saves tolerate).
 * - `GET /metrics` — the counters of the progress line, as JSON, or as Prometheus text when the `Accept` header
 *   asks for `text/plain`.
 * - `GET /health` — `{"status": "ok" | "degraded" | "stopping", …}`; 503 when stopping.
 * - anything else goes to the web mapping debugger's handler, when one is mounted.
 *
 * No authentication: it binds loopback unless told otherwise. On a loopback bind it also refuses requests whose
 * `Host` is not a loopback name, so a web page cannot reach it through DNS rebinding.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { gracefulClose } from '../http/graceful-close';
import { listen } from '../http/listen';
import { readBody } from '../http/read-body';
import {
  DEFAULT_INGEST_LIMITS,
  type IngestEvent,
  type IngestLimits,
  type IngestRejection,
  parseIngestRequest,
  tooLargeRequest,
} from './ingest-request';
import type { IngestOutcome } from './local-pipeline';
import { formatPrometheus } from './progress-format';
import type { StackMetrics } from './stack-metrics';

/** A request handler that answers the requests it knows and returns false for the others. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** What `GET /health` reports. */
export interface HealthReport {
  readonly status: 'ok' | 'degraded' | 'stopping';
  readonly [key: string]: unknown;
}

/** Options of {@link startStackServer}. */
export interface StackServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 7071; 0 picks a free port. */
  readonly port?: number;
  /** Where accepted events go. */
  readonly ingest: (events: readonly IngestEvent[]) => IngestOutcome;
  readonly metrics: StackMetrics;
  readonly health: () => Promise<HealthReport>;
  readonly limits?: IngestLimits;
  /** The web mapping debugger (`createDebuggerHandler()` of src/local/web), mounted at `/`. */
  readonly debuggerHandler?: RouteHandler;
}

/** A running server. */
export interface StackServer {
  /** e.g. `http://127.0.0.1:7071`. */
  readonly url: string;
  /** Stops accepting connections and waits for requests in flight. Idempotent. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Starts the server.
 * @param options - address, ingest path, metrics, health and the debugger handler
 */
export async function startStackServer(options: StackServerOptions): Promise<StackServer> {
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  let loopbackOnly = false;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        sendJson(res, 500, { error: 'internal', message: 'the request could not be handled' });
      } else {
        res.destroy(error instanceof Error ? error : undefined);
      }
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (loopbackOnly && !LOOPBACK_HOSTS.has(hostName(req.headers.host))) {
      sendJson(res, 421, { error: 'misdirected', message: 'this server answers loopback host names only' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    switch (url.pathname) {
      case '/ingest':
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST');
          sendJson(res, 405, { error: 'method_not_allowed', message: 'POST events to /ingest' });
          return;
        }
        await ingest(req, res, url);
        return;
      case '/metrics':
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          break;
        }
        if (/\btext\/plain\b/i.test(req.headers.accept ?? '')) {
          res.writeHead(200, {
            'content-type': 'text/plain; version=0.0.4; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end(req.method === 'HEAD' ? undefined : formatPrometheus(options.metrics.snapshot()));
        } else {
          sendJson(res, 200, options.metrics.snapshot());
        }
        return;
      case '/health':
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          break;
        }
        {
          const report = await options.health();
          sendJson(res, report.status === 'stopping' ? 503 : 200, report);
        }
        return;
      default:
        break;
    }
    if (options.debuggerHandler !== undefined && (await options.debuggerHandler(req, res))) {
      return;
    }
    sendJson(res, 404, { error: 'not_found', message: 'POST /ingest, GET /metrics, GET /health' });
  };

  const ingest = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const refuse = (rejection: IngestRejection): void => {
      options.metrics.rejected(rejection.reason);
      sendJson(res, rejection.status, {
        error: rejection.reason,
        message: rejection.message,
        ...(rejection.index === undefined ? {} : { index: rejection.index }),
      });
    };
    const body = await readBody(req, limits.maxRequestBytes);
    if (body === 'too-large') {
      res.setHeader('connection', 'close');
      refuse(tooLargeRequest(limits));
      return;
    }
    const envelope = url.searchParams.get('envelope');
    if (envelope !== null && envelope !== 'true' && envelope !== 'false') {
      refuse({ ok: false, status: 400, reason: 'invalid_event', message: 'envelope must be true or false' });
      return;
    }
    const partitionKey = url.searchParams.get('partitionKey');
    const parsed = parseIngestRequest(
      body,
      {
        contentType: req.headers['content-type'],
        envelope: envelope === 'true',
        ...(partitionKey === null ? {} : { partitionKey }),
      },
      limits,
    );
    if (!parsed.ok) {
      refuse(parsed);
      return;
    }
    const outcome = options.ingest(parsed.events);
    if ('refused' in outcome) {
      options.metrics.rejected(outcome.refused);
      res.setHeader('retry-after', '1');
      sendJson(res, 503, { error: outcome.refused, message: outcome.message });
      return;
    }
    if (outcome.durable !== undefined) {
      try {
        await outcome.durable;
      } catch {
        options.metrics.rejected('journal_unavailable');
        res.setHeader('retry-after', '1');
        sendJson(res, 503, {
          error: 'journal_unavailable',
          message: 'the events could not be written to the intake journal; retry',
        });
        return;
      }
    }
    sendJson(res, 202, { accepted: outcome.accepted });
  };

  const close = gracefulClose(server);
  const { address, origin } = await listen(server, options.port ?? 7071, options.host ?? '127.0.0.1');
  loopbackOnly = address.address === '127.0.0.1' || address.address === '::1';
  return { url: origin, close };
}

/** The host name of a `Host` header, without the port. */
function hostName(header: string | undefined): string {
  if (header === undefined) {
    return '';
  }
  const lower = header.toLowerCase();
  return lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : (lower.split(':')[0] ?? '');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
