/**
 * Invariant-culture `DateTime.Parse` (styles `None`) as MedTech applies it to timestamp strings that are not body
 * date tokens (medtech-reference §6.5): `JToken.Value<DateTime?>()` ends in `Convert.ToDateTime(string,
 * InvariantCulture)`.
 *
 * .NET's parser is a tokenizing state machine (`DateTimeParse.Lex` + `ProcessTerminalState`). This module accepts
 * the families of strings that machine accepts and that occur in device data, with the same field rules, and rejects
 * everything else:
 *
 * | family | examples | .NET path |
 * |---|---|---|
 * | ISO 8601 with `T` | `2024-07-04T09:15Z`, `2024-7-4T09:15:00.1234567+05:30`, `2024/07/04T09:15:00 -0800` | `ParseISO8601`: HH and mm exactly two digits, seconds optional, fraction only after seconds, zone `Z`/`z`/`±h[h][:m[m]]`/`±hhmm` |
 * | numeric date, year first | `2024-07-04`, `2024/7/4 09:15:00`, `2024-07-04 9:15 PM` | state `DX_YNN` (Y-M-D) |
 * | numeric date, month first | `07/04/2024 09:15:00`, `7/4/2024 9:15:00 AM`, `07/04/24` | `DX_NNY`, `DX_NNN` (invariant order M/D/Y; two-digit years 00–49 → 20xx, 50–99 → 19xx, .NET 8) |
 * | year and month | `2024-07`, `07/2024`, `Jul 2024`, `2024 July` | `DX_YN`, `DX_YM` (day 1) |
 * | month names | `10 Mar 2024`, `Mar 10, 2024`, `March 10 2024 14:00`, `2024 Mar 10`, `Sun, 10 Mar 2024 14:00:00 GMT` | `DX_YMN` |
 *
 * Times are `H:mm`, `H:mm:ss`, `H:mm:ss.f…` (any number of fraction digits, rounded half-to-even to 100 ns) or `H`
 * with AM/PM, optionally followed by AM/PM (hour ≤ 12). A day name must match the date (`Tue, 10 Mar 2024` is
 * rejected: 10 March 2024 is a Sunday). Zones are `Z`, `GMT` (any case) or an offset; the offset must lie within
 * ±14 hours. Whitespace may surround separators and the string.
 *
 * Kinds, as .NET returns them on a UTC host: any zone or offset → the instant, kind `local` (`DateTime.Parse`
 * converts to local time; this includes `Z` and `GMT`, which is why MedTech writes such timestamps with `+00:00`);
 * no zone → `unspecified` (treated as UTC).
 *
 * Rejected although .NET accepts them (documented residual doubt, medtech-reference §16.7): strings without a year
 * or without a date (.NET fills in the current date, which would make normalization depend on the clock), times
 * before dates, two-digit years next to month names, era names, `#…#` wrappers, dates separated by `.`, and other
 * rarely seen token orders of the .NET state machine.
 */

import {
  MAX_EPOCH_MS,
  MIN_EPOCH_MS,
  TICKS_PER_MS,
  civilToEpochMs,
  digitsAt,
  isValidDate,
  type Instant,
} from './instant';

type TokenKind = 'num' | 'word' | 'punct';

interface Token {
  readonly kind: TokenKind;
  /** Digits, lower-cased letters or the punctuation character. */
  readonly text: string;
  /** Numeric value of a `num` token. */
  readonly value: number;
  /** Whitespace precedes the token. */
  readonly spaced: boolean;
}

/** `char.IsWhiteSpace` for UTF-16 code units. */
export function isDotNetWhiteSpace(c: number): boolean {
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

function isAsciiDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let spaced = false;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isDotNetWhiteSpace(c)) {
      spaced = true;
      i++;
      continue;
    }
    const start = i;
    let kind: TokenKind;
    if (isAsciiDigit(c)) {
      while (i < s.length && isAsciiDigit(s.charCodeAt(i))) {
        i++;
      }
      // Runs longer than 8 digits are never date numbers in .NET; only a fraction can use them (see `num`).
      kind = 'num';
    } else if (isAsciiLetter(c)) {
      while (i < s.length && isAsciiLetter(s.charCodeAt(i))) {
        i++;
      }
      kind = 'word';
    } else {
      i++;
      kind = 'punct';
    }
    const text = kind === 'word' ? s.slice(start, i).toLowerCase() : s.slice(start, i);
    tokens.push({ kind, text, value: kind === 'num' ? Number(text) : 0, spaced });
    spaced = false;
  }
  return tokens;
}

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** 1-based month of an invariant month name or abbreviation, else 0. */
function monthOf(word: string): number {
  for (let m = 0; m < 12; m++) {
    const name = MONTHS[m] ?? '';
    if (word === name || word === name.slice(0, 3)) {
      return m + 1;
    }
  }
  return 0;
}

