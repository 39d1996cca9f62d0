import { createServer, request, type Server } from 'node:http';

import { gracefulClose } from '../../../src/local/http/graceful-close';
import { listen } from '../../../src/local/http/listen';
import { readBody } from '../../../src/local/http/read-body';

const LIMIT = 16;

describe('readBody', () => {
  let server: Server;
  let close: () => Promise<void>;
  let port: number;

  beforeAll(async () => {
    // Answers 413 when readBody refuses, else echoes the body it read.
    server = createServer((req, res) => {
      void readBody(req, LIMIT).then((body) => {
        if (body === 'too-large') {
          res.writeHead(413, { connection: 'close' }).end('too large');
        } else {
          res.writeHead(200).end(body);
        }
      });
    });
    close = gracefulClose(server);
    ({ port } = (await listen(server, 0, '127.0.0.1')).address);
  });
  afterAll(() => close());

  /** Sends `chunks` (chunked unless `contentLength`), the last one only once the response has begun if `holdLast`. */
  function send(
    chunks: readonly string[],
    options: { contentLength?: number; holdLast?: boolean } = {},
  ): Promise<{ status: number | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const headers = options.contentLength === undefined ? {} : { 'content-length': String(options.contentLength) };
      const req = request({ host: '127.0.0.1', port, method: 'POST', headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => (body += text));
        res.on('end', () => {
          resolve({ status: res.statusCode, body });
        });
        if (options.holdLast === true) {
          req.end(chunks.at(-1));
        }
      });
      req.on('error', reject);
      const sent = options.holdLast === true ? chunks.slice(0, -1) : chunks;
      for (const chunk of sent) {
        req.write(chunk);
      }
      if (options.holdLast !== true) {
        req.end();
      }
    });
  }

  test.each<[string, readonly string[], number, string]>([
    ['an empty body', [], 200, ''],
    ['a body within the limit, in chunks', ['0123456', '789abcdef'], 200, '0123456789abcdef'],
    ['a streamed body past the limit', ['0123456789', '0123456789'], 413, 'too large'],
  ])('%s', async (_name, chunks, status, body) => {
    expect(await send(chunks)).toEqual({ status, body });
  });

  test('a declared Content-Length over the limit is refused without reading, and the 413 reaches the client', async () => {
    const body = 'x'.repeat(LIMIT + 1);
    expect(await send([body], { contentLength: body.length })).toEqual({ status: 413, body: 'too large' });
  });

  test('a streamed body is refused as soon as it passes the limit, before the client has finished sending', async () => {
    // The request's last chunk is only sent once the answer has begun: a reader that waited for the end would hang.
    expect(await send(['x'.repeat(LIMIT + 1), 'rest'], { holdLast: true })).toEqual({ status: 413, body: 'too large' });
  });
});
