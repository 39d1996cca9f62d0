import { type LogFields, type Logger, type LogLevel, pickLogFields } from '../../pipeline';

/** Options of {@link createConsoleLogger}. */
export interface ConsoleLoggerOptions {
  /** The lowest level written. Default `info`. */
  readonly minLevel?: LogLevel;
  /** Where lines go. Default: `console.debug/info/warn/error`, which the Functions host captures per level. */
  readonly write?: (level: LogLevel, line: string) => void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

const consoleWrite = (level: LogLevel, line: string): void => {
  console[level](line);
};

/**
 * A logger writing one JSON object per line: `{"level","message",...fields}`. Only allowed fields are written
 * (see {@link pickLogFields}), so it is safe wherever console output is collected.
 * @param options - level threshold and output
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = RANK[options.minLevel ?? 'info'];
  const write = options.write ?? consoleWrite;
  const log =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (RANK[level] >= min) {
        write(level, JSON.stringify({ level, message, ...pickLogFields(fields) }));
      }
    };
  return Object.freeze({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
}
