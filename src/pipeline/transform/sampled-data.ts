/**
 * SampledData encoding and merging exactly as MedTech's `SampledDataProcessor` does it (medtech-reference §9.6,
 * §9.7): one token per `period` milliseconds from the window start while the slot start is within the window, the
 * last value of each slot, `E` for empty slots, tokens joined by single spaces with trailing white space trimmed.
 * Values are inserted verbatim.
 */
import { addMilliseconds, compareInstants, MAX_EPOCH_MS, type Instant } from '../convert/instant';

/** One value of a measurement property at its occurrence time. */
export interface TimedValue {
  readonly time: Instant;
  readonly value: string;
}

/**
 * The most slots a SampledData is encoded with: about 2–8 MB of `data`, more than an Azure Health Data Services
 * resource may hold, and room for an hour of 250 Hz samples (900,000 slots).
 */
export const MAX_SAMPLED_DATA_SLOTS = 1_000_000;

/** The token MedTech writes for a slot without a value. */
export const EMPTY_SLOT = 'E';

/**
 * Encodes time-sorted values into a SampledData `data` string over `[start, end]`.
 * @param values - values sorted by time
 * @param start - the first slot's start
 * @param end - the last instant a slot may start at (inclusive)
 * @param periodMs - slot length in milliseconds (> 0)
 */
export function buildSampledData(
  values: readonly TimedValue[],
  start: Instant,
  end: Instant,
  periodMs: number,
): string {
  // Near the end of the .NET range the instant arithmetic reports the overflow as MedTech would.
  if (!Number.isInteger(periodMs) || periodMs <= 0 || end.epochMs + 2 * periodMs > MAX_EPOCH_MS) {
    return buildSampledDataByInstants(values, start, end, periodMs);
  }
  // Whole-millisecond slots: slot k starts at start + k·period with start's sub-millisecond ticks, so slot bounds are
  // plain numbers and no instant is made per slot.
  const ticks = start.subMsTicks;
  let out = '';
  let i = 0;
  for (let slot = start.epochMs; slot < end.epochMs || (slot === end.epochMs && ticks <= end.subMsTicks);) {
    const next = slot + periodMs;
    let value: string | undefined;
    // Like MedTech, a value earlier than the current slot stops consumption; callers never pass one (the encoded
    // range always starts at or before the earliest value).
    for (
      let v = values[i];
      v !== undefined && compareToSlot(v.time, slot, ticks) >= 0 && compareToSlot(v.time, next, ticks) < 0;
      v = values[i]
    ) {
      value = v.value;
      i++;
    }
    out += (value ?? EMPTY_SLOT) + ' ';
    slot = next;
  }
  return trimEndDotNet(out);
}

/** {@link compareInstants} of an instant and the slot bound `(epochMs, ticks)`. */
function compareToSlot(time: Instant, epochMs: number, ticks: number): number {
  return time.epochMs !== epochMs ? time.epochMs - epochMs : time.subMsTicks - ticks;
}

/** {@link buildSampledData} by instant arithmetic, for fractional periods and the edge of the .NET range. */
function buildSampledDataByInstants(
  values: readonly TimedValue[],
  start: Instant,
  end: Instant,
  periodMs: number,
): string {
  let out = '';
  let i = 0;
  let current = start;
  let next = addMilliseconds(current, periodMs);
  while (compareInstants(current, end) <= 0) {
    let value: string | undefined;
    for (
      let v = values[i];
      v !== undefined && compareInstants(v.time, current) >= 0 && compareInstants(v.time, next) < 0;
      v = values[i]
    ) {
      value = v.value;
      i++;
    }
    out += (value ?? EMPTY_SLOT) + ' ';
    current = next;
    next = addMilliseconds(next, periodMs);
  }
  return trimEndDotNet(out);
}

/**
 * Decodes a SampledData `data` string laid out from `start` with `periodMs` slots; `E` tokens are dropped, every
 * other token (even an empty one between two spaces) is a value.
 * @param data - the existing `data`
 * @param start - the time of the first token
 * @param periodMs - slot length in milliseconds
 */
export function sampledDataToTimeValues(data: string, start: Instant, periodMs: number): TimedValue[] {
  const out: TimedValue[] = [];
  const tokens = data.split(' ');
  if (!Number.isInteger(periodMs) || periodMs <= 0 || start.epochMs + tokens.length * periodMs > MAX_EPOCH_MS) {
    let time = start;
    for (const token of tokens) {
      if (token !== EMPTY_SLOT) {
        out.push({ time, value: token });
      }
      time = addMilliseconds(time, periodMs);
    }
    return out;
  }
  // Whole-millisecond slots within range: an instant is made only for the slots that hold a value.
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k] as string;
    if (token !== EMPTY_SLOT) {
      out.push({
        time: { epochMs: start.epochMs + k * periodMs, subMsTicks: start.subMsTicks, kind: start.kind },
        value: token,
      });
    }
  }
  return out;
}

/**
 * Merges two time-sorted value lists by time. At exactly equal times the incoming value wins (see
 * docs/compatibility.md: MedTech's code keeps the stored value there, its documentation says new data wins).
 * @param existing - values decoded from the stored Observation
 * @param incoming - the window's new values
 */
export function mergeTimeValues(existing: readonly TimedValue[], incoming: readonly TimedValue[]): TimedValue[] {
  const out: TimedValue[] = [];
  let a = 0;
  let b = 0;
  while (a < existing.length || b < incoming.length) {
    const x = existing[a];
    const y = incoming[b];
    if (x === undefined) {
      out.push(y as TimedValue);
      b++;
    } else if (y === undefined) {
      out.push(x);
      a++;
    } else {
      const order = compareInstants(x.time, y.time);
      if (order < 0) {
        out.push(x);
        a++;
      } else if (order > 0) {
        out.push(y);
        b++;
      } else {
        out.push(y);
        a++;
        b++;
      }
    }
  }
  return out;
}

/** `String.TrimEnd()`: .NET white space (Unicode Zs/Zl/Zp, U+0009–U+000D, U+0085), not JavaScript's `\s`. */
function trimEndDotNet(s: string): string {
  let end = s.length;
  while (end > 0 && isDotNetWhiteSpace(s.charCodeAt(end - 1))) {
    end--;
  }
  return s.slice(0, end);
}

function isDotNetWhiteSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}
