/**
 * Benchmark of the embedded FHIR server: identifier search latency as the store grows (it must stay flat, where
 * medplum's own search costs about 0.55 ms per stored resource) and write throughput over HTTP.
 * Server and client share one process (and one core), as in the local stack and the tests.
 */
import type { Bundle, BundleEntry, Observation } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../src/local/fhir-server';
import { startFhirServer } from '../../src/local/fhir-server';

const SYSTEM = 'https://azure.microsoft.com/en-us/services/iomt-fhir-connector/';

function observation(i: number, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: SYSTEM, value: `p${i % 100}.d${i % 300}.HeartRate.${i}` }],
    code: { coding: [{ system: SYSTEM, code: 'HeartRate', display: 'HeartRate' }], text: 'HeartRate' },
    subject: { reference: `Patient/p${i % 100}` },
    device: { reference: `Device/d${i % 300}` },
    effectivePeriod: { start: '2024-01-01T00:00:00.0000000Z', end: '2024-01-01T01:00:00.0000000Z' },
    valueQuantity: { value: 60 + (i % 40), unit: 'count/min', system: 'http://unitsofmeasure.org', code: '/min' },
    ...extra,
  };
}

async function request(server: EmbeddedFhirServer, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}/${path}`, {
    method,
    headers: { 'content-type': 'application/fhir+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status >= 300) {
    throw new Error(`${method} ${path.slice(0, 40)}: HTTP ${response.status}`);
  }
  return response.json();
}

/** Stores Observations `from` … `to - 1` with batch Bundles of 500 PUTs (client ids, like the pipeline). */
async function fill(server: EmbeddedFhirServer, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 500) {
    const entry: BundleEntry[] = [];
    for (let i = start; i < Math.min(start + 500, to); i++) {
      entry.push({
        resource: { ...observation(i), id: `obs-${i}` },
        request: { method: 'PUT', url: `Observation/obs-${i}` },
      });
    }
    await request(server, 'POST', '', { resourceType: 'Bundle', type: 'batch', entry } satisfies Bundle);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

/** Latencies (ms) of `n` sequential identifier searches for stored resources below `stored`. */
async function identifierSearches(server: EmbeddedFhirServer, stored: number, n: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = (k * 7919) % stored;
    const token = encodeURIComponent(`${SYSTEM}|p${i % 100}.d${i % 300}.HeartRate.${i}`);
    const started = performance.now();
    const bundle = (await request(server, 'GET', `Observation?identifier=${token}`)) as Bundle;
    latencies.push(performance.now() - started);
    if (bundle.total !== 1) {
      throw new Error(`identifier search found ${bundle.total} resources, expected 1`);
    }
  }
  return latencies.sort((a, b) => a - b);
}

/** Requests per second of `n` requests made by `concurrency` workers. */
async function throughput(n: number, concurrency: number, send: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        await send(next++);
      }
    }),
  );
  return Math.round(n / ((performance.now() - started) / 1000));
}

/**
 * Runs the benchmark.
 * @returns the measurements: latencies in ms, throughputs in requests (or resources) per second
 */
export async function run(): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  const server = await startFhirServer({ port: 0 });
  try {
    let started = performance.now();
    await fill(server, 0, 1000);
    await identifierSearches(server, 1000, 200); // warm-up
    for (const [stored, label] of [
      [1000, '1k'],
      [10_000, '10k'],
    ] as const) {
      if (stored > 1000) {
        started = performance.now();
        await fill(server, 1000, stored);
        results.batchPutCreatesPerSec = Math.round((stored - 1000) / ((performance.now() - started) / 1000));
      }
      const latencies = await identifierSearches(server, stored, 1000);
      results[`identifierSearchP50Ms_${label}`] = round(percentile(latencies, 50));
      results[`identifierSearchP95Ms_${label}`] = round(percentile(latencies, 95));
    }

    // A search the index does not answer, for contrast: medplum evaluates it on every stored resource.
    started = performance.now();
    await request(server, 'GET', `Observation?code=${encodeURIComponent(`${SYSTEM}|HeartRate`)}&_count=20`);
    results.codeSearchMs_10k = round(performance.now() - started);

    const base = 100_000;
    results.postCreatesPerSec_sequential = await throughput(1000, 1, (i) =>
      request(server, 'POST', 'Observation', observation(base + i)),
    );
    results.putCreatesPerSec_16concurrent = await throughput(2000, 16, (i) =>
      request(server, 'PUT', `Observation/put-${i}`, { ...observation(base + 10_000 + i), id: `put-${i}` }),
    );
    results.conditionalCreatesPerSec_16concurrent = await throughput(2000, 16, async (i) => {
      const resource = observation(base + 20_000 + i);
      const response = await fetch(`${server.url}/Observation`, {
        method: 'POST',
        headers: {
          'content-type': 'application/fhir+json',
          'if-none-exist': `identifier=${SYSTEM}|${resource.identifier?.[0]?.value ?? ''}`,
        },
        body: JSON.stringify(resource),
      });
      await response.arrayBuffer();
    });
  } finally {
    await server.close();
  }
  return results;
}

if (require.main === module) {
  run().then(
    (results) => {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
