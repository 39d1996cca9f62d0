import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';

/** The snapshot's file name inside the data directory. */
export const SNAPSHOT_FILE_NAME = 'fhir-snapshot.json';

/** Bytes gathered before each write while streaming a snapshot out. */
const CHUNK_BYTES = 1 << 20;

/**
 * Reads `<dataDir>/fhir-snapshot.json`: a FHIR `collection` Bundle of the current version of every resource.
 * @param dataDir - the data directory
 * @returns the resources, or `undefined` when there is no snapshot yet
 * @throws Error when the file exists but is not a snapshot (never silently start empty over someone's data)
 */
export async function readSnapshot(dataDir: string): Promise<Resource[] | undefined> {
  const file = path.join(dataDir, SNAPSHOT_FILE_NAME);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  let bundle: unknown;
  try {
    bundle = JSON.parse(text);
  } catch (error) {
    throw new Error(`FHIR snapshot ${file} is not valid JSON; move it away to start empty`, { cause: error });
  }
  const entries = (bundle as { resourceType?: unknown; entry?: unknown }).entry ?? [];
  if ((bundle as { resourceType?: unknown }).resourceType !== 'Bundle' || !Array.isArray(entries)) {
    throw new Error(`FHIR snapshot ${file} is not a FHIR Bundle; move it away to start empty`);
  }
  return entries.map((entry: { resource?: Resource } | undefined, i) => {
    const resource = entry?.resource;
    if (typeof resource?.resourceType !== 'string' || typeof resource.id !== 'string') {
      throw new Error(`FHIR snapshot ${file}: entry ${i} has no resource with a type and an id`);
    }
    return resource;
  });
}

/**
 * Writes the snapshot atomically: streams the resources into a temporary file next to the snapshot, flushes it to
 * disk, then renames it over the old one, so a crash leaves either the old or the new snapshot, never half of one.
 * One resource per line keeps the file diffable and lets it be written without building one giant string.
 * @param dataDir - the data directory (created when missing)
 * @param resources - the resources to write; they are only read
 */
export async function writeSnapshot(dataDir: string, resources: Iterable<Resource>): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, SNAPSHOT_FILE_NAME);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    let chunk = '{"resourceType":"Bundle","type":"collection","entry":[';
    let separator = '\n';
    for (const resource of resources) {
      chunk += `${separator}{"resource":${JSON.stringify(resource)}}`;
      separator = ',\n';
      if (chunk.length >= CHUNK_BYTES) {
        await handle.write(chunk);
        chunk = '';
      }
    }
    await handle.write(`${chunk}\n]}\n`);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, file);
}
