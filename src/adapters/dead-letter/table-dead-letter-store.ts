/**
 * The dead-letter store on Azure Table storage, with Blob storage for payloads too large for an entity.
 *
 * Layout: partition key `{stage}-{yyyymmdd}` (the day embedded in the entry id), row key = entry id, so writing
 * the same id again replaces the entry and `get` is a point read. Searchable columns (`errorCode`, `errorType`,
 * `createdAt`, partition and sequence number…) sit next to the payload, which is stored as UTF-8 JSON split into
 * 64 KiB binary properties `p0…pN`. Payloads over {@link MAX_INLINE_PAYLOAD_BYTES} go to the blob
 * `{partition key}/{id}.json` in the overflow container instead (entities are limited to 1 MiB, and Azurite counts
 * the base64 wire size against that limit). The table and the container are created on first use.
 */
import { Buffer } from 'node:buffer';

import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';

import type { StorageConnection } from '../../pipeline';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  deadLetterIdDay,
  deadLetterLimit,
  deadLetterSince,
  type DeadLetterPayload,
  type DeadLetterStage,
  type DeadLetterStore,
  type DeadLetterSummary,
  orderAndLimitDeadLetters,
} from '../../pipeline';
import { ErrorCode, PipelineError, type PipelineErrorJson } from '../../pipeline';
import { createContainerClient, createTableClient, type StorageClientOptions } from '../storage/storage-clients';
import { isStorageNotFound, toStorageError } from '../storage/storage-errors';

/** Options of {@link createTableDeadLetterStore}. */
export interface TableDeadLetterStoreOptions {
  readonly table: TableClient;
  /** Where payloads too large for an entity go. */
  readonly overflow: ContainerClient;
  /** Entries written at once by `put`. Default 8. */
  readonly concurrency?: number;
  /** Timeout of each request, ms. Default 30 000. */
  readonly timeoutMs?: number;
}

/** Largest payload kept in the entity itself (10 properties of 64 KiB). */
export const MAX_INLINE_PAYLOAD_BYTES = 10 * 64 * 1024;

const CHUNK_BYTES = 64 * 1024;
const SCHEMA_VERSION = 1;
const STAGES: readonly DeadLetterStage[] = ['Normalization', 'FHIRConversion'];
/** Keeps the `error` column well inside a 64 KiB string property. */
const MAX_ERROR_CHARS = 8000;
const SUMMARY_COLUMNS = [
  'PartitionKey',
  'RowKey',
  'v',
  'stage',
  'error',
  'partitionId',
  'sequenceNumber',
  'enqueuedTimeUtc',
  'mappingVersion',
  'createdAt',
  'attempts',
  'payloadKind',
];

/** The columns of a row (besides the payload chunks `p0…pN`). */
interface Row {
  v: number;
  stage: DeadLetterStage;
  errorCode: string;
  errorType: string;
  /** {@link PipelineErrorJson} as JSON text. */
  error: string;
  partitionId?: string;
  sequenceNumber?: { value: string; type: 'Int64' } | bigint | number;
  enqueuedTimeUtc?: string;
  mappingVersion: string;
  createdAt: Date;
  attempts: number;
  payloadKind: DeadLetterPayload['kind'];
  payloadBytes: number;
  payloadChunks?: number;
  payloadBlob?: string;
  [chunk: `p${number}`]: Uint8Array;
}

/**
 * The container holding overflow payloads of a dead-letter table: the table name in lower case (Table names are
 * letters and digits starting with a letter, so this is always a valid container name).
 * @param tableName - the dead-letter table
 */
export function deadLetterContainerName(tableName: string): string {
  return tableName.toLowerCase();
}

/**
 * Opens the dead-letter store of a Storage connection (`DeadLetterStorage`).
 * @param connection - the connection
 * @param tableName - `DeadLetterTableName`
 * @param options - credential, retries, concurrency and timeout
 */
export function openTableDeadLetterStore(
  connection: StorageConnection,
  tableName: string,
  options: StorageClientOptions & Pick<TableDeadLetterStoreOptions, 'concurrency' | 'timeoutMs'> = {},
): DeadLetterStore {
  return createTableDeadLetterStore({
    ...options,
    table: createTableClient(connection, tableName, options),
    overflow: createContainerClient(connection, deadLetterContainerName(tableName), options),
  });
}

/**
 * Creates the store over existing clients.
 * @param options - clients, concurrency and timeout
 */
