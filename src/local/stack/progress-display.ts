/**
 * Live progress on the terminal. On a TTY: one line redrawn in place (cut to the terminal's width, so it never
 * wraps), with messages printed above it. Otherwise (a pipe, a CI log): a line every `intervalMs`, and messages as
 * they come.
 */
import type { CliIo } from '../cli/io';

/** The display. */
export interface ProgressDisplay {
  /**
   * Shows the current progress.
   * @param line - one line, no line break
   */
  update(line: string): void;
  /**
   * Prints a message (above the live line on a TTY).
   * @param text - the message
   * @param stream - standard output or error
   */
  print(text: string, stream?: 'out' | 'err'): void;
  /** Ends the live line: what follows starts on a fresh line. */
  done(): void;
}

/** Options of {@link createProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Redraw in place (standard output is a terminal). */
  readonly tty: boolean;
  /** Terminal width; default 120. */
  readonly columns?: () => number | undefined;
  readonly clock: () => number;
  /** Without a TTY, the least time between two progress lines. Default 5000 ms. */
  readonly intervalMs?: number;
}

const CLEAR_LINE = '\r\x1b[2K';

/**
 * A progress display over the CLI's streams.
 * @param io - where to write
 * @param options - TTY or not, width, time
 */
export function createProgressDisplay(io: CliIo, options: ProgressDisplayOptions): ProgressDisplay {
  const intervalMs = options.intervalMs ?? 5000;
  let shown = '';
  let lastPrinted = Number.NEGATIVE_INFINITY;
  const fit = (line: string): string => {
    // A terminal that reports no width (0) gets the common default.
    const width = Math.max(20, (options.columns?.() || 120) - 1);
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  };
  return {
    update(line) {
      if (options.tty) {
        shown = fit(line);
        io.out(`${CLEAR_LINE}${shown}`);
        return;
      }
      const now = options.clock();
      if (now - lastPrinted >= intervalMs) {
        lastPrinted = now;
        io.out(`${line}\n`);
      }
    },
    print(text, stream = 'out') {
      const write = (line: string): void => {
        if (stream === 'err') {
          io.err(line);
        } else {
          io.out(line);
        }
      };
      if (options.tty && shown !== '') {
        io.out(CLEAR_LINE);
        write(`${text}\n`);
        io.out(shown);
        return;
      }
      write(`${text}\n`);
    },
    done() {
      if (options.tty && shown !== '') {
        io.out('\n');
      }
      shown = '';
    },
  };
}
