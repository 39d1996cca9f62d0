import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createFileDeadLetterStore } from '../../../../src/adapters/dead-letter/file-dead-letter-store';
import { openTableDeadLetterStore } from '../../../../src/adapters/dead-letter/table-dead-letter-store';
import { createDeadletterCommand } from '../../../../src/local/cli/commands/deadletter';
import { UsageError } from '../../../../src/local/cli/io';
import { type EmbeddedFhirServer, startFhirServer } from '../../../../src/local/fhir-server';
import { type DeadLetterEntry, eventDeadLetterEntry, PipelineError, secret } from '../../../../src/pipeline';
import { type Azurite, startAzurite } from '../../../helpers/azurite';
import { captureIo } from '../capture-io';

const APP_ROOT = join(__dirname, '..', '..', '..', '..');
const MAPPINGS = [
  '--device-mapping',
  join(APP_ROOT, 'mappings', 'devicecontent.json'),
  '--fhir-mapping',
  join(APP_ROOT, 'mappings', 'fhirmapping.json'),
];

/** A heart rate that failed under a mapping since fixed (the shipped mapping reads it fine). */
const entryFor = (sequenceNumber: number, body: string, code = 'REQUIRED_VALUE_MISSING'): DeadLetterEntry =>
  eventDeadLetterEntry(
    { body, partitionId: '1', sequenceNumber, enqueuedTimeUtc: '2024-03-10T14:05:01Z' },
    new PipelineError(code as 'REQUIRED_VALUE_MISSING', 'Required value missing for [hr].'),
    { mappingVersion: 'sha256:old', now: Date.UTC(2024, 2, 10, 15, sequenceNumber) },
  );
const heartRate = JSON.stringify({
  deviceId: 'd1',
  patientId: 'p1',
  measurementTime: '2024-03-10T14:05:00Z',
  heartRate: 72,
});

