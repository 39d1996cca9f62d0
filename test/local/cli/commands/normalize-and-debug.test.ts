import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli } from '../run-cli';

const root = join(__dirname, '..', '..', '..', '..');
const deviceMapping = join(root, 'mappings', 'devicecontent.json');
const fhirMapping = join(root, 'mappings', 'fhirmapping.json');

function file(name: string, content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'iomt-cli-')), name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const heartRate = (minute: number, value: number, batch = 0) => ({
  body: {
    deviceId: 'dev-1',
    patientId: 'pat-1',
    measurementTime: `2024-03-01T10:${String(minute).padStart(2, '0')}:00Z`,
    heartRate: value,
  },
  enqueuedTimeUtc: '2024-03-01T10:59:00Z',
  batch,
});

describe('iomt normalize', () => {
  it('prints the measurements and each event error as JSON, exit 0', async () => {
    const events = file('events.json', [heartRate(1, 70), { bodyText: '{not json' }]);
    const run = await runCli(['normalize', '--device-mapping', deviceMapping, '--events', events, '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.out);
    expect(out.measurements).toEqual([
      {
        type: 'heartrate',
        occurrenceTimeUtc: '2024-03-01T10:01:00.0000000Z',
        ingestionTimeUtc: '2024-03-01T10:59:00.0000000Z',
        deviceId: 'dev-1',
        patientId: 'pat-1',
        encounterId: null,
        correlationId: null,
        properties: [{ name: 'hr', value: '70' }],
      },
    ]);
    expect(out.errors).toEqual([
      expect.objectContaining({ messageIndex: 1, medtechErrorType: 'InvalidDataFormatException' }),
    ]);
  });

  it('prints a readable table without --json', async () => {
    const events = file('events.json', [heartRate(1, 70)]);
    const run = await runCli(['normalize', '--device-mapping', deviceMapping, '--events', events]);
    expect(run.out).toMatch(/heartrate\s+2024-03-01T10:01:00\.0000000Z\s+dev-1\s+pat-1\s+hr=70/);
  });

  it('exits 2 with every issue when the mapping is invalid', async () => {
    const text = '{"templateType":"CollectionContent","template":[{"templateType":"Nope","template":{}}]}';
    const mapping = file('bad.json', text);
    const run = await runCli(['normalize', '--device-mapping', mapping, '--events', file('e.json', [])]);
    expect(run.code).toBe(2);
    const column = text.indexOf('"templateType":"Nope"') + 1;
    expect(run.err).toContain(`bad.json:1:${column}  InvalidTemplateException  No match found for template type Nope.`);
  });

  it('reads JSON lines', async () => {
    const events = file('events.jsonl', `${JSON.stringify(heartRate(1, 70))}\n${JSON.stringify(heartRate(2, 71))}\n`);
    const run = await runCli(['normalize', '--device-mapping', deviceMapping, '--events', events, '--json']);
    expect(JSON.parse(run.out).measurements).toHaveLength(2);
  });
});

describe('iomt debug', () => {
  it('runs batches in order into a fresh embedded FHIR server and prints the contract JSON', async () => {
    const events = file('events.json', [heartRate(5, 72, 1), heartRate(1, 70, 0), { bodyText: 'garbage', batch: 0 }]);
    const run = await runCli([
      'debug',
      '--device-mapping',
      deviceMapping,
      '--fhir-mapping',
      fhirMapping,
      '--resolution',
      'Create',
      '--events',
      events,
      '--json',
    ]);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.out);
    expect(Object.keys(out).sort()).toEqual(['errors', 'measurements', 'observations', 'resources']);
    // Batch 0 runs first: the second measurement comes from batch 1.
    expect(out.measurements.map((m: { properties: { value: string }[] }) => m.properties[0]!.value)).toEqual([
      '70',
      '72',
    ]);
    expect(out.errors).toEqual([
      expect.objectContaining({
        stage: 'Normalization',
        messageIndex: 2,
        medtechErrorType: 'InvalidDataFormatException',
      }),
    ]);
    expect(out.observations).toHaveLength(1);
    const [observation] = out.observations;
    // Hourly SampledData, one slot per minute: both batches merged into one Observation.
    const slots = observation.valueSampledData.data.split(' ');
    expect(slots).toHaveLength(60);
    expect([slots[1], slots[5]]).toEqual(['70', '72']);
    expect(observation.status).toBe('amended');
    expect(out.resources.map((r: { resourceType: string }) => r.resourceType).sort()).toEqual(['Device', 'Patient']);
  });

  it('uses the seed for Lookup resolution and reports DeviceNotFound for unknown devices', async () => {
    const seed = file('seed.json', [
      { resourceType: 'Patient', id: 'p1' },
      { resourceType: 'Device', id: 'd1', identifier: [{ value: 'dev-1' }], patient: { reference: 'Patient/p1' } },
    ]);
    const other = { ...heartRate(3, 75), body: { ...heartRate(3, 75).body, deviceId: 'unknown' } };
    const events = file('events.json', [heartRate(1, 70), other]);
    const run = await runCli([
      'debug',
      '--device-mapping',
      deviceMapping,
      '--fhir-mapping',
      fhirMapping,
      '--fhir-seed',
      seed,
      '--events',
      events,
      '--json',
    ]);
    const out = JSON.parse(run.out);
    expect(out.observations).toHaveLength(1);
    expect(out.observations[0].subject).toEqual({ reference: 'Patient/p1' });
    expect(out.observations[0].identifier[0].value).toBe('p1.d1.heartrate.20240301100000Z.20240301105959Z');
    expect(out.errors).toEqual([
      expect.objectContaining({
        stage: 'FHIRConversion',
        messageIndex: 1,
        medtechErrorType: 'DeviceNotFoundException',
      }),
    ]);
  });

  it('exits 2 and reports load errors with their stage when a mapping is invalid', async () => {
    const bad = file(
      'fhir.json',
      '{"templateType":"CollectionFhir","template":[{"templateType":"CodeValueFhir","template":{"codes":[]}}]}',
    );
    const run = await runCli([
      'debug',
      '--device-mapping',
      deviceMapping,
      '--fhir-mapping',
      bad,
      '--events',
      file('e.json', []),
      '--json',
    ]);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.out).errors).toEqual([
      expect.objectContaining({ stage: 'FhirTemplateLoad', medtechErrorType: 'InvalidTemplateException', line: 1 }),
    ]);
  });
});