/** 0-based day of week (Sunday = 0) of an invariant day name or abbreviation, else -1. */
function dayOfWeekOf(word: string): number {
  for (let d = 0; d < 7; d++) {
    const name = DAYS[d] ?? '';
    if (word === name || word === name.slice(0, 3)) {
      return d;
    }
  }
  return -1;
}

/** Fields gathered while matching one string. */
interface Parsed {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction of a second as .NET's `ParseFraction` accumulates it (a double). */
  fraction: number;
  /** `am`, `pm` or empty. */
  timeMark: string;
  dayOfWeek: number;
  /** Offset in minutes east of UTC; undefined without a zone. */
  offsetMinutes: number | undefined;
}

/** A cursor over the tokens. */
class Cursor {
  readonly tokens: readonly Token[];
  pos = 0;
  /** @param tokens - the tokens to walk */
  constructor(tokens: readonly Token[]) {
    this.tokens = tokens;
  }
  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }
  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }
  /** Consumes a punctuation token among `chars`. */
  punct(chars: string): string | undefined {
    const t = this.peek();
    if (t?.kind === 'punct' && chars.includes(t.text)) {
      this.pos++;
      return t.text;
    }
    return undefined;
  }
  /** Consumes a number token whose digit count lies in [min, max]. */
  num(min: number, max: number, unspaced = false): Token | undefined {
    const t = this.peek();
    if (t?.kind === 'num' && t.text.length >= min && t.text.length <= max && !(unspaced && t.spaced)) {
      this.pos++;
      return t;
    }
    return undefined;
  }
  /** Consumes a word token equal to one of `words`. */
  word(...words: string[]): string | undefined {
    const t = this.peek();
    if (t?.kind === 'word' && words.includes(t.text)) {
      this.pos++;
      return t.text;
    }
    return undefined;
  }
  /** Skips `,` and `.` tokens, which .NET ignores between date parts. */
  skipIgnorable(): void {
    while (this.punct(',.') !== undefined) {
      // keep skipping
    }
  }
}

/** `ParseFraction`: digits after the point summed as `digit × 0.1^k` in double arithmetic, like .NET. */
function fractionOf(digits: string): number {
  let result = 0;
  let base = 0.1;
  for (let i = 0; i < digits.length; i++) {
    result += (digits.charCodeAt(i) - 48) * base;
    base *= 0.1;
  }
  return result;
}

/** `Math.Round(double)`: to nearest, ties to even. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) {
    return floor + 1;
  }
  if (diff < 0.5) {
    return floor;
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `ParseTimeZone` after its sign: `h`, `hh`, `h:m`, `hh:mm`, `hmm`, `hhmm` (no whitespace inside). */
function parseOffset(c: Cursor, sign: string): number | undefined {
  const n = c.num(1, 4, true);
  if (n === undefined) {
    return undefined;
  }
  let hours: number;
  let minutes = 0;
  if (n.text.length <= 2) {
    hours = n.value;
    const colon = c.peek();
    if (colon?.kind === 'punct' && colon.text === ':' && !colon.spaced) {
      c.pos++;
      const m = c.num(1, 2, true);
      if (m === undefined) {
        return undefined;
      }
      minutes = m.value;
    }
  } else {
    hours = Math.floor(n.value / 100);
    minutes = n.value % 100;
  }
  if (minutes >= 60) {
    return undefined;
  }
  const total = hours * 60 + minutes;
  return sign === '-' ? -total : total;
}

/** An optional zone: `Z`, `GMT` or a signed offset. Returns false on a malformed zone. */
function parseZone(c: Cursor, p: Parsed): boolean {
  if (c.word('z', 'gmt') !== undefined) {
    p.offsetMinutes = 0;
    return true;
  }
  const sign = c.punct('+-');
  if (sign === undefined) {
    return true;
  }
  const offset = parseOffset(c, sign);
  if (offset === undefined) {
    return false;
  }
  p.offsetMinutes = offset;
  return true;
}

