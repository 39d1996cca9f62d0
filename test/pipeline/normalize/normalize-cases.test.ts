import type { Measurement } from '../../../src/pipeline';
import { createNormalizer, loadDeviceMapping } from '../../../src/pipeline';
import { toFileEvent } from '../../../src/local/cli/events-file';
import { loadCases } from '../../helpers/cases';

interface NormalizeCase {
  name: string;
  mapping?: unknown;
  template?: unknown;
  events: unknown[];
  expect:
    | {
        measurements: (Omit<Measurement, 'ingestionTimeUtc'> & { ingestionTimeUtc?: string })[];
        errors?: { event: number; code: string; medtechErrorType?: string; message?: string }[];
      }
    | { loadError: { code: string; message?: string } };
}

const DEFAULT_ENQUEUED = '2024-01-01T00:00:00.0000000Z';
const clock = (): number => Date.parse('2030-01-01T00:00:00Z');

describe.each(loadCases<NormalizeCase>('normalize').map((c) => [`${c.file}: ${c.name}`, c.body] as const))(
  '%s',
  (_, c) => {
    it('normalizes as MedTech does', async () => {
      const mapping = c.mapping ?? { templateType: 'CollectionContent', template: [c.template] };
      const loaded = loadDeviceMapping(JSON.stringify(mapping));
      if ('loadError' in c.expect) {
        expect(loaded.mapping).toBeUndefined();
        expect(loaded.issues).toContainEqual(expect.objectContaining(c.expect.loadError));
        return;
      }
      expect(loaded.issues).toEqual([]);
      const normalizer = createNormalizer(loaded.mapping!, clock);
      const measurements: Measurement[] = [];
      const errors: { event: number; code: string; medtechErrorType: string; message: string }[] = [];
      for (const [index, entry] of c.events.entries()) {
        const withTime = { enqueuedTimeUtc: DEFAULT_ENQUEUED, ...(entry as object) };
        const result = await normalizer.normalize(toFileEvent(withTime, index, 'case').event);
        measurements.push(...result.measurements);
        if (result.error) {
          errors.push({
            event: index,
            code: result.error.code,
            medtechErrorType: result.error.medtechErrorType,
            message: result.error.message,
          });
        }
      }
      expect(measurements).toEqual(c.expect.measurements.map((m) => ({ ingestionTimeUtc: DEFAULT_ENQUEUED, ...m })));
      expect(errors).toEqual((c.expect.errors ?? []).map((e) => expect.objectContaining(e)));
    });
  },
);