export function createTableDeadLetterStore(options: TableDeadLetterStoreOptions): DeadLetterStore {
  const { table, overflow } = options;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const timeoutMs = options.timeoutMs ?? 30_000;
  // A deadline per operation (retries included), as an abort signal rather than the SDK's `requestOptions.timeout`:
  // the latter leaves its timer running after a failed connection, which keeps a CLI or test process alive.
  const deadline = (): { abortSignal: AbortSignal } => ({ abortSignal: AbortSignal.timeout(timeoutMs) });
  const ensureTable = once(() => table.createTable(deadline()));
  const ensureContainer = once(async () => {
    await overflow.createIfNotExists(deadline());
  });

  const write = async (entry: DeadLetterEntry): Promise<void> => {
    const partitionKey = partitionKeyOf(entry.stage, entry.id);
    const payload = Buffer.from(JSON.stringify(entry.payload), 'utf8');
    const row: Partial<Row> & Record<string, unknown> = encodeColumns(entry, payload.length);
    if (payload.length > MAX_INLINE_PAYLOAD_BYTES) {
      const blobName = `${partitionKey}/${entry.id}.json`;
      await ensureContainer();
      await overflow.getBlockBlobClient(blobName).uploadData(payload, {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        ...deadline(),
      });
      row.payloadBlob = blobName;
    } else {
      const chunks = Math.ceil(payload.length / CHUNK_BYTES);
      row.payloadChunks = chunks;
      for (let i = 0; i < chunks; i++) {
        row[`p${i}`] = payload.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
      }
    }
    // Replace, not merge: a shorter payload must not keep the previous entry's extra chunks.
    await table.upsertEntity({ partitionKey, rowKey: entry.id, ...row }, 'Replace', deadline());
  };

  const readRow = async (id: string): Promise<TableEntityResult<Row> | undefined> => {
    const day = deadLetterIdDay(id);
    if (day === undefined) {
      return undefined;
    }
    const rows = await Promise.all(
      STAGES.map(async (stage) => {
        try {
          return await table.getEntity<Row>(`${stage}-${day}`, id, deadline());
        } catch (error) {
          if (isStorageNotFound(error)) {
            return undefined;
          }
          throw error;
        }
      }),
    );
    return rows.find((r) => r !== undefined);
  };

  return {
    async put(entries) {
      if (entries.length === 0) {
        return;
      }
      try {
        await ensureTable();
        await forEachLimit(entries, concurrency, write);
      } catch (error) {
        throw toStorageError(error, 'dead-letter put');
      }
    },

    async list(filter: DeadLetterFilter = {}) {
      const limit = deadLetterLimit(filter);
      const conditions: string[] = [];
      if (filter.stage !== undefined) {
        conditions.push(odata`PartitionKey ge ${`${filter.stage}-`} and PartitionKey lt ${`${filter.stage}.`}`);
      }
      if (filter.since !== undefined) {
        conditions.push(odata`createdAt ge ${new Date(deadLetterSince(filter.since))}`);
      }
      if (filter.errorType !== undefined) {
        conditions.push(odata`(errorCode eq ${filter.errorType} or errorType eq ${filter.errorType})`);
      }
      let kept: DeadLetterSummary[] = [];
      try {
        const rows = table.listEntities<Row>({
          queryOptions: { ...(conditions.length ? { filter: conditions.join(' and ') } : {}), select: SUMMARY_COLUMNS },
          ...deadline(),
        });
        for await (const row of rows) {
          kept.push(decodeSummary(row));
          // Table storage cannot sort by createdAt: scan, keeping only the newest `limit` in memory.
          if (kept.length >= 2 * limit) {
            kept = orderAndLimitDeadLetters(kept, filter);
          }
        }
      } catch (error) {
        if (isStorageNotFound(error)) {
          return []; // no table yet: nothing was ever dead-lettered
        }
        throw toStorageError(error, 'dead-letter list');
      }
      return orderAndLimitDeadLetters(kept, filter);
    },

    async get(id) {
      try {
        const row = await readRow(id);
        if (row === undefined) {
          return undefined;
        }
        const bytes =
          row.payloadBlob !== undefined
            ? await overflow.getBlobClient(row.payloadBlob).downloadToBuffer(undefined, undefined, deadline())
            : Buffer.concat(Array.from({ length: row.payloadChunks ?? 0 }, (_, i) => chunkOf(row, i)));
        return { ...decodeSummaryFields(row), payload: JSON.parse(bytes.toString('utf8')) as DeadLetterPayload };
      } catch (error) {
        throw toStorageError(error, 'dead-letter get');
      }
    },

    async remove(ids) {
      let removed = 0;
      try {
        await forEachLimit([...new Set(ids)], concurrency, async (id) => {
          const row = await readRow(id);
          if (row === undefined) {
            return;
          }
          try {
            await table.deleteEntity(row.partitionKey ?? partitionKeyOf(row.stage, id), id, deadline());
            removed++;
          } catch (error) {
            if (!isStorageNotFound(error)) {
              throw error; // a concurrent remove of the same entry is fine
            }
          }
          if (row.payloadBlob !== undefined) {
            await overflow.getBlobClient(row.payloadBlob).deleteIfExists(deadline());
          }
        });
      } catch (error) {
        throw toStorageError(error, 'dead-letter remove');
      }
      return removed;
    },

    async ping() {
      try {
        await table
          .listEntities({
            queryOptions: { filter: odata`PartitionKey eq ${'ping'}`, select: ['PartitionKey'] },
            ...deadline(),
          })
          .byPage({ maxPageSize: 1 })
          .next();
      } catch (error) {
        if (!isStorageNotFound(error)) {
          throw toStorageError(error, 'dead-letter ping');
        }
      }
    },
  };
}

