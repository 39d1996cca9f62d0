import http from 'node:http';

import type { IngestEvent } from '../../../src/local/stack/ingest-request';
import type { IngestOutcome } from '../../../src/local/stack/local-pipeline';
import { StackMetrics } from '../../../src/local/stack/stack-metrics';
import { type HealthReport, type StackServer, startStackServer } from '../../../src/local/stack/stack-server';
import { Metric } from '../../../src/pipeline';

let server: StackServer;
let received: IngestEvent[][];
let outcome: (events: readonly IngestEvent[]) => IngestOutcome;
let metrics: StackMetrics;
let health: HealthReport;

beforeEach(async () => {
  received = [];
  outcome = (events) => ({ accepted: events.length });
  metrics = new StackMetrics(() => 0);
  health = { status: 'ok', queued: 0 };
  server = await startStackServer({
    port: 0,
    ingest: (events) => {
      received.push([...events]);
      return outcome(events);
    },
    metrics,
    health: () => Promise.resolve(health),
    limits: { maxRequestBytes: 4096, maxEvents: 10, maxEventBytes: 1024 },
    debuggerHandler: (req, res) => {
      if (req.url !== '/') {
        return Promise.resolve(false);
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<title>debugger</title>');
      return Promise.resolve(true);
    },
  });
});

afterEach(async () => {
  await server.close();
});

async function post(body: string, contentType: string | undefined, query = '') {
  const response = await fetch(`${server.url}/ingest${query}`, {
    method: 'POST',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('POST /ingest', () => {
  it.each<[string, string, string, string, number]>([
    ['one raw event', '{"deviceId":"d1","heartRate":72}', 'application/json', '', 1],
    ['a JSON array of raw events', '[{"heartRate":72},{"heartRate":73},{"spo2":97}]', 'application/json', '', 3],
    ['JSON lines', '{"heartRate":72}\n{"heartRate":73}\n', 'application/x-ndjson', '', 2],
    [
      'envelopes',
      '[{"body":{"HeartRate":70},"systemProperties":{"iothub-connection-device-id":"dev-1"}}]',
      'application/json',
      '?envelope=true',
      1,
    ],
    [
      'envelopes as JSON lines',
      '{"bodyText":"{\\"a\\":1}"}\n{"body":null}',
      'application/x-ndjson',
      '?envelope=true',
      2,
    ],
  ])('accepts %s: 202 with the count', async (_name, body, type, query, count) => {
    const response = await post(body, type, query);
    expect(response).toMatchObject({ status: 202, body: { accepted: count } });
    expect(received.flat()).toHaveLength(count);
  });

  it('hands over raw event texts and the request partition key', async () => {
    await post('[{"v": 1.0}, {"v": 2}]', 'application/json', '?partitionKey=device-9');
    expect(received[0]).toEqual([
      { event: { body: '{"v": 1.0}' }, partitionKey: 'device-9' },
      { event: { body: '{"v": 2}' }, partitionKey: 'device-9' },
    ]);
  });

  it.each<[string, string, string | undefined, string, number, string, number | undefined]>([
    ['malformed JSON', '[{"a":1},{"a":]', 'application/json', '', 400, 'malformed', 1],
    ['a malformed JSON line', '{"a":1}\nnope', 'application/x-ndjson', '', 400, 'malformed', 1],
    [
      'an invalid envelope',
      '[{"body":1},{"headers":{}}]',
      'application/json',
      '?envelope=true',
      400,
      'invalid_event',
      1,
    ],
    ['a bad envelope flag', '{}', 'application/json', '?envelope=yes', 400, 'invalid_event', undefined],
    [
      'too many events',
      JSON.stringify(Array.from({ length: 11 }, () => ({}))),
      'application/json',
      '',
      413,
      'too_many_events',
      undefined,
    ],
    ['an event too large', `[{}, {"a":"${'x'.repeat(2000)}"}]`, 'application/json', '', 413, 'too_large', 1],
    [
      'a request too large',
      `[${'{"a":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},'.repeat(80)}{}]`,
      'application/json',
      '',
      413,
      'too_large',
      undefined,
    ],
    ['no content type', '{}', undefined, '', 415, 'unsupported_media_type', undefined],
    ['a form post', 'a=1', 'application/x-www-form-urlencoded', '', 415, 'unsupported_media_type', undefined],
  ])('refuses %s with a clear reason', async (_name, body, type, query, status, error, index) => {
    const response = await post(body, type, query);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ error, message: expect.any(String) });
    expect(response.body.index).toBe(index);
    expect(received).toEqual([]);
  });

  it('refuses a body announced larger than the limit before reading it', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${server.url}/ingest`);
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': 1_000_000 },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('[');
    });
    expect(status).toBe(413);
  });

  it('answers 503 with Retry-After when the pipeline is full or stopping (nothing accepted)', async () => {
    outcome = () => ({ refused: 'overloaded', message: 'full' });
    const response = await post('{}', 'application/json');
    expect(response).toMatchObject({ status: 503, body: { error: 'overloaded' } });
    expect(response.headers.get('retry-after')).toBe('1');
  });

  it('answers 202 only once the events are in the intake journal', async () => {
    let written!: () => void;
    outcome = (events) => ({ accepted: events.length, durable: new Promise<void>((done) => (written = done)) });
    const answer = post('{"heartRate":72}', 'application/json');
    const first = await Promise.race([
      answer.then(() => 'answered'),
      new Promise((r) => setTimeout(r, 100, 'waiting')),
    ]);
    expect(first).toBe('waiting');
    written();
    expect(await answer).toMatchObject({ status: 202, body: { accepted: 1 } });
  });

  it('answers 503 journal_unavailable with Retry-After when the journal cannot be written, and counts it', async () => {
    outcome = (events) => ({ accepted: events.length, durable: Promise.reject(new Error('ENOSPC')) });
    const response = await post('{"heartRate":72}', 'application/json');
    expect(response).toMatchObject({ status: 503, body: { error: 'journal_unavailable' } });
    expect(response.headers.get('retry-after')).toBe('1');
    expect(metrics.snapshot().rejectedRequests.byReason).toEqual({ journal_unavailable: 1 });
  });

  it('counts refusals by reason', async () => {
    await post('{', 'application/json');
    await post('{}', 'text/plain');
    expect(metrics.snapshot().rejectedRequests).toEqual({
      total: 2,
      byReason: { malformed: 1, unsupported_media_type: 1 },
    });
  });

  it('only POST', async () => {
    const response = await fetch(`${server.url}/ingest`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('other routes', () => {
  it('GET /metrics: JSON by default, Prometheus text when asked for text/plain', async () => {
    metrics.count(Metric.IncomingMessages, 3);
    const json = (await (await fetch(`${server.url}/metrics`)).json()) as { events: { processed: number } };
    expect(json.events.processed).toBe(3);
    const text = await fetch(`${server.url}/metrics`, {
      headers: { accept: 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1' },
    });
    expect(text.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await text.text()).toContain('iomt_incoming_messages_total 3');
  });

  it('GET /health: 200 while running, 503 while stopping', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    health = { status: 'stopping' };
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'stopping' });
  });

  it('mounts the debugger handler for the routes it answers, 404 JSON for the rest', async () => {
    expect(await (await fetch(`${server.url}/`)).text()).toBe('<title>debugger</title>');
    const missing = await fetch(`${server.url}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('answers loopback host names only (no DNS rebinding)', async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${server.url}/metrics`);
        http
          .get({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
    expect(await status(`localhost:${new URL(server.url).port}`)).toBe(200);
    expect(await status('evil.example:7071')).toBe(421);
  });
});
