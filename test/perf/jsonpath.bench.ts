/**
 * JSONPath evaluation speed: the compiled Newtonsoft-compatible engine against jsonpath-rfc9535 (through the small
 * adapter platform-notes §8 describes) and hand-written JavaScript, on a realistic IoT Hub envelope.
 *
 * `run()` returns operations per second (best of several timed rounds) per case. Run it directly after compiling
 * (`node <out>/test/perf/jsonpath.bench.js`) or from a bench runner that imports it.
 */

import { performance } from 'node:perf_hooks';
import { query } from 'jsonpath-rfc9535';
import { compileJsonPath } from '../../src/pipeline/mapping/expressions/jsonpath';

/** An IoT Hub device-SDK message as MedTech's envelope holds it (Body, Properties, SystemProperties). */
function iotHubEnvelope(): Record<string, unknown> {
  return {
    Body: {
      heartRate: 78,
      systolic: 120,
      diastolic: 80,
      respiratoryRate: 16,
      spo2: { value: 97, unit: '%' },
      endDate: '2024-07-04T09:15:30Z',
      patientId: 'patient-0001',
      device: { model: 'BP-200', firmware: '3.1.4', battery: 0.82, sensors: ['cuff', 'ppg', 'accelerometer'] },
      samples: [
        { t: 0, ppg: 512 },
        { t: 40, ppg: 530 },
        { t: 80, ppg: 555 },
        { t: 120, ppg: 541 },
      ],
    },
    Properties: { 'iothub-creation-time-utc': '2024-07-04T09:15:30.123Z', source: 'gateway-7', schemaVersion: '2' },
    SystemProperties: {
      'iothub-connection-device-id': 'device-0001',
      'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
      'iothub-connection-auth-generation-id': '638557569842453281',
      'iothub-enqueuedtime': '2024-07-04T09:15:31.004Z',
      'iothub-message-source': 'Telemetry',
      'x-opt-sequence-number': 25325,
      'x-opt-offset': '8589939424',
      'x-opt-enqueued-time': '2024-07-04T09:15:31.004Z',
    },
  };
}

/** platform-notes §8 adapter: `@name` → `@.name`; `$..` queries run on `[doc]` so that the root is a candidate. */
function rfc9535Query(expression: string): (document: unknown) => unknown[] {
  const rewritten = expression.replace(/@(?=[A-Za-z_])/g, '@.');
  const wrap = expression.startsWith('$..');
  return (document) => query((wrap ? [document] : document) as never, rewritten);
}

/** What a developer would write by hand for `$..[?(pred)]`: a recursive pre-order walk. */
function handWrittenScan(predicate: (node: Record<string, unknown>) => boolean): (document: unknown) => unknown[] {
  const walk = (node: unknown, out: unknown[]): void => {
    if (typeof node !== 'object' || node === null) {
      return;
    }
    if (Array.isArray(node)) {
      for (const child of node) {
        walk(child, out);
      }
      return;
    }
    const object = node as Record<string, unknown>;
    if (predicate(object)) {
      out.push(object);
    }
    for (const key of Object.keys(object)) {
      walk(object[key], out);
    }
  };
  return (document) => {
    const out: unknown[] = [];
    walk(document, out);
    return out;
  };
}

/** Operations per second of `fn`, best of `rounds` rounds of about `roundMs` each. */
function measure(fn: () => unknown, rounds = 5, roundMs = 200): number {
  let sink = 0;
  for (let i = 0; i < 20_000; i++) {
    sink += fn() === undefined ? 0 : 1;
  }
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    let iterations = 0;
    const start = performance.now();
    let elapsed: number;
    do {
      for (let i = 0; i < 1_000; i++) {
        sink += fn() === undefined ? 0 : 1;
      }
      iterations += 1_000;
      elapsed = performance.now() - start;
    } while (elapsed < roundMs);
    best = Math.max(best, (iterations / elapsed) * 1_000);
  }
  if (sink < 0) {
    throw new Error('unreachable: keeps the results alive');
  }
  return Math.round(best);
}

/** Runs every case; returns ops/s by case name. */
export async function run(): Promise<Record<string, number>> {
  const document = iotHubEnvelope();
  const simple = compileJsonPath('$.Body.heartRate');
  const heartRate = compileJsonPath('$..[?(@heartRate)]');
  const bloodPressure = compileJsonPath('$..[?(@systolic && @diastolic)]');
  const rfcSimple = rfc9535Query('$.Body.heartRate');
  const rfcHeartRate = rfc9535Query('$..[?(@heartRate)]');
  const rfcBloodPressure = rfc9535Query('$..[?(@systolic && @diastolic)]');
  const handHeartRate = handWrittenScan((node) => Object.hasOwn(node, 'heartRate'));
  const handBloodPressure = handWrittenScan(
    (node) => Object.hasOwn(node, 'systolic') && Object.hasOwn(node, 'diastolic'),
  );
  const body = document.Body as Record<string, unknown>;

  const results: Record<string, number> = {
    'compiled $.Body.heartRate (selectOne)': measure(() => simple.selectOne(document)),
    'compiled $..[?(@heartRate)] (selectMany)': measure(() => heartRate.selectMany(document)),
    'compiled $..[?(@systolic && @diastolic)] (selectMany)': measure(() => bloodPressure.selectMany(document)),
    'jsonpath-rfc9535 $.Body.heartRate': measure(() => rfcSimple(document)),
    'jsonpath-rfc9535 $..[?(@.heartRate)] on [doc]': measure(() => rfcHeartRate(document)),
    'jsonpath-rfc9535 $..[?(@.systolic && @.diastolic)] on [doc]': measure(() => rfcBloodPressure(document)),
    'hand-written doc.Body.heartRate': measure(() => body.heartRate),
    'hand-written recursive scan for heartRate': measure(() => handHeartRate(document)),
    'hand-written recursive scan for systolic && diastolic': measure(() => handBloodPressure(document)),
  };
  return Promise.resolve(results);
}

if (require.main === module) {
  void run().then((results) => {
    for (const [name, opsPerSecond] of Object.entries(results)) {
      process.stdout.write(`${name.padEnd(60)} ${opsPerSecond.toLocaleString('en-US').padStart(14)} ops/s\n`);
    }
  });
}
