/**
 * Azure Storage clients for a {@link StorageConnection} (a connection string or identity-based endpoints), with
 * bounded retries so an unreachable account fails an operation in seconds rather than minutes.
 */
import { TableClient } from '@azure/data-tables';
import type * as Identity from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

import { parseConnectionString, type StorageConnection } from '../../pipeline';
import { ErrorCode, PipelineError } from '../../pipeline';

/** Retry policy of the Storage clients (exponential back-off). */
export interface StorageRetryOptions {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Delay before the first retry; doubles each time. */
  readonly retryDelayInMs: number;
  /** Upper bound of a single delay. */
  readonly maxRetryDelayInMs: number;
}

/** Options shared by the client factories. */
export interface StorageClientOptions {
  /** Credential for identity-based connections. Default: `DefaultAzureCredential` with the connection's client id. */
  readonly credential?: TokenCredential;
  /** Retry policy. Default {@link DEFAULT_STORAGE_RETRY}. */
  readonly retry?: StorageRetryOptions;
}

/** Three retries within about two seconds: enough for a throttled or restarting service, short enough to fail fast. */
export const DEFAULT_STORAGE_RETRY: StorageRetryOptions = Object.freeze({
  maxRetries: 3,
  retryDelayInMs: 200,
  maxRetryDelayInMs: 2000,
});

/**
 * A Table client for one table.
 * @param connection - the Storage connection
 * @param tableName - the table
 * @param options - credential and retries
 */
export function createTableClient(
  connection: StorageConnection,
  tableName: string,
  options: StorageClientOptions = {},
): TableClient {
  const retry = options.retry ?? DEFAULT_STORAGE_RETRY;
  const clientOptions = { retryOptions: { ...retry } };
  if (connection.kind === 'connectionString') {
    const cs = connection.connectionString.reveal();
    // Azurite and other local endpoints are plain http; the SDK refuses shared-key auth over http unless told.
    return TableClient.fromConnectionString(cs, tableName, { ...clientOptions, allowInsecureConnection: isLocal(cs) });
  }
  const url = requireEndpoint(connection, 'table');
  return new TableClient(url, tableName, credentialFor(connection, options), {
    ...clientOptions,
    allowInsecureConnection: url.startsWith('http:'),
  });
}

/**
 * A Blob container client.
 * @param connection - the Storage connection
 * @param containerName - the container
 * @param options - credential and retries
 */
export function createContainerClient(
  connection: StorageConnection,
  containerName: string,
  options: StorageClientOptions = {},
): ContainerClient {
  const retry = options.retry ?? DEFAULT_STORAGE_RETRY;
  const pipelineOptions = {
    retryOptions: {
      maxTries: retry.maxRetries + 1,
      retryDelayInMs: retry.retryDelayInMs,
      maxRetryDelayInMs: retry.maxRetryDelayInMs,
    },
  };
  const service =
    connection.kind === 'connectionString'
      ? BlobServiceClient.fromConnectionString(connection.connectionString.reveal(), pipelineOptions)
      : new BlobServiceClient(requireEndpoint(connection, 'blob'), credentialFor(connection, options), pipelineOptions);
  return service.getContainerClient(containerName);
}

function requireEndpoint(
  connection: Extract<StorageConnection, { kind: 'identity' }>,
  service: 'blob' | 'table',
): string {
  const url = service === 'blob' ? connection.blobServiceUri : connection.tableServiceUri;
  if (url === undefined) {
    throw new PipelineError(
      ErrorCode.ConfigurationInvalid,
      `${connection.setting} has no ${service} endpoint; set ${connection.setting}__${service}ServiceUri`,
      { details: { setting: `${connection.setting}__${service}ServiceUri` } },
    );
  }
  return url;
}

function credentialFor(
  connection: Extract<StorageConnection, { kind: 'identity' }>,
  options: StorageClientOptions,
): TokenCredential {
  if (options.credential !== undefined) {
    return options.credential;
  }
  // Loaded only for identity-based connections: @azure/identity is large and connection strings do not need it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DefaultAzureCredential } = require('@azure/identity') as typeof Identity;
  return new DefaultAzureCredential(
    connection.clientId === undefined ? {} : { managedIdentityClientId: connection.clientId },
  );
}

/** True for development storage or endpoints over plain http. */
function isLocal(connectionString: string): boolean {
  const parts = parseConnectionString(connectionString);
  return (
    parts.get('usedevelopmentstorage')?.toLowerCase() === 'true' ||
    parts.get('defaultendpointsprotocol')?.toLowerCase() === 'http' ||
    [...parts].some(([key, value]) => key.endsWith('endpoint') && value.toLowerCase().startsWith('http:'))
  );
}