function partitionKeyOf(stage: DeadLetterStage, id: string): string {
  const day = deadLetterIdDay(id);
  if (day === undefined) {
    // Ids come from eventDeadLetterId/groupDeadLetterId; anything else is a bug in the caller.
    throw new PipelineError(
      ErrorCode.Internal,
      `dead-letter id ${JSON.stringify(id.slice(0, 80))} is not a dead-letter id`,
    );
  }
  return `${stage}-${day}`;
}

function encodeColumns(entry: DeadLetterEntry, payloadBytes: number): Partial<Row> & Record<string, unknown> {
  return {
    v: SCHEMA_VERSION,
    stage: entry.stage,
    errorCode: entry.error.code,
    errorType: entry.error.medtechErrorType,
    error: fitError(entry.error),
    ...(entry.partitionId === undefined ? {} : { partitionId: entry.partitionId }),
    ...(entry.sequenceNumber === undefined
      ? {}
      : { sequenceNumber: { value: String(entry.sequenceNumber), type: 'Int64' as const } }),
    ...(entry.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: entry.enqueuedTimeUtc }),
    mappingVersion: entry.mappingVersion,
    createdAt: new Date(Date.parse(entry.createdAt)),
    attempts: entry.attempts,
    payloadKind: entry.payload.kind,
    payloadBytes,
  };
}

/** The error as JSON text, cut down (details first, then the message) if it would not fit its column. */
function fitError(error: PipelineErrorJson): string {
  const full = JSON.stringify(error);
  if (full.length <= MAX_ERROR_CHARS) {
    return full;
  }
  const slim = { ...error, details: { truncated: true } };
  const text = JSON.stringify(slim);
  return text.length <= MAX_ERROR_CHARS
    ? text
    : JSON.stringify({ ...slim, message: `${error.message.slice(0, MAX_ERROR_CHARS / 2)}...` });
}

function decodeSummary(row: TableEntityResult<Row>): DeadLetterSummary {
  return { ...decodeSummaryFields(row), payloadKind: row.payloadKind };
}

function decodeSummaryFields(row: TableEntityResult<Row>): Omit<DeadLetterEntry, 'payload'> {
  if (row.v !== SCHEMA_VERSION) {
    throw new PipelineError(
      ErrorCode.Internal,
      `dead-letter row has schema version ${String(row.v)}; this version reads ${SCHEMA_VERSION}`,
    );
  }
  const sequenceNumber = row.sequenceNumber;
  return {
    id: row.rowKey ?? '',
    stage: row.stage,
    error: JSON.parse(row.error) as PipelineErrorJson,
    ...(row.partitionId === undefined ? {} : { partitionId: row.partitionId }),
    ...(sequenceNumber === undefined
      ? {}
      : { sequenceNumber: Number(typeof sequenceNumber === 'object' ? sequenceNumber.value : sequenceNumber) }),
    ...(row.enqueuedTimeUtc === undefined ? {} : { enqueuedTimeUtc: row.enqueuedTimeUtc }),
    mappingVersion: row.mappingVersion,
    createdAt: new Date(row.createdAt).toISOString(),
    attempts: row.attempts,
  };
}

function chunkOf(row: TableEntityResult<Row>, i: number): Uint8Array {
  const chunk = row[`p${i}`];
  if (chunk === undefined) {
    throw new PipelineError(ErrorCode.Internal, `dead-letter row ${row.rowKey ?? ''} lacks payload chunk p${i}`);
  }
  return chunk;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Runs `fn` once; a failure is not cached, so the next call tries again. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= fn().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
