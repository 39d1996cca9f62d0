/**
 * The test Newtonsoft.Json 13's `JsonTextReader` applies to every string value it reads with the default
 * `DateParseHandling.DateTime` and `DateTimeZoneHandling.RoundtripKind` (`DateTimeUtils.TryParseDateTime` over a
 * `StringReference`, then `DateTimeParser.Parse`). Strings that pass become date tokens in MedTech's envelope Body
 * (medtech-reference §2); this module decides which ones, and what instant they hold.
 *
 * Grammar (from `DateTimeParser`), only tried when the string is 19–40 characters long, starts with a digit and has
 * `T` at index 10:
 *
 *     yyyy-MM-ddTHH:mm:ss [ . 1–7 digits (further digits end the fraction) ] [ zone ]
 *     zone := Z | z | (+|-) hh [ [:] mm ] | [:] mm        (hh, mm: two digits, 00–99 each, not range-checked)
 *
 * Hour 24 is accepted when minutes, seconds and fraction are zero (the next day's midnight). The zone grammar is
 * the reader's own, quirks included: `2024-01-01T00:00:0012` (two digits after the seconds, no sign) is accepted as
 * a zone-less date, and so is an 8th/9th fraction digit pair. `Z` gives kind `utc`; an offset is converted to the
 * instant and labelled `local` (`ToLocalTime()` on a UTC host), clamped to `DateTime.MinValue/MaxValue` like
 * Newtonsoft does; no zone gives `unspecified`.
 *
 * Also `/Date(ms)/` (kind `utc`) and `/Date(ms±hh[mm])/` (kind `local`; the offset only labels, the milliseconds are
 * already UTC), as `TryParseMicrosoftDate` reads them.
 */

import {
  MAX_EPOCH_MS,
  MIN_EPOCH_MS,
  TICKS_PER_MS,
  civilToEpochMs,
  daysInMonth,
  instantFromEpochMs,
  type Instant,
} from './instant';

const CH_0 = 48;
const CH_T = 84;
const CH_SLASH = 47;

const MAX_INSTANT: Instant = { epochMs: MAX_EPOCH_MS, subMsTicks: TICKS_PER_MS - 1, kind: 'local' };
const MIN_INSTANT: Instant = { epochMs: MIN_EPOCH_MS, subMsTicks: 0, kind: 'local' };

