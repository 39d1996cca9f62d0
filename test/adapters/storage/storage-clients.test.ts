import type { AccessToken, TokenCredential } from '@azure/identity';

import { createContainerClient, createTableClient } from '../../../src/adapters/storage/storage-clients';
import { secret, type StorageConnection } from '../../../src/pipeline/config/settings';

const credential: TokenCredential = {
  getToken: (): Promise<AccessToken> => Promise.resolve({ token: 't', expiresOnTimestamp: Date.now() + 60_000 }),
};

describe('storage clients', () => {
  const identity: StorageConnection = {
    kind: 'identity',
    setting: 'DeadLetterStorage',
    tableServiceUri: 'https://acct.table.core.windows.net',
    blobServiceUri: 'https://acct.blob.core.windows.net',
  };

  it('builds identity-based clients on the configured endpoints', () => {
    expect(createTableClient(identity, 'deadletters', { credential }).url).toBe('https://acct.table.core.windows.net');
    expect(createContainerClient(identity, 'mappings', { credential }).url).toBe(
      'https://acct.blob.core.windows.net/mappings',
    );
  });

  it('refuses an identity-based connection without the needed endpoint', () => {
    const blobOnly: StorageConnection = {
      kind: 'identity',
      setting: 'MappingStorage',
      blobServiceUri: 'https://a.blob.core.windows.net',
    };
    expect(() => createTableClient(blobOnly, 't', { credential })).toThrow(
      expect.objectContaining({
        code: 'CONFIGURATION_INVALID',
        message: expect.stringContaining('MappingStorage__tableServiceUri'),
      }),
    );
  });

  it('builds clients from a development-storage connection string', () => {
    const dev: StorageConnection = {
      kind: 'connectionString',
      setting: 'AzureWebJobsStorage',
      connectionString: secret('UseDevelopmentStorage=true'),
    };
    expect(createTableClient(dev, 'deadletters').url).toBe('http://127.0.0.1:10002/devstoreaccount1');
    expect(createContainerClient(dev, 'mappings').url).toBe('http://127.0.0.1:10000/devstoreaccount1/mappings');
  });
});
