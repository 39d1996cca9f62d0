import { UsageError } from '../../../src/local/cli/io';
import { parseReplayOptions, parseStartOptions } from '../../../src/local/stack/stack-options';

const fixedRandom = (): number => 0.5;

describe('parseStartOptions', () => {
  it('defaults: 127.0.0.1:7071, embedded FHIR on 8080, .iomt-data, Create, 300 events / 1000 ms, simulator on', () => {
    expect(parseStartOptions([], {}, fixedRandom)).toEqual({
      host: '127.0.0.1',
      port: 7071,
      fhir: { kind: 'embedded', host: '127.0.0.1', port: 8080 },
      dataDir: '.iomt-data',
      mappings: { device: 'mappings/devicecontent.json', fhir: 'mappings/fhirmapping.json' },
      resolution: 'Create',
      batching: { maxEvents: 300, maxWaitMs: 1000, partitions: 4 },
      simulator: { devices: 10, rate: 5, seed: 2 ** 30 },
      randomSeed: true,
      journal: true,
    });
  });

  it.each([
    [['--no-journal'], {}],
    [[], { IOMT_JOURNAL: 'off' }],
    [[], { IOMT_JOURNAL: '0' }],
  ])('the intake journal is off with %j %j', (args, env) => {
    expect(parseStartOptions(args, env, fixedRandom).journal).toBe(false);
  });

  it('refuses an IOMT_JOURNAL that is neither on nor off', () => {
    expect(parseStartOptions([], { IOMT_JOURNAL: 'on' }, fixedRandom).journal).toBe(true);
    expect(() => parseStartOptions([], { IOMT_JOURNAL: 'maybe' }, fixedRandom)).toThrow(UsageError);
  });

  it('environment variables override defaults; flags override both', () => {
    const env = {
      IOMT_PORT: '7000',
      IOMT_FHIR_PORT: '9000',
      IOMT_DATA_DIR: '/data',
      IOMT_DEVICE_MAPPING: 'd.json',
      IOMT_FHIR_MAPPING: 'f.json',
      IOMT_RESOLUTION: 'lookup',
      IOMT_MAX_EVENTS: '50',
      IOMT_MAX_WAIT_MS: '250',
      IOMT_PARTITIONS: '8',
      IOMT_DEVICES: '3',
      IOMT_RATE: '0.5',
      IOMT_SEED: '42',
    };
    expect(parseStartOptions([], env)).toMatchObject({
      port: 7000,
      fhir: { kind: 'embedded', port: 9000 },
      dataDir: '/data',
      mappings: { device: 'd.json', fhir: 'f.json' },
      resolution: 'Lookup',
      batching: { maxEvents: 50, maxWaitMs: 250, partitions: 8 },
      simulator: { devices: 3, rate: 0.5, seed: 42 },
      randomSeed: false,
    });
    expect(parseStartOptions(['--port', '7100', '--max-events', '10', '--seed', '1'], env)).toMatchObject({
      port: 7100,
      batching: { maxEvents: 10 },
      simulator: { seed: 1 },
    });
  });

  it('binds other interfaces only by flag, never from the environment', () => {
    expect(parseStartOptions([], { IOMT_HOST: '0.0.0.0', HOST: '0.0.0.0' }).host).toBe('127.0.0.1');
    expect(parseStartOptions(['--host', '0.0.0.0', '--fhir-host', '::'], {})).toMatchObject({
      host: '0.0.0.0',
      fhir: { host: '::' },
    });
  });

  it.each([
    [['--no-simulator'], {}],
    [[], { IOMT_SIMULATOR: 'off' }],
    [[], { IOMT_SIMULATOR: '0' }],
  ])('turns the simulator off with %j %j', (args, env) => {
    expect(parseStartOptions(args, env).simulator).toBeUndefined();
  });

  it('a FHIR URL replaces the embedded server, with its authentication', () => {
    expect(
      parseStartOptions(
        ['--fhir-url', 'https://ws-fhir.fhir.azurehealthcareapis.com/', '--fhir-auth', 'managed-identity'],
        {},
      ).fhir,
    ).toEqual({
      kind: 'remote',
      url: 'https://ws-fhir.fhir.azurehealthcareapis.com',
      auth: { mode: 'managedIdentity' },
    });
    expect(
      parseStartOptions([], {
        IOMT_FHIR_URL: 'http://hapi:8080/fhir',
        IOMT_FHIR_AUTH: 'bearer',
        IOMT_FHIR_TOKEN: 't0k',
      }).fhir,
    ).toEqual({
      kind: 'remote',
      url: 'http://hapi:8080/fhir',
      auth: { mode: 'bearer', token: 't0k' },
    });
  });

  it.each<[string[], Record<string, string>, RegExp]>([
    [['--port', '70000'], {}, /--port \(IOMT_PORT\) must be a whole number from 0 to 65535/],
    [[], { IOMT_PORT: 'x' }, /IOMT_PORT/],
    [['--max-events', '0'], {}, /--max-events/],
    [['--partitions', '33'], {}, /--partitions/],
    [['--rate', '-1'], {}, /--rate/],
    [['--resolution', 'Guess'], {}, /Create, Lookup or LookupWithEncounter/],
    [['--fhir-url', 'ftp://x'], {}, /absolute http\(s\) URL/],
    [['--fhir-url', 'https://user:pw@x'], {}, /credentials/],
    [['--fhir-url', 'https://x', '--fhir-auth', 'bearer'], {}, /needs a token/],
    [['--fhir-token', 't'], {}, /only used with --fhir-auth bearer/],
    [['--fhir-auth', 'default'], {}, /embedded one has none/],
    [['--fhir-auth', 'magic', '--fhir-url', 'https://x'], {}, /--fhir-auth \(IOMT_FHIR_AUTH\) must be one of/],
    [[], { IOMT_SIMULATOR: 'maybe' }, /IOMT_SIMULATOR must be on or off/],
    [['--frobnicate'], {}, /frobnicate/],
  ])('refuses %j %j', (args, env, message) => {
    expect(() => parseStartOptions(args, env)).toThrow(UsageError);
    expect(() => parseStartOptions(args, env)).toThrow(message);
  });
});

describe('parseReplayOptions', () => {
  it('takes one file; its embedded FHIR server gets a free port', () => {
    expect(parseReplayOptions(['events.jsonl', '--max-events', '100'], { IOMT_PORT: '1' })).toMatchObject({
      file: 'events.jsonl',
      fhir: { kind: 'embedded', host: '127.0.0.1', port: 0 },
      batching: { maxEvents: 100 },
    });
  });

  it.each([[[]], [['a.json', 'b.json']], [['a.json', '--port', '1']]])('refuses %j', (args) => {
    expect(() => parseReplayOptions(args, {})).toThrow(UsageError);
  });
});