/** The ISO path (`ParseISO8601`), entered after `Y sep M sep D` when the next token is `T`. */
function parseIsoTime(c: Cursor, p: Parsed): boolean {
  const hour = c.num(2, 2);
  if (hour === undefined || c.punct(':') === undefined) {
    return false;
  }
  const minute = c.num(2, 2);
  if (minute === undefined) {
    return false;
  }
  p.hour = hour.value;
  p.minute = minute.value;
  if (c.punct(':') !== undefined) {
    const second = c.num(2, 2);
    if (second === undefined) {
      return false;
    }
    p.second = second.value;
    const dot = c.peek();
    if (dot?.kind === 'punct' && dot.text === '.' && !dot.spaced) {
      c.pos++;
      const digits = c.num(1, Number.MAX_SAFE_INTEGER, true);
      if (digits === undefined) {
        return false;
      }
      p.fraction = fractionOf(digits.text);
    }
  }
  if (c.word('z') !== undefined) {
    p.offsetMinutes = 0;
  } else {
    const sign = c.punct('+-');
    if (sign !== undefined) {
      const offset = parseOffset(c, sign);
      if (offset === undefined) {
        return false;
      }
      p.offsetMinutes = offset;
    }
  }
  return c.atEnd();
}

/** `H:mm[:ss[.f…]]` or `H`, each followed by an optional AM/PM; false when no time starts here or it is malformed. */
function parseTime(c: Cursor, p: Parsed): boolean {
  const hour = c.num(1, 2);
  if (hour === undefined) {
    return false;
  }
  p.hour = hour.value;
  if (c.punct(':') !== undefined) {
    const minute = c.num(1, 2);
    if (minute === undefined) {
      return false;
    }
    p.minute = minute.value;
    if (c.punct(':') !== undefined) {
      const second = c.num(1, 2);
      if (second === undefined) {
        return false;
      }
      p.second = second.value;
      const dot = c.peek();
      if (dot?.kind === 'punct' && dot.text === '.' && !dot.spaced) {
        c.pos++;
        // A point without digits is dropped, as `ParseFraction` does.
        const digits = c.num(1, Number.MAX_SAFE_INTEGER, true);
        if (digits !== undefined) {
          p.fraction = fractionOf(digits.text);
        }
      }
    }
    p.timeMark = c.word('am', 'pm') ?? '';
    return true;
  }
  // A lone hour needs AM/PM (`TX_N`).
  const mark = c.word('am', 'pm');
  if (mark === undefined) {
    return false;
  }
  p.timeMark = mark;
  return true;
}

/** Date separators between numbers: `/` (the invariant date separator) and `-`. */
const NUMERIC_DATE_SEPARATORS = '/-';

/**
 * A numeric date: `Y-M-D`, `M/D/Y`, `M/D/YY`, or (at the end of the string) `Y-M` / `M/Y`. Leaves the cursor after
 * the date; false when no numeric date starts here.
 */
function parseNumericDate(c: Cursor, p: Parsed): boolean {
  const first = c.num(1, 8);
  if (first === undefined || c.punct(NUMERIC_DATE_SEPARATORS) === undefined) {
    return false;
  }
  const second = c.num(1, 8);
  if (second === undefined) {
    return false;
  }
  const firstIsYear = first.text.length >= 3;
  const secondIsYear = second.text.length >= 3;
  const save = c.pos;
  const third = c.punct(NUMERIC_DATE_SEPARATORS) !== undefined ? c.num(1, 8) : undefined;
  if (third === undefined) {
    c.pos = save;
    // Year and month only (`DX_YN`): .NET reaches it only at the end of the string.
    if (firstIsYear === secondIsYear || !c.atEnd()) {
      return false;
    }
    p.year = firstIsYear ? first.value : second.value;
    p.month = firstIsYear ? second.value : first.value;
    p.day = 1;
    return true;
  }
  const thirdIsYear = third.text.length >= 3;
  if (firstIsYear && !secondIsYear && !thirdIsYear) {
    // `DX_YNN`: year, month, day.
    p.year = first.value;
    p.month = second.value;
    p.day = third.value;
    return true;
  }
  if (!firstIsYear && !secondIsYear) {
    // `DX_NNY` / `DX_NNN`: the invariant short date pattern is MM/dd/yyyy.
    p.month = first.value;
    p.day = second.value;
    // Two-digit years (`ToFourDigitYear`, TwoDigitYearMax 2049 since .NET 8).
    p.year = thirdIsYear ? third.value : third.value <= 49 ? 2000 + third.value : 1900 + third.value;
    return true;
  }
  return false;
}