describe('iomt deadletter', () => {
  let dir: string;
  let command: ReturnType<typeof createDeadletterCommand>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iomt-deadletter-'));
    // No app settings; a local stack data folder without dead letters.
    command = createDeadletterCommand({ IOMT_DATA_DIR: dir });
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('list', () => {
    it('lists the newest entries with their error, filtered', async () => {
      await createFileDeadLetterStore({ directory: dir }).put([
        entryFor(1, heartRate),
        entryFor(2, '{', 'BODY_INVALID_JSON'),
      ]);
      const io = captureIo();

      expect(await command.run(['list', '--dir', dir, '--error-type', 'InvalidDataFormatException'], io)).toBe(0);

      expect(io.output()).toBe(
        '1 dead-lettered entry\n' +
          '  2024-03-10T15:02:00.000Z  Normalization   BODY_INVALID_JSON (InvalidDataFormatException)  event partition=1 seq=2\n' +
          '      evt-20240310-1-2  attempts=1  mapping=sha256:old\n' +
          '      Required value missing for [hr].\n',
      );
    });

    it("defaults to the local stack's file store in its data folder", async () => {
      await createFileDeadLetterStore({ directory: join(dir, 'dead-letters') }).put([entryFor(1, heartRate)]);
      const io = captureIo();

      expect(await command.run(['list', '--json'], io)).toBe(0);

      expect((JSON.parse(io.output()) as { id: string }[]).map((e) => e.id)).toEqual(['evt-20240310-1-1']);
    });

    it('prints JSON with --json', async () => {
      await createFileDeadLetterStore({ directory: dir }).put([entryFor(1, heartRate)]);
      const io = captureIo();

      await command.run(['list', '--dir', dir, '--json', '--limit', '5', '--since', '2024-03-10T00:00:00Z'], io);

      expect(JSON.parse(io.output())).toEqual([
        expect.objectContaining({ id: 'evt-20240310-1-1', payloadKind: 'event' }),
      ]);
    });

    it.each([
      [[], 'name one action: list or replay'],
      [['purge'], 'name one action: list or replay'],
      [['list', '--dir', 'x', '--dry-run'], '--dry-run only applies to replay'],
      [['list', '--dir', 'x', '--since', 'last week'], '--since must be an ISO-8601 date-time'],
      [['list', '--dir', 'x', '--limit', '0'], '--limit must be a whole number from 1 to 1000'],
      [['list', '--dir', 'x', '--stage', 'Grouping'], '--stage must be Normalization or FHIRConversion'],
      [['list', '--dir', 'x', '--connection', 'y'], 'choose one store: --connection, --account or --dir'],
      [['list'], "or --dir; the local stack's"],
      [['list', '--account', 'Not_An_Account'], '--account must be a Storage account name'],
    ])('refuses %j', async (args, message) => {
      await expect(command.run(args, captureIo())).rejects.toThrow(UsageError);
      await expect(command.run(args, captureIo())).rejects.toThrow(message);
    });
  });

  describe('replay', () => {
    let fhir: EmbeddedFhirServer;
    beforeAll(async () => {
      fhir = await startFhirServer({ port: 0 });
    });
    afterAll(() => fhir.close());

    it('saves the entries into the FHIR service with the current mappings and removes them', async () => {
      const store = createFileDeadLetterStore({ directory: dir });
      await store.put([entryFor(1, heartRate)]);
      const io = captureIo();

      const code = await command.run(
        ['replay', '--dir', dir, '--fhir-url', fhir.url, '--resolution', 'Create', ...MAPPINGS],
        io,
      );

      expect({ code, errors: io.errors() }).toEqual({ code: 0, errors: '' });
      expect(io.output()).toBe(
        'Replayed 1 entry: 1 saved and removed, 0 still failing\n' +
          '  Replayed  evt-20240310-1-1  measurements=1  created=1 updated=0 unchanged=0\n',
      );
      expect(await store.list()).toEqual([]);
      expect(fhir.repository.all('Observation')).toHaveLength(1);
    });

    it("uses the local stack's settings for its store: Create resolution and IOMT_FHIR_URL", async () => {
      // A device nobody created yet: Lookup (the Functions app's default) would fail with DEVICE_NOT_FOUND.
      const newDevice = heartRate.replace('"d1"', '"d7"').replace('"p1"', '"p7"');
      await createFileDeadLetterStore({ directory: join(dir, 'dead-letters') }).put([entryFor(3, newDevice)]);
      const local = createDeadletterCommand({ IOMT_DATA_DIR: dir, IOMT_FHIR_URL: fhir.url });
      const io = captureIo();

      expect(await local.run(['replay', ...MAPPINGS], io)).toBe(0);

      expect(io.output()).toContain('1 saved and removed, 0 still failing');
    });

    it('checks without saving on --dry-run, and exits 1 while an entry still fails', async () => {
      const store = createFileDeadLetterStore({ directory: dir });
      await store.put([entryFor(1, heartRate), entryFor(2, '{', 'BODY_INVALID_JSON')]);
      const io = captureIo();

      const code = await command.run(
        ['replay', '--dir', dir, '--fhir-url', fhir.url, '--dry-run', '--json', ...MAPPINGS],
        io,
      );

      expect(code).toBe(1);
      const report = JSON.parse(io.output()) as { dryRun: boolean; entries: { id: string; outcome: string }[] };
      expect(report.dryRun).toBe(true);
      expect(report.entries.map((e) => [e.id, e.outcome])).toEqual([
        ['evt-20240310-1-2', 'Failed'],
        ['evt-20240310-1-1', 'Ready'],
      ]);
      expect(await store.list()).toHaveLength(2);
    });

    it('exits 2 and prints every issue when a mapping file is invalid', async () => {
      const bad = join(dir, 'device.json');
      writeFileSync(
        bad,
        '{"templateType": "CollectionContent", "template": [{"templateType": "Nope", "template": {}}]}',
      );
      const io = captureIo();

      const code = await command.run(
        [
          'replay',
          '--dir',
          dir,
          '--device-mapping',
          bad,
          '--fhir-mapping',
          join(APP_ROOT, 'mappings', 'fhirmapping.json'),
        ],
        io,
      );

      expect(code).toBe(2);
      expect(io.errors()).toMatch(/device\.json:1:\d+ {2}InvalidTemplateException/);
    });

    it('refuses bearer authentication without a token in the environment', async () => {
      await expect(
        command.run(['replay', '--dir', dir, '--fhir-auth', 'bearer', ...MAPPINGS], captureIo()),
      ).rejects.toThrow('--fhir-auth bearer reads the token from FhirBearerToken or IOMT_FHIR_TOKEN; neither is set');
    });
  });

  describe('against Table storage (Azurite)', () => {
    let azurite: Azurite;
    beforeAll(async () => {
      azurite = await startAzurite();
    });
    afterAll(() => azurite.stop());

    it('reads the connection and table from the app settings, and reports an unreachable store', async () => {
      const connection = {
        kind: 'connectionString',
        setting: 'x',
        connectionString: secret(azurite.connectionString),
      } as const;
      await openTableDeadLetterStore(connection, 'clideadletters').put([entryFor(1, heartRate)]);
      const fromSettings = createDeadletterCommand({
        DeadLetterStorage: azurite.connectionString,
        DeadLetterTableName: 'clideadletters',
      });
      const io = captureIo();

      expect(await fromSettings.run(['list', '--json'], io)).toBe(0);
      expect((JSON.parse(io.output()) as { id: string }[]).map((e) => e.id)).toEqual(['evt-20240310-1-1']);

      const unreachable = captureIo();
      const closedPort =
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;';
      expect(await command.run(['list', '--connection', closedPort], unreachable)).toBe(1);
      expect(unreachable.errors()).toMatch(/^iomt deadletter: STORAGE_UNAVAILABLE: /);
      expect(unreachable.errors()).not.toContain('a2V5');
    });
  });
});
