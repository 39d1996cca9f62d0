import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** One request the Application Insights exporter sent, its body decompressed. */
export interface SinkRequest {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

/** An HTTPS loopback Application Insights ingestion endpoint that keeps everything it is sent. */
export interface AppInsightsSink {
  /** Every request received so far, in order. */
  readonly requests: readonly SinkRequest[];
  /** The environment a child process needs to send its telemetry here: the connection string and the CA to trust. */
  readonly childEnv: { readonly NODE_EXTRA_CA_CERTS: string; readonly TEST_AI_CONNECTION_STRING: string };
  close(): Promise<void>;
}

/**
 * Starts the sink on 127.0.0.1 (ephemeral port), with a self-signed certificate written to `dir`: the SDK always
 * speaks TLS to the ingestion endpoint, so the child process must trust that certificate (`childEnv`).
 * Tracked items are answered as all accepted.
 * @param dir - a scratch directory for the key and certificate (the caller removes it)
 */
export async function startAppInsightsSink(dir: string): Promise<AppInsightsSink> {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    '/usr/bin/openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  );
  const requests: SinkRequest[] = [];
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') {
        body = gunzipSync(body);
      }
      const request = { method: req.method ?? '', url: req.url ?? '', body: body.toString('utf8') };
      requests.push(request);
      const items = isTrack(request) ? (JSON.parse(request.body) as unknown[]).length : 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items, itemsAccepted: items, errors: [] }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    requests,
    childEnv: {
      NODE_EXTRA_CA_CERTS: cert,
      TEST_AI_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=${endpoint};LiveEndpoint=${endpoint}`,
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => {
          done();
        });
      }),
  };
}

/**
 * Whether a request is the exporter's upload of telemetry items (a JSON array of envelopes).
 * @param request - a request the sink received
 */
export function isTrack(request: SinkRequest): boolean {
  return request.method === 'POST' && request.url === '/v2.1/track';
}