/** Separators .NET lets stand around a month name. */
function skipMonthSeparators(c: Cursor): void {
  while (c.punct(',./-') !== undefined) {
    // keep skipping
  }
}

/** A date with a month name (`DX_YMN`, `DX_YM`); false when none starts here. */
function parseNamedMonthDate(c: Cursor, p: Parsed): boolean {
  const start = c.pos;
  const numbers: Token[] = [];
  let month = 0;
  // Up to three parts: the month word and at most two numbers, in any of the orders handled below.
  for (let part = 0; part < 3 && !c.atEnd(); part++) {
    const t = c.peek();
    if (t?.kind === 'word' && month === 0 && monthOf(t.text) > 0) {
      month = monthOf(t.text);
      c.pos++;
    } else if (t?.kind === 'num' && numbers.length < 2) {
      // A number followed by `:` is the start of the time, not part of the date.
      const next = c.peek(1);
      if (next?.kind === 'punct' && next.text === ':') {
        break;
      }
      numbers.push(t);
      c.pos++;
    } else {
      break;
    }
    skipMonthSeparators(c);
  }
  if (month === 0) {
    c.pos = start;
    return false;
  }
  p.month = month;
  const years = numbers.filter((n) => n.text.length >= 3);
  const days = numbers.filter((n) => n.text.length < 3);
  const year = years[0];
  if (years.length !== 1 || year === undefined || days.length > 1) {
    return false; // Two-digit years beside month names and year-less dates are not supported.
  }
  p.year = year.value;
  p.day = days[0]?.value ?? 1;
  if (days.length === 0 && !c.atEnd()) {
    return false; // `DX_YM` (Jul 2024) only ends the string.
  }
  return true;
}

function parseFields(tokens: readonly Token[]): Parsed | undefined {
  const c = new Cursor(tokens);
  const p: Parsed = {
    year: -1,
    month: -1,
    day: -1,
    hour: 0,
    minute: 0,
    second: 0,
    fraction: 0,
    timeMark: '',
    dayOfWeek: -1,
    offsetMinutes: undefined,
  };
  const dow = c.peek();
  if (dow?.kind === 'word' && dayOfWeekOf(dow.text) >= 0) {
    p.dayOfWeek = dayOfWeekOf(dow.text);
    c.pos++;
    c.skipIgnorable();
  }
  const dateStart = c.pos;
  if (!parseNumericDate(c, p)) {
    c.pos = dateStart;
    if (!parseNamedMonthDate(c, p)) {
      return undefined;
    }
  }
  const t = c.peek();
  if (t?.kind === 'word' && t.text === 't') {
    // ISO 8601: only directly after a year-first numeric date (`DS.D_YNd`).
    const first = tokens[dateStart];
    if (p.dayOfWeek >= 0 || first?.kind !== 'num' || first.text.length < 3 || c.pos - dateStart !== 5) {
      return undefined;
    }
    c.pos++;
    return parseIsoTime(c, p) ? p : undefined;
  }
  c.skipIgnorable();
  if (!c.atEnd() && c.peek()?.kind === 'num') {
    if (!parseTime(c, p)) {
      return undefined;
    }
  }
  if (!parseZone(c, p) || !c.atEnd()) {
    return undefined;
  }
  return p;
}

/**
 * The fields of the one shape nearly every device and Event Hubs timestamp has, `yyyy-MM-ddTHH:mm:ss[.f…]` with
 * an optional `Z` or `±hh:mm`, read by position without tokenizing. The fields are exactly those {@link parseFields}
 * gathers for such a string (its `DX_YNN` date and ISO time path); anything else, including odd spacing or fewer
 * time parts, gives `undefined` and takes the general path.
 */
