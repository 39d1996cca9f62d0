/**
 * Speed of the value-conversion core on the normalization hot path: body parsing (native fast path, exact reader for
 * big integers, lenient syntax), the Newtonsoft date test on ordinary and date strings, `DateTime.Parse`, double
 * formatting and envelope + date index construction. Each figure is the best of four timed rounds (the first warms up).
 * `run()` returns operations per second per case; `npm run bench` calls it.
 */

import { performance } from 'node:perf_hooks';

import { parseDotNetDateTime } from '../../src/pipeline/convert/datetime-parse';
import { formatDotNetDouble, tokenToDotNetString } from '../../src/pipeline/convert/dotnet-string';
import { parseJsonBody } from '../../src/pipeline/convert/json-body';
import { parseNewtonsoftDate } from '../../src/pipeline/convert/newtonsoft-date';
import { createBodyDateIndex, toEnvelope } from '../../src/pipeline/normalize/envelope';

const encoder = new TextEncoder();

const typical = encoder.encode(
  JSON.stringify({
    deviceId: 'device-0042',
    patientId: 'patient-17',
    endDate: '2024-07-04T09:15:00.1234567Z',
    telemetry: Array.from({ length: 10 }, (_, i) => ({
      type: i % 2 === 0 ? 'heartRate' : 'bloodPressure',
      heartRate: 60 + i,
      systolic: 120 + i,
      diastolic: 80 - i,
      temperature: 36.6 + i / 10,
      time: `2024-07-04T09:15:${String(i).padStart(2, '0')}Z`,
    })),
  }),
);
const bigInteger = encoder.encode(new TextDecoder().decode(typical).replace('"patient-17"', '9007199254740993'));
const lenient = encoder.encode(
  new TextDecoder()
    .decode(typical)
    .replace('{"deviceId"', '{/* c */ deviceId')
    .replace(/"temperature"/g, "'temperature'"),
);

/** Operations per second of `run`, best of three timed rounds after a warm-up round. */
function opsPerSecond(iterations: number, run: (i: number) => unknown): number {
  let best = Infinity;
  let sink: unknown;
  for (let round = 0; round < 4; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      sink = run(i);
    }
    const elapsed = performance.now() - start;
    if (round > 0) {
      best = Math.min(best, elapsed);
    }
  }
  if (sink === Symbol.for('unreachable')) {
    throw new Error('unreachable: keeps the results alive');
  }
  return Math.round(iterations / (best / 1000));
}

const strings = [
  'heartRate',
  'device-0042',
  'patient-17',
  'bloodPressure',
  '2024-07-04 09:15',
  'abcdefghijklmnopqrstuvwxyz',
];

/** Runs every case; returns ops/s by case name. */
export function run(): Promise<Record<string, number>> {
  const results: Record<string, number> = {
    'parseJsonBody typical (JSON.parse path)': opsPerSecond(20_000, () => parseJsonBody(typical)),
    'parseJsonBody with a big integer (exact reader)': opsPerSecond(20_000, () => parseJsonBody(bigInteger)),
    'parseJsonBody lenient syntax (exact reader)': opsPerSecond(20_000, () => parseJsonBody(lenient)),
    'JSON.parse(TextDecoder) baseline': opsPerSecond(
      20_000,
      () => JSON.parse(new TextDecoder().decode(typical)) as unknown,
    ),
    'parseNewtonsoftDate non-date strings': opsPerSecond(2_000_000, (i) =>
      parseNewtonsoftDate(strings[i % strings.length] ?? ''),
    ),
    'parseNewtonsoftDate ISO date': opsPerSecond(2_000_000, () =>
      parseNewtonsoftDate('2024-07-04T09:15:00.1234567+02:00'),
    ),
    'parseDotNetDateTime ISO': opsPerSecond(500_000, () => parseDotNetDateTime('2024-07-04T09:15:00Z')),
    'parseDotNetDateTime RFC 1123': opsPerSecond(500_000, () => parseDotNetDateTime('Sun, 10 Mar 2024 14:00:00 GMT')),
    formatDotNetDouble: opsPerSecond(2_000_000, (i) => formatDotNetDouble(36.6 + i)),
    'toEnvelope + index + 5 conversions': opsPerSecond(20_000, () => {
      const envelope = toEnvelope({
        body: typical,
        properties: { a: 'b' },
        systemProperties: { 'iothub-connection-device-id': 'd' },
      });
      const isBodyDate = createBodyDateIndex(envelope);
      return ['device-0042', 72, 36.6, '2024-07-04T09:15:00.1234567Z', true].map((t) =>
        tokenToDotNetString(t, isBodyDate),
      );
    }),
  };
  return Promise.resolve(results);
}

if (require.main === module) {
  void run().then((results) => {
    process.stdout.write(`body: ${typical.length} bytes\n`);
    for (const [name, opsPerSec] of Object.entries(results)) {
      process.stdout.write(`${name.padEnd(52)} ${opsPerSec.toLocaleString('en-US').padStart(12)} ops/s\n`);
    }
  });
}
