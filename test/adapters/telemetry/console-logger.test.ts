import { createConsoleLogger } from '../../../src/adapters/telemetry/console-logger';
import type { LogFields, LogLevel } from '../../../src/pipeline/logger';

function capture(minLevel?: LogLevel): { lines: [LogLevel, string][]; logger: ReturnType<typeof createConsoleLogger> } {
  const lines: [LogLevel, string][] = [];
  const logger = createConsoleLogger({
    ...(minLevel ? { minLevel } : {}),
    write: (level, line) => lines.push([level, line]),
  });
  return { lines, logger };
}

describe('createConsoleLogger', () => {
  it('writes one JSON object per entry with the allowed fields', () => {
    const { lines, logger } = capture();
    logger.warn('normalization failed', { code: 'X', partition: '3', sequenceNumber: 7 });
    expect(lines).toEqual([
      ['warn', '{"level":"warn","message":"normalization failed","code":"X","partition":"3","sequenceNumber":7}'],
    ]);
  });

  it('drops fields outside the closed set', () => {
    const { lines, logger } = capture();
    logger.error('save failed', { status: 500, patientId: 'p-1' } as LogFields);
    expect(JSON.parse(lines[0]![1])).toEqual({ level: 'error', message: 'save failed', status: 500 });
  });

  it.each<[LogLevel | undefined, LogLevel[]]>([
    [undefined, ['info', 'warn', 'error']],
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['error', ['error']],
  ])('with minLevel %s writes %j', (minLevel, expected) => {
    const { lines, logger } = capture(minLevel);
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map(([level]) => level)).toEqual(expected);
  });
});