function parseCanonicalIso(s: string): Parsed | undefined {
  const length = s.length;
  if (length < 19 || s.charCodeAt(4) !== 45 /* - */ || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 /* : */) {
    return undefined;
  }
  const t = s.charCodeAt(10);
  if ((t !== 84 /* T */ && t !== 116) /* t */ || s.charCodeAt(16) !== 58) {
    return undefined;
  }
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  const second = digitsAt(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    return undefined;
  }
  let i = 19;
  let fraction = 0;
  if (i < length && s.charCodeAt(i) === 46 /* . */) {
    const start = ++i;
    while (i < length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
      i++;
    }
    if (i === start || i - start > 9) {
      return undefined;
    }
    fraction = fractionOf(s.slice(start, i));
  }
  const offsetMinutes = i < length ? isoZoneAt(s, i) : undefined;
  if (offsetMinutes === null) {
    return undefined;
  }
  return { year, month, day, hour, minute, second, fraction, timeMark: '', dayOfWeek: -1, offsetMinutes };
}

/** The zone that ends a canonical ISO string at `i`: `Z` → 0, `±hh:mm` → minutes east of UTC; `null` otherwise. */
function isoZoneAt(s: string, i: number): number | null {
  const zone = s.charCodeAt(i);
  if (zone === 90 /* Z */ || zone === 122 /* z */) {
    return i + 1 === s.length ? 0 : null;
  }
  if ((zone !== 43 /* + */ && zone !== 45) /* - */ || i + 6 !== s.length || s.charCodeAt(i + 3) !== 58 /* : */) {
    return null;
  }
  const hours = digitsAt(s, i + 1, 2);
  const minutes = digitsAt(s, i + 4, 2);
  if (hours < 0 || minutes < 0 || minutes >= 60) {
    return null;
  }
  return zone === 45 ? -(hours * 60 + minutes) : hours * 60 + minutes;
}

const MS_PER_DAY = 86_400_000;
const MAX_OFFSET_MINUTES = 14 * 60;

/**
 * Invariant-culture `DateTime.Parse` of a timestamp string; `undefined` where .NET throws (or where this subset
 * does not follow .NET, see the module notes). Never throws.
 *
 * @param s - the string selected by the timestamp expression
 */
export function parseDotNetDateTime(s: string): Instant | undefined {
  if (s.length === 0 || s.length > 256) {
    return undefined;
  }
  let p = parseCanonicalIso(s);
  if (p === undefined) {
    const tokens = tokenize(s);
    if (tokens.length === 0) {
      return undefined;
    }
    p = parseFields(tokens);
    if (p === undefined) {
      return undefined;
    }
  }
  let hour = p.hour;
  if (p.timeMark !== '') {
    // `AdjustHour`
    if (hour > 12) {
      return undefined;
    }
    hour = p.timeMark === 'am' ? (hour === 12 ? 0 : hour) : hour === 12 ? 12 : hour + 12;
  }
  if (!isValidDate(p.year, p.month, p.day) || hour > 23 || p.minute > 59 || p.second > 59) {
    return undefined;
  }
  let epochMs = civilToEpochMs(p.year, p.month, p.day, hour, p.minute, p.second);
  let subMsTicks = 0;
  if (p.fraction > 0) {
    const ticks = roundHalfEven(p.fraction * 10_000_000);
    const ms = Math.floor(ticks / TICKS_PER_MS);
    epochMs += ms;
    subMsTicks = ticks - ms * TICKS_PER_MS;
    if (epochMs > MAX_EPOCH_MS) {
      return undefined; // AddTicks past DateTime.MaxValue throws.
    }
  }
  if (p.dayOfWeek >= 0) {
    const days = Math.floor(epochMs / MS_PER_DAY);
    // 1970-01-01 was a Thursday (4).
    if ((((days + 4) % 7) + 7) % 7 !== p.dayOfWeek) {
      return undefined;
    }
  }
  if (p.offsetMinutes === undefined) {
    return { epochMs, subMsTicks, kind: 'unspecified' };
  }
  if (Math.abs(p.offsetMinutes) > MAX_OFFSET_MINUTES) {
    return undefined;
  }
  // `AdjustTimeZoneToLocal` on a UTC host: subtract the offset; on 0001-01-01 a negative result wraps by one day.
  const isFirstDay = epochMs < MIN_EPOCH_MS + MS_PER_DAY;
  let utc = epochMs - p.offsetMinutes * 60_000;
  if (isFirstDay && utc < MIN_EPOCH_MS) {
    utc += MS_PER_DAY;
  }
  if (utc < MIN_EPOCH_MS || utc > MAX_EPOCH_MS) {
    return undefined;
  }
  return { epochMs: utc, subMsTicks, kind: 'local' };
}
