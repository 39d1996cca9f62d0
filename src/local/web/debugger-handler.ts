/**
 * The web mapping debugger over node:http (the MedTech portal's mapping debugger and the retired IoMT Connector Data
 * Mapper, running the real engine). Routes:
 *
 * | route                       | answer                                                              |
 * |-----------------------------|---------------------------------------------------------------------|
 * | `GET /`                     | the page (`static/index.html`)                                      |
 * | `GET /static/<file>`        | its CSS, its one JavaScript module, sample events                   |
 * | `GET /mappings/<file>.json` | the repository's mappings (and `mappings/examples/<scenario>/<file>`) |
 * | `GET /api/examples`         | the examples the page offers ({@link listExamples})                 |
 * | `POST /api/validate`        | {@link handleValidateApiRequest}: live validation as the user types |
 * | `POST /api/debug`           | {@link handleDebugApiRequest}: a run through the pipeline           |
 *
 * Every answer carries `Content-Security-Policy: default-src 'self'`: the page loads nothing from elsewhere and works
 * offline. The API takes only `Content-Type: application/json`, so another site cannot post to it from a browser
 * without a CORS preflight (which this server never grants). Request bodies are device data: never logged.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

import type { ApiResponse } from '../../adapters/debug/debug-api';
import { DEBUG_API_LIMITS, handleDebugApiRequest, handleValidateApiRequest } from '../../adapters/debug/debug-api';
import type { Clock, Logger } from '../../pipeline';
import { noopLogger, toPipelineError } from '../../pipeline';
import { readBody } from '../http/read-body';
import { EXAMPLE_NAME, listExamples } from './examples';
import { findPackageRoot } from './package-root';

/** Options of {@link createDebuggerHandler}. */
export interface DebuggerHandlerOptions {
  /** The clock of debug runs (ingestion times, `meta.lastUpdated`). Default `Date.now`. */
  readonly clock?: Clock;
  /** The repository root: assets from `src/local/web/static`, examples from `mappings/`. Found by default. */
  readonly rootDir?: string;
  /** Where unexpected failures are logged (code only). Default none. */
  readonly logger?: Logger;
}

/** Handles a request; resolves true when the route is the debugger's (answered), false to let the caller route it. */
export type DebuggerHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** Security headers of every answer. */
export const DEBUGGER_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** Asset names: one plain segment with a known extension (no traversal, no dotfiles). */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*\.(?:html|css|js|json|svg)$/;
const MAPPING_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*\.json$/;
const EXAMPLES_ROUTE = '/api/examples';
const API_ROUTES: Readonly<Record<string, 'validate' | 'debug'>> = {
  '/api/validate': 'validate',
  '/api/debug': 'debug',
};

/**
 * Creates the debugger's request handler, for mounting on a server that serves other routes too (the local stack on
 * 127.0.0.1:7071), or alone ({@link startDebuggerServer}).
 *
 * @param options - clock, repository root, logger
 */
export function createDebuggerHandler(options: DebuggerHandlerOptions = {}): DebuggerHandler {
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? noopLogger;
  let root = options.rootDir;
  const rootDir = (): string => (root ??= findPackageRoot());

  return async (req, res) => {
    const pathname = pathOf(req);
    const api = Object.hasOwn(API_ROUTES, pathname) ? API_ROUTES[pathname] : undefined;
    const file = fileOf(pathname, rootDir);
    if (api === undefined && file === undefined && pathname !== EXAMPLES_ROUTE) {
      return false;
    }
    try {
      if (api !== undefined) {
        await serveApi(req, res, api, clock);
      } else if (file !== undefined) {
        await serveFile(req, res, file);
      } else if (allowGet(req, res)) {
        send(res, 200, { examples: await listExamples(rootDir()) });
      }
    } catch (error) {
      // No detail in the answer or the log: it could carry request content.
      logger.error('debugger request failed', { code: toPipelineError(error).code });
      if (!res.headersSent) {
        send(res, 500, { error: 'Internal error' });
      } else {
        res.destroy();
      }
    }
    return true;
  };
}

function pathOf(req: IncomingMessage): string {
  try {
    return decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return '';
  }
}

/** The file a GET path names, when it is the debugger's. */
function fileOf(pathname: string, rootDir: () => string): string | undefined {
  if (pathname === '/' || pathname === '/index.html') {
    return path.join(rootDir(), 'src', 'local', 'web', 'static', 'index.html');
  }
  const [, folder, ...rest] = pathname.split('/');
  const [name = '', scenario = '', file = ''] = rest;
  if (folder === 'static' && rest.length === 1 && ASSET_NAME.test(name)) {
    return path.join(rootDir(), 'src', 'local', 'web', 'static', name);
  }
  if (folder === 'mappings' && rest.length === 1 && MAPPING_NAME.test(name)) {
    return path.join(rootDir(), 'mappings', name);
  }
  if (folder === 'mappings' && rest.length === 3 && name === 'examples' && EXAMPLE_NAME.test(scenario)) {
    return MAPPING_NAME.test(file) ? path.join(rootDir(), 'mappings', 'examples', scenario, file) : undefined;
  }
  return undefined;
}

/** Answers 405 unless the method is GET or HEAD. */
function allowGet(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') {
    return true;
  }
  send(res, 405, { error: `${req.method ?? ''} is not allowed here; use GET` }, { allow: 'GET, HEAD' });
  return false;
}

async function serveFile(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
  if (!allowGet(req, res)) {
    return;
  }
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      send(res, 404, { error: 'Not found' });
      return;
    }
    throw error;
  }
  res.writeHead(200, {
    ...DEBUGGER_SECURITY_HEADERS,
    'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': content.length,
  });
  res.end(req.method === 'HEAD' ? undefined : content);
}

async function serveApi(
  req: IncomingMessage,
  res: ServerResponse,
  route: 'validate' | 'debug',
  clock: Clock,
): Promise<void> {
  if (req.method !== 'POST') {
    send(res, 405, { error: `${req.method ?? ''} is not allowed here; use POST` }, { allow: 'POST' });
    return;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    send(res, 415, { error: 'The request body must be JSON (Content-Type: application/json)' });
    return;
  }
  const body = await readBody(req, DEBUG_API_LIMITS.maxRequestBytes);
  if (body === 'too-large') {
    const error = `The request body is larger than ${DEBUG_API_LIMITS.maxRequestBytes} bytes`;
    send(res, 413, { error }, { connection: 'close' });
    return;
  }
  const answer: ApiResponse =
    route === 'validate' ? handleValidateApiRequest(body) : await handleDebugApiRequest(body, { clock });
  send(res, answer.status, answer.json);
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(json);
  res.writeHead(status, {
    ...DEBUGGER_SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