/** Two ASCII digits at `i` (and `i + 1 < end`), or -1. */
function twoDigits(s: string, i: number, end: number): number {
  if (i + 1 >= end) {
    return -1;
  }
  const a = s.charCodeAt(i) - CH_0;
  const b = s.charCodeAt(i + 1) - CH_0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Newtonsoft's reading of a string value: the instant of a date token, or `undefined` when the string stays a
 * string. Cheap for ordinary strings: length, first character and index 10 are checked before anything else.
 *
 * @param s - a string value from a message body
 */
export function parseNewtonsoftDate(s: string): Instant | undefined {
  const length = s.length;
  if (length < 9) {
    return undefined;
  }
  const first = s.charCodeAt(0);
  if (first === CH_SLASH) {
    return parseMicrosoftDate(s);
  }
  // `char.IsDigit` would also admit other Unicode decimal digits, but the parser below needs ASCII ones anyway.
  if (length < 19 || length > 40 || first < CH_0 || first > CH_0 + 9 || s.charCodeAt(10) !== CH_T) {
    return undefined;
  }
  return parseIso(s, length);
}

interface IsoFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** `ParseDate` + the fixed part of `ParseTime`: `yyyy-MM-ddTHH:mm:ss` with a valid date and hour ≤ 24. */
function parseIsoFields(s: string, end: number): IsoFields | undefined {
  const y1 = twoDigits(s, 0, end);
  const y2 = twoDigits(s, 2, end);
  const month = twoDigits(s, 5, end);
  const day = twoDigits(s, 8, end);
  if (y1 < 0 || y2 < 0 || s[4] !== '-' || s[7] !== '-' || month < 1 || month > 12 || day < 1) {
    return undefined;
  }
  const year = y1 * 100 + y2;
  if (year < 1 || day > daysInMonth(year, month)) {
    return undefined;
  }
  const hour = twoDigits(s, 11, end);
  const minute = twoDigits(s, 14, end);
  const second = twoDigits(s, 17, end);
  const timeOk =
    hour >= 0 && hour <= 24 && s[13] === ':' && minute >= 0 && minute <= 59 && s[16] === ':' && second >= 0;
  // Hour 24 only as the next day's midnight.
  if (!timeOk || second > 59 || (hour === 24 && (minute !== 0 || second !== 0))) {
    return undefined;
  }
  return { year, month, day, hour, minute, second };
}

/** Zone of `DateTimeParser.ParseZone`, or undefined when characters remain. */
interface IsoZone {
  kind: 'none' | 'utc' | 'west' | 'east';
  minutes: number;
}

function parseIsoZone(s: string, start: number, end: number): IsoZone | undefined {
  let i = start;
  const zone: IsoZone = { kind: 'none', minutes: 0 };
  if (i < end) {
    const ch = s[i];
    if (ch === 'Z' || ch === 'z') {
      zone.kind = 'utc';
      i++;
    } else {
      let hours = 0;
      if (i + 2 < end) {
        const h = twoDigits(s, i + 1, end);
        if (h >= 0 && (ch === '-' || ch === '+')) {
          zone.kind = ch === '-' ? 'west' : 'east';
          hours = h;
          i += 3;
        }
      }
      // Minutes are read with or without a sign before them; without one they are ignored.
      if (i < end) {
        if (s[i] === ':') {
          i++;
        }
        const m = twoDigits(s, i, end);
        if (m >= 0) {
          zone.minutes = m;
          i += 2;
        }
      }
      zone.minutes += hours * 60;
    }
  }
  return i === end ? zone : undefined;
}

function parseIso(s: string, end: number): Instant | undefined {
  const f = parseIsoFields(s, end);
  if (f === undefined) {
    return undefined;
  }
  let i = 19;
  let fraction = 0;
  if (s[i] === '.') {
    let digits = 0;
    // Mirrors `while (++start < _end && numberOfDigits < 7)`: at most 7 digits; `i` ends on the first character after.
    while (++i < end && digits < 7) {
      const d = s.charCodeAt(i) - CH_0;
      if (d < 0 || d > 9) {
        break;
      }
      fraction = fraction * 10 + d;
      digits++;
    }
    if (digits === 0) {
      return undefined;
    }
    fraction *= 10 ** (7 - digits);
    if (f.hour === 24 && fraction !== 0) {
      return undefined;
    }
  }
  const zone = parseIsoZone(s, i, end);
  if (zone === undefined) {
    return undefined;
  }
  // `CreateDateTime`: the civil time plus the fraction, plus one day for hour 24.
  const nextDay = f.hour === 24 ? 86_400_000 : 0;
  let epochMs = civilToEpochMs(f.year, f.month, f.day, f.hour % 24, f.minute, f.second) + nextDay;
  if (epochMs > MAX_EPOCH_MS) {
    return undefined; // .NET's AddDays throws; the string cannot become a date token.
  }
  const fractionMs = Math.floor(fraction / TICKS_PER_MS);
  epochMs += fractionMs;
  const subMsTicks = fraction - fractionMs * TICKS_PER_MS;
  switch (zone.kind) {
    case 'none':
      return { epochMs, subMsTicks, kind: 'unspecified' };
    case 'utc':
      return { epochMs, subMsTicks, kind: 'utc' };
    case 'west':
    case 'east': {
      const offsetMs = zone.minutes * 60_000;
      const shifted = zone.kind === 'west' ? epochMs + offsetMs : epochMs - offsetMs;
      if (shifted > MAX_EPOCH_MS) {
        return MAX_INSTANT;
      }
      if (shifted < MIN_EPOCH_MS) {
        return MIN_INSTANT;
      }
      return { epochMs: shifted, subMsTicks, kind: 'local' };
    }
  }
}

/** `Int64TryParse` / `Int32TryParse` over a slice: optional `-`, then ASCII digits only; undefined when invalid. */
function parseSignedDigits(s: string, start: number, end: number, maxDigits: number): number | undefined {
  let i = start;
  const negative = s[i] === '-';
  if (negative) {
    i++;
  }
  if (i >= end || end - i > maxDigits) {
    return undefined;
  }
  let value = 0;
  for (; i < end; i++) {
    const d = s.charCodeAt(i) - CH_0;
    if (d < 0 || d > 9) {
      return undefined;
    }
    value = value * 10 + d;
  }
  return negative ? -value : value;
}

function parseMicrosoftDate(s: string): Instant | undefined {
  if (!s.startsWith('/Date(') || !s.endsWith(')/')) {
    return undefined;
  }
  const length = s.length;
  // An offset sign is searched from index 7 (a sign at 6 belongs to the milliseconds) up to the closing `)`.
  let index = s.indexOf('+', 7);
  if (index === -1 || index > length - 2) {
    index = s.indexOf('-', 7);
    if (index > length - 2) {
      index = -1;
    }
  }
  let kind: Instant['kind'] = 'utc';
  if (index !== -1) {
    kind = 'local';
    // `TryReadOffset`: two hour digits (Int32TryParse, a sign is tolerated), then two minute digits when at least six
    // characters remain. Trailing characters before `)/` are not checked.
    if (parseSignedDigits(s, index + 1, index + 3, 2) === undefined || index + 3 > length) {
      return undefined;
    }
    if (length - index > 5 && parseSignedDigits(s, index + 3, index + 5, 2) === undefined) {
      return undefined;
    }
  } else {
    index = length - 2;
  }
  // 19 digits may overflow Int64 in .NET; any such value is far outside the DateTime range anyway.
  const ms = parseSignedDigits(s, 6, index, 19);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < MIN_EPOCH_MS || ms > MAX_EPOCH_MS) {
    return undefined;
  }
  return instantFromEpochMs(ms, kind);
}
