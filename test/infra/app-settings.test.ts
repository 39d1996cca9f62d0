import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { parseSettings, type SettingsEnv } from '../../src/pipeline/config/settings';
import { objectKeys, readBicepFile } from './bicep';

const ROOT = resolve(__dirname, '../..');
const main = readBicepFile(resolve(ROOT, 'infra/main.bicep'));

/**
 * Every setting name the code reads, found by running the parser over an environment that records each lookup
 * (the parser reads every setting, and every identity variant, to report all problems at once).
 */
function settingsTheCodeReads(): Set<string> {
  const names = new Set<string>();
  parseSettings(
    new Proxy<SettingsEnv>(
      {},
      {
        get: (_target, key) => {
          if (typeof key === 'string') {
            names.add(key);
          }
          return undefined;
        },
      },
    ),
  );
  return names;
}

/** A setting and its identity-based variants (`<name>__…`) are one connection. */
const family = (name: string): string => name.split('__')[0] ?? name;

const read = settingsTheCodeReads();
const families = new Set([...read].map(family));

/** Settings the template leaves unset on purpose, and why (the docs repeat these reasons). */
const NOT_IN_TEMPLATE: Readonly<Record<string, string>> = {
  FhirBearerToken: 'a static token for test FHIR servers; Azure uses FhirAuthMode=ManagedIdentity',
  FhirManagedIdentityClientId: 'selects a user-assigned identity; the template uses the system-assigned one',
};

/** Settings of the Functions platform (not read by our code), allowed in the template. */
const PLATFORM_SETTINGS = new Set([
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
]);

const pipelineSettings = objectKeys(main, 'pipelineAppSettings');
const premiumSettings = objectKeys(main, 'premiumAppSettings');
const example = JSON.parse(readFileSync(resolve(ROOT, 'local.settings.json.example'), 'utf8')) as {
  Values: Record<string, string>;
};
const exampleKeys = Object.keys(example.Values);

describe('app settings: code, local.settings.json.example and infra/main.bicep agree', () => {
  it('finds the settings the code reads', () => {
    // A sanity floor: if the recording stopped working, every other check here would pass vacuously.
    expect(families).toEqual(
      new Set([
        'EventHubConnection',
        'EventHubName',
        'EventHubConsumerGroup',
        'FhirServerUrl',
        'FhirAuthMode',
        'FhirBearerToken',
        'FhirManagedIdentityClientId',
        'ResourceIdentityServiceType',
        'DefaultDeviceIdentifierSystem',
        'DeviceMappingSource',
        'FhirMappingSource',
        'AzureWebJobsStorage',
        'MappingStorage',
        'DeadLetterTableName',
        'DeadLetterStorage',
        'ErrorPolicy',
        'PersistChunkSize',
        'PersistMaxAttempts',
        'APPLICATIONINSIGHTS_CONNECTION_STRING',
      ]),
    );
  });

  it.each([...families].sort())('%s is set by the template (or left out with a reason)', (name) => {
    const inTemplate = pipelineSettings.some((s) => family(s) === name);
    expect({ name, inTemplate, reason: NOT_IN_TEMPLATE[name] }).toEqual(
      name in NOT_IN_TEMPLATE ? { name, inTemplate: false, reason: expect.any(String) } : { name, inTemplate: true },
    );
  });

  it.each([...families].sort())('%s is in local.settings.json.example', (name) => {
    expect(exampleKeys.some((k) => family(k) === name)).toBe(true);
  });

  it('sets nothing the code does not read, apart from Functions platform settings on Elastic Premium', () => {
    expect(pipelineSettings.filter((s) => !read.has(s))).toEqual([]);
    expect(premiumSettings.filter((s) => !PLATFORM_SETTINGS.has(s))).toEqual([]);
  });

  it('lists nothing in local.settings.json.example that the code does not read', () => {
    expect(exampleKeys.filter((k) => !read.has(k) && k !== 'FUNCTIONS_WORKER_RUNTIME')).toEqual([]);
  });

  it('connects with the managed identity: no connection strings, FhirAuthMode=ManagedIdentity', () => {
    for (const connection of ['EventHubConnection', 'AzureWebJobsStorage', 'MappingStorage', 'DeadLetterStorage']) {
      expect(pipelineSettings).not.toContain(connection);
      expect(pipelineSettings.some((s) => s.startsWith(`${connection}__`) && !s.endsWith('__clientId'))).toBe(true);
    }
    expect(main.source).toMatch(/\n {2}FhirAuthMode: 'ManagedIdentity'\n/);
  });

  it('gives the dead-letter and mapping connections every endpoint the parser requires of them', () => {
    // settings.ts: dead letters need table and blob endpoints; blob mappings need a blob endpoint.
    expect(pipelineSettings).toEqual(
      expect.arrayContaining([
        'DeadLetterStorage__tableServiceUri',
        'DeadLetterStorage__blobServiceUri',
        'MappingStorage__blobServiceUri',
        'AzureWebJobsStorage__accountName',
      ]),
    );
  });
});
