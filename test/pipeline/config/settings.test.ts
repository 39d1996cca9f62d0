import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  formatSettingIssues,
  parseSettings,
  type Settings,
  type SettingsEnv,
  type SettingIssue,
} from '../../../src/pipeline/config/settings';

const CLIENT_ID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const SECRET_KEY = 'c2VjcmV0LWtleS1kby1ub3QtbG9nPQ==';
const EVENT_HUB_CS = `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=${SECRET_KEY}`;
const STORAGE_CS = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${SECRET_KEY};EndpointSuffix=core.windows.net`;

/** The smallest valid configuration. */
const minimal: SettingsEnv = {
  EventHubConnection: EVENT_HUB_CS,
  EventHubName: 'devices',
  FhirServerUrl: 'https://fhir.example.org/r4/',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

function parseOk(env: SettingsEnv): Settings {
  const result = parseSettings(env);
  if (!result.ok) {
    throw new Error(formatSettingIssues(result.issues));
  }
  return result.settings;
}

function parseIssues(env: SettingsEnv): readonly SettingIssue[] {
  const result = parseSettings(env);
  if (result.ok) {
    throw new Error('expected issues');
  }
  return result.issues;
}

describe('parseSettings', () => {
  it('applies every default to the minimal configuration', () => {
    const s = parseOk(minimal);
    expect(s).toMatchObject({
      eventHubName: 'devices',
      eventHubConsumerGroup: '$Default',
      fhirServerUrl: 'https://fhir.example.org/r4',
      fhirAuthMode: 'ManagedIdentity',
      resourceIdentityServiceType: 'Lookup',
      deviceMappingSource: { kind: 'package', path: 'mappings/devicecontent.json' },
      fhirMappingSource: { kind: 'package', path: 'mappings/fhirmapping.json' },
      deadLetterTableName: 'iomtdeadletters',
      errorPolicy: 'DeadLetter',
      persistChunkSize: 50,
      persistMaxAttempts: 5,
    });
    expect(s.fhirBearerToken).toBeUndefined();
    expect(s.applicationInsightsConnectionString).toBeUndefined();
    expect(s.eventHubConnection.kind).toBe('connectionString');
    expect(s.azureWebJobsStorage).toMatchObject({ kind: 'connectionString', setting: 'AzureWebJobsStorage' });
    // Mapping and dead-letter storage default to the host's storage account.
    expect(s.mappingStorage).toBe(s.azureWebJobsStorage);
    expect(s.deadLetterStorage).toBe(s.azureWebJobsStorage);
  });

  it('returns a deeply frozen object', () => {
    const s = parseOk(minimal);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.deviceMappingSource)).toBe(true);
    expect(Object.isFrozen(s.eventHubConnection)).toBe(true);
  });

  it('never prints secrets when the settings are logged', () => {
    const s = parseOk({
      ...minimal,
      FhirAuthMode: 'Bearer',
      FhirBearerToken: 'token-do-not-log',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000001',
    });
    const printed = `${JSON.stringify(s)} ${String(s.fhirBearerToken)} ${String(s.applicationInsightsConnectionString)}`;
    expect(printed).not.toContain('token-do-not-log');
    expect(printed).not.toContain(SECRET_KEY);
    expect(printed).toContain('[redacted]');
    expect(s.fhirBearerToken?.reveal()).toBe('token-do-not-log');
    expect(s.eventHubConnection.kind === 'connectionString' && s.eventHubConnection.connectionString.reveal()).toBe(
      EVENT_HUB_CS,
    );
  });

  it('reports every missing required setting at once', () => {
    const issues = parseIssues({});
    expect(issues.map((i) => i.setting)).toEqual([
      'EventHubConnection',
      'EventHubName',
      'FhirServerUrl',
      'AzureWebJobsStorage',
    ]);
    for (const issue of issues) {
      expect(issue.reason).toMatch(/^is required/);
    }
  });

  it('treats blank values as unset', () => {
    const s = parseOk({ ...minimal, FhirAuthMode: '  ', PersistChunkSize: '', EventHubConsumerGroup: '' });
    expect(s.fhirAuthMode).toBe('ManagedIdentity');
    expect(s.persistChunkSize).toBe(50);
    expect(s.eventHubConsumerGroup).toBe('$Default');
  });

  it('reports values still holding the example file placeholder, without quoting them', () => {
    const issues = parseIssues({ ...minimal, FhirBearerToken: '<<token>>', PersistChunkSize: '<<1..500>>' });
    expect(issues).toEqual([
      { setting: 'FhirBearerToken', reason: expect.stringContaining('<<placeholder>>') },
      { setting: 'PersistChunkSize', reason: expect.stringContaining('<<placeholder>>') },
    ]);
  });

  describe('enumerations are matched case-insensitively and normalized', () => {
    it.each([
      ['FhirAuthMode', 'default', 'fhirAuthMode', 'Default'],
      ['FhirAuthMode', 'NONE', 'fhirAuthMode', 'None'],
      ['ResourceIdentityServiceType', 'create', 'resourceIdentityServiceType', 'Create'],
      ['ResourceIdentityServiceType', 'lookupwithencounter', 'resourceIdentityServiceType', 'LookupWithEncounter'],
      ['ErrorPolicy', 'retry', 'errorPolicy', 'Retry'],
    ] as const)('%s=%s', (setting, value, key, expected) => {
      expect(parseOk({ ...minimal, [setting]: value })[key]).toBe(expected);
    });
  });

  describe('rejects invalid values with a reason', () => {
    it.each<[string, SettingsEnv, string, RegExp]>([
      ['unknown auth mode', { FhirAuthMode: 'Basic' }, 'FhirAuthMode', /one of ManagedIdentity, Default, Bearer, None/],
      ['unknown identity type', { ResourceIdentityServiceType: 'Upsert' }, 'ResourceIdentityServiceType', /one of/],
      ['unknown policy', { ErrorPolicy: 'Ignore' }, 'ErrorPolicy', /one of DeadLetter, Retry/],
      ['chunk size 0', { PersistChunkSize: '0' }, 'PersistChunkSize', /from 1 to 500/],
      ['chunk size 501', { PersistChunkSize: '501' }, 'PersistChunkSize', /from 1 to 500/],
      ['chunk size 2.5', { PersistChunkSize: '2.5' }, 'PersistChunkSize', /whole number/],
      ['attempts 11', { PersistMaxAttempts: '11' }, 'PersistMaxAttempts', /from 1 to 10/],
      ['attempts -1', { PersistMaxAttempts: '-1' }, 'PersistMaxAttempts', /from 1 to 10/],
      ['relative FHIR URL', { FhirServerUrl: 'fhir/r4' }, 'FhirServerUrl', /absolute http\(s\) URL/],
      ['ftp FHIR URL', { FhirServerUrl: 'ftp://fhir.example.org' }, 'FhirServerUrl', /absolute http\(s\) URL/],
      ['FHIR URL with query', { FhirServerUrl: 'https://f.example.org/?x=1' }, 'FhirServerUrl', /without a query/],
      ['bearer without token', { FhirAuthMode: 'Bearer' }, 'FhirBearerToken', /required when FhirAuthMode is Bearer/],
      ['token without bearer', { FhirBearerToken: 't' }, 'FhirBearerToken', /only used when FhirAuthMode is Bearer/],
      ['client id not a GUID', { FhirManagedIdentityClientId: 'abc' }, 'FhirManagedIdentityClientId', /GUID/],
      [
        'client id with Bearer',
        { FhirAuthMode: 'Bearer', FhirBearerToken: 't', FhirManagedIdentityClientId: CLIENT_ID },
        'FhirManagedIdentityClientId',
        /only used when FhirAuthMode is ManagedIdentity or Default/,
      ],
      ['system with a pipe', { DefaultDeviceIdentifierSystem: 'urn:a|b' }, 'DefaultDeviceIdentifierSystem', /"\|"/],
      ['event hub name with a space', { EventHubName: 'my hub' }, 'EventHubName', /letters, digits/],
      ['table name with a hyphen', { DeadLetterTableName: 'dead-letters' }, 'DeadLetterTableName', /Table naming/],
      ['table name too short', { DeadLetterTableName: 'dl' }, 'DeadLetterTableName', /3-63/],
      ['table name starting with a digit', { DeadLetterTableName: '1dead' }, 'DeadLetterTableName', /starting/],
      ['reserved table name', { DeadLetterTableName: 'Tables' }, 'DeadLetterTableName', /not "tables"/],
      ['unknown mapping scheme', { DeviceMappingSource: 'file:/x.json' }, 'DeviceMappingSource', /package:<relative/],
      ['package path escaping the app', { DeviceMappingSource: 'package:../x.json' }, 'DeviceMappingSource', /\.\./],
      ['absolute package path', { FhirMappingSource: 'package:/etc/x.json' }, 'FhirMappingSource', /relative/],
      ['blob without a name', { FhirMappingSource: 'blob:mappings' }, 'FhirMappingSource', /container/],
      ['blob container in capitals', { FhirMappingSource: 'blob:Mappings/x.json' }, 'FhirMappingSource', /container/],
      ['blob name ending in /', { FhirMappingSource: 'blob:mappings/dir/' }, 'FhirMappingSource', /blob name/],
      ['garbage event hub connection', { EventHubConnection: 'nope' }, 'EventHubConnection', /Event Hubs connection/],
      ['garbage storage connection', { AzureWebJobsStorage: 'nope' }, 'AzureWebJobsStorage', /Storage connection/],
      [
        'entity path naming another hub',
        { EventHubConnection: `${EVENT_HUB_CS};EntityPath=other` },
        'EventHubName',
        /EntityPath/,
      ],
      [
        'both event hub connection kinds',
        { EventHubConnection__fullyQualifiedNamespace: 'ns.servicebus.windows.net' },
        'EventHubConnection',
        /both set/,
      ],
      [
        'app insights without a key',
        { APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://x/' },
        'APPLICATIONINSIGHTS_CONNECTION_STRING',
        /InstrumentationKey/,
      ],
    ])('%s', (_name, overrides, setting, reason) => {
      const issues = parseIssues({ ...minimal, ...overrides });
      expect(issues).toEqual([{ setting, reason: expect.stringMatching(reason) }]);
    });
  });

  it('never quotes a secret in a reason', () => {
    const issues = parseIssues({
      ...minimal,
      EventHubConnection: `Endpoint=https://wrong/;SharedAccessKey=${SECRET_KEY}`,
      AzureWebJobsStorage: `AccountKey=${SECRET_KEY}`,
      FhirServerUrl: `https://user:${SECRET_KEY}@fhir.example.org`,
      FhirBearerToken: SECRET_KEY,
    });
    expect(issues).toHaveLength(4);
    expect(formatSettingIssues(issues)).not.toContain(SECRET_KEY);
  });

  it('accepts blob mapping sources', () => {
    const s = parseOk({
      ...minimal,
      DeviceMappingSource: 'blob:mappings/device/v2.json',
      FhirMappingSource: 'BLOB:mp1/f',
    });
    expect(s.deviceMappingSource).toEqual({ kind: 'blob', container: 'mappings', blobName: 'device/v2.json' });
    expect(s.fhirMappingSource).toEqual({ kind: 'blob', container: 'mp1', blobName: 'f' });
  });

  it('normalizes "./" in package paths', () => {
    expect(parseOk({ ...minimal, DeviceMappingSource: 'package:./mappings/d.json' }).deviceMappingSource).toEqual({
      kind: 'package',
      path: 'mappings/d.json',
    });
  });

  describe('identity-based connections', () => {
    it('reads an Event Hubs namespace and client id', () => {
      const clientId = CLIENT_ID;
      const s = parseOk({
        ...minimal,
        EventHubConnection: undefined,
        EventHubConnection__fullyQualifiedNamespace: 'ns.servicebus.windows.net',
        EventHubConnection__clientId: clientId,
      });
      expect(s.eventHubConnection).toEqual({
        kind: 'identity',
        fullyQualifiedNamespace: 'ns.servicebus.windows.net',
        clientId,
      });
    });

    it('rejects a namespace given as a URL', () => {
      const issues = parseIssues({
        ...minimal,
        EventHubConnection: undefined,
        EventHubConnection__fullyQualifiedNamespace: 'sb://ns.servicebus.windows.net/',
      });
      expect(issues).toEqual([{ setting: 'EventHubConnection__fullyQualifiedNamespace', reason: expect.any(String) }]);
    });

    it('expands AzureWebJobsStorage__accountName to every service endpoint', () => {
      const s = parseOk({ ...minimal, AzureWebJobsStorage: undefined, AzureWebJobsStorage__accountName: 'acct' });
      expect(s.azureWebJobsStorage).toEqual({
        kind: 'identity',
        setting: 'AzureWebJobsStorage',
        blobServiceUri: 'https://acct.blob.core.windows.net',
        queueServiceUri: 'https://acct.queue.core.windows.net',
        tableServiceUri: 'https://acct.table.core.windows.net',
      });
    });

    it('derives the dead-letter blob endpoint from the table endpoint of the same account', () => {
      const s = parseOk({ ...minimal, DeadLetterStorage__tableServiceUri: 'https://dl.table.core.windows.net/' });
      expect(s.deadLetterStorage).toEqual({
        kind: 'identity',
        setting: 'DeadLetterStorage',
        tableServiceUri: 'https://dl.table.core.windows.net',
        blobServiceUri: 'https://dl.blob.core.windows.net',
      });
    });

    it('asks for the blob endpoint when it cannot be derived', () => {
      const issues = parseIssues({ ...minimal, DeadLetterStorage__tableServiceUri: 'https://tables.contoso.net' });
      expect(issues).toEqual([
        { setting: 'DeadLetterStorage__blobServiceUri', reason: expect.stringMatching(/needs the blob endpoint/) },
      ]);
    });

    it('asks for a blob endpoint when blob mappings fall back to a table-only AzureWebJobsStorage', () => {
      const issues = parseIssues({
        ...minimal,
        AzureWebJobsStorage: undefined,
        AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
        AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
        DeviceMappingSource: 'blob:mappings/d.json',
        DeadLetterStorage: STORAGE_CS,
      });
      expect(issues).toEqual([
        { setting: 'AzureWebJobsStorage__blobServiceUri', reason: expect.stringMatching(/MappingStorage is not set/) },
      ]);
    });

    it('uses MappingStorage when set', () => {
      const s = parseOk({ ...minimal, MappingStorage__blobServiceUri: 'https://m.blob.core.windows.net' });
      expect(s.mappingStorage).toEqual({
        kind: 'identity',
        setting: 'MappingStorage',
        blobServiceUri: 'https://m.blob.core.windows.net',
      });
      expect(s.deadLetterStorage).toBe(s.azureWebJobsStorage);
    });

    it('rejects a connection string and identity settings for the same connection', () => {
      const issues = parseIssues({
        ...minimal,
        DeadLetterStorage: STORAGE_CS,
        DeadLetterStorage__accountName: 'dlacct',
      });
      expect(issues).toEqual([{ setting: 'DeadLetterStorage', reason: expect.stringMatching(/both set/) }]);
    });
  });
});

