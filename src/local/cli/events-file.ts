import { readFileSync } from 'node:fs';

import type { FileEvent } from '../../adapters/events/event-entry';
import { toFileEvent } from '../../adapters/events/event-entry';

export type { EventsFileEntry, FileEvent } from '../../adapters/events/event-entry';
export { toFileEvent } from '../../adapters/events/event-entry';

/**
 * Reads an events file: a JSON array of entries, or JSON lines (one entry per line, for `.jsonl` recordings).
 * Throws an Error naming the entry at fault.
 *
 * @param path - the file
 */
export function readEventsFile(path: string): FileEvent[] {
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  let entries: unknown[];
  if (path.toLowerCase().endsWith('.jsonl') || !text.trimStart().startsWith('[')) {
    entries = text
      .split(/\r?\n/)
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => line.trim() !== '')
      .map(({ line, i }) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          throw new Error(`${path}:${i + 1}: not a JSON object`);
        }
      });
  } else {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) {
      throw new Error(`${path}: expected a JSON array of events`);
    }
    entries = parsed;
  }
  return entries.map((entry, index) => toFileEvent(entry, index, path));
}