describe('formatSettingIssues', () => {
  it('lists one issue per line under a count', () => {
    expect(
      formatSettingIssues([
        { setting: 'A', reason: 'is required' },
        { setting: 'B', reason: 'must be one of X, Y' },
      ]),
    ).toBe('Invalid app settings (2 problems):\n  - A: is required\n  - B: must be one of X, Y');
  });
});

describe('local.settings.json.example', () => {
  const example = JSON.parse(readFileSync(join(__dirname, '../../../local.settings.json.example'), 'utf8')) as {
    Values: Record<string, string>;
  };
  const exampleKeys = Object.keys(example.Values).filter((k) => k !== 'FUNCTIONS_WORKER_RUNTIME');
  const keysRead = new Set<string>();
  parseSettings(
    new Proxy<SettingsEnv>(
      {},
      {
        get: (_target, key) => {
          if (typeof key === 'string') {
            keysRead.add(key);
          }
          return undefined;
        },
      },
    ),
  );

  it('runs the Node worker', () => {
    expect(example.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  });

  it('lists every setting the parser reads under its own name (identity variants aside)', () => {
    const primary = [...keysRead].filter((k) => !k.includes('__'));
    expect(exampleKeys).toEqual(expect.arrayContaining(primary));
  });

  it('lists nothing the parser ignores', () => {
    expect([...keysRead]).toEqual(expect.arrayContaining(exampleKeys));
  });

  it('holds only placeholders, so an unedited copy fails with one issue per setting', () => {
    const issues = parseIssues(example.Values);
    expect(issues.map((i) => i.setting).sort()).toEqual([...exampleKeys].sort());
    for (const issue of issues) {
      expect(issue.reason).toContain('<<placeholder>>');
    }
  });
});
