import fc from 'fast-check';

import {
  DEFAULT_INGEST_LIMITS,
  type IngestParseResult,
  parseIngestRequest,
} from '../../../src/local/stack/ingest-request';
import { arrayElementIndexAt, arrayElementSpans } from '../../../src/local/stack/json-array-split';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const JSON_TYPE = 'application/json';
const LINES = 'application/x-ndjson';

function parse(
  text: string,
  contentType: string | null = JSON_TYPE,
  options: { envelope?: boolean; partitionKey?: string } = {},
) {
  return parseIngestRequest(utf8(text), {
    contentType: contentType ?? undefined, // null: no Content-Type header
    envelope: options.envelope ?? false,
    ...(options.partitionKey === undefined ? {} : { partitionKey: options.partitionKey }),
  });
}

function events(result: IngestParseResult) {
  if (!result.ok) {
    throw new Error(`rejected: ${result.message}`);
  }
  return result.events;
}

describe('arrayElementSpans', () => {
  it('cuts each element out with its exact text', () => {
    const text = ' [ {"a": [1, {"b": "x,]}"}]} ,"s\\"]", 12345678901234567890 , 1.50, null,[] ]';
    expect(arrayElementSpans(text).map(([s, e]) => text.slice(s, e))).toEqual([
      '{"a": [1, {"b": "x,]}"}]}',
      '"s\\"]"',
      '12345678901234567890',
      '1.50',
      'null',
      '[]',
    ]);
  });

  it('finds nothing in an empty array', () => {
    expect(arrayElementSpans('[ ]')).toEqual([]);
  });

  it('every element text parses to the element (any JSON array)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), fc.boolean(), (values, pretty) => {
        const text = JSON.stringify(values, null, pretty ? 2 : undefined);
        const parts = arrayElementSpans(text).map(([s, e]) => JSON.parse(text.slice(s, e)));
        expect(parts).toEqual(JSON.parse(text));
      }),
    );
  });

  it.each([
    ['[1, 2, {"a": }]', 13, 2],
    ['[{"a": "x,y"}, {"b": tru}]', 22, 1],
    ['  [1', 3, 0],
    ['{"a": 1}', 5, undefined],
    ['   ', 2, undefined],
  ])('arrayElementIndexAt(%j, %p) is %p', (text, offset, index) => {
    expect(arrayElementIndexAt(text, offset)).toBe(index);
  });
});

describe('parseIngestRequest: forms', () => {
  it('one JSON object is one raw event, its text kept as sent', () => {
    expect(events(parse(' {"deviceId": "d1", "heartRate": 72.0} \n'))).toEqual([
      { event: { body: '{"deviceId": "d1", "heartRate": 72.0}' } },
    ]);
  });

  it('a JSON array is a batch; each element keeps its own bytes (big integers survive)', () => {
    expect(events(parse('[{"v": 12345678901234567890}, {"v": 1}]')).map((e) => e.event.body)).toEqual([
      '{"v": 12345678901234567890}',
      '{"v": 1}',
    ]);
  });

  it('JSON lines: one event per non-blank line, CRLF tolerated; a line may be an array', () => {
    const text = '{"a":1}\r\n\r\n[{"b":2},{"c":3}]\n  \n"x"\n';
    expect(events(parse(text, 'application/x-ndjson')).map((e) => e.event.body)).toEqual([
      '{"a":1}',
      '[{"b":2},{"c":3}]',
      '"x"',
    ]);
  });

  it.each([
    'application/jsonl',
    'application/ndjson',
    'application/x-jsonlines',
    'Application/X-NDJSON; charset=UTF-8',
  ])('%s is JSON lines', (type) => {
    expect(events(parse('{"a":1}\n{"a":2}', type))).toHaveLength(2);
  });

  it('the request partition key applies to every raw event', () => {
    expect(
      events(parse('[{"a":1},{"a":2}]', JSON_TYPE, { partitionKey: 'device-7' })).map((e) => e.partitionKey),
    ).toEqual(['device-7', 'device-7']);
  });
});

describe('parseIngestRequest: envelopes (?envelope=true)', () => {
  it('carries body, properties, system properties and partition key', () => {
    const envelope = {
      body: { HeartRate: 71, PatientId: 'p1' },
      properties: { 'iothub-creation-time-utc': '2026-11-28T10:00:00Z' },
      systemProperties: { 'iothub-connection-device-id': 'dev-1' },
      partitionKey: 'k1',
    };
    expect(events(parse(JSON.stringify(envelope), JSON_TYPE, { envelope: true }))).toEqual([
      {
        event: { body: envelope.body, properties: envelope.properties, systemProperties: envelope.systemProperties },
        partitionKey: 'k1',
      },
    ]);
  });

  it('bodyText is the raw body', () => {
    expect(events(parse('[{"bodyText": "hr=72"}]', JSON_TYPE, { envelope: true }))[0]!.event.body).toBe('hr=72');
  });

  it('a null body is a zero-length body', () => {
    expect(events(parse('{"body": null}', JSON_TYPE, { envelope: true }))[0]!.event).toEqual({ body: null });
  });

  it.each<[string, string | undefined, string | undefined]>([
    ['{"body":1,"partitionKey":"own","systemProperties":{"iothub-connection-device-id":"dev"}}', 'req', 'own'],
    ['{"body":1,"systemProperties":{"iothub-connection-device-id":"dev"}}', 'req', 'req'],
    ['{"body":1,"systemProperties":{"iothub-connection-device-id":"dev"}}', undefined, 'dev'],
    ['{"body":1}', undefined, undefined],
  ])('partition key of %s with ?partitionKey=%p is %p', (text, requestKey, key) => {
    const [event] = events(
      parse(text, LINES, { envelope: true, ...(requestKey === undefined ? {} : { partitionKey: requestKey }) }),
    );
    expect(event!.partitionKey).toBe(key);
  });
});

describe('parseIngestRequest: refusals name the event at fault', () => {
  it.each<[string, string, string | null, boolean, number, string, number | undefined, RegExp]>([
    [
      'malformed JSON in a batch',
      '[{"a":1}, {"b": tru}]',
      JSON_TYPE,
      false,
      400,
      'malformed',
      1,
      /^event 1 is not valid JSON \(line 1, column 17\)$/,
    ],
    [
      'a truncated batch',
      '[{"a":1},\n{"b":2',
      JSON_TYPE,
      false,
      400,
      'malformed',
      1,
      /^event 1 is not valid JSON \(line 2/,
    ],
    ['a malformed object', '{"a": x}', JSON_TYPE, false, 400, 'malformed', undefined, /^the request is not valid JSON/],
    [
      'a malformed JSON line',
      '{"a":1}\n\n{"a":\n',
      LINES,
      false,
      400,
      'malformed',
      1,
      /^event 1 \(line 3\) is not valid JSON$/,
    ],
    ['an empty body', '  ', JSON_TYPE, false, 400, 'invalid_event', undefined, /no event/],
    ['an empty batch', '[]', JSON_TYPE, false, 400, 'invalid_event', undefined, /no event/],
    ['blank JSON lines', '\n \n', LINES, false, 400, 'invalid_event', undefined, /no event/],
    ['a JSON scalar', '42', JSON_TYPE, false, 400, 'invalid_event', undefined, /one event \(an object\) or an array/],
    ['a missing content type', '{}', null, false, 415, 'unsupported_media_type', undefined, /application\/json/],
    [
      'a form post',
      'a=1',
      'application/x-www-form-urlencoded',
      false,
      415,
      'unsupported_media_type',
      undefined,
      /not application\/x-www-form-urlencoded/,
    ],
    ['text/plain', '{}', 'text/plain', false, 415, 'unsupported_media_type', undefined, /not text\/plain/],
    [
      'another charset',
      '{}',
      'application/json; charset=latin1',
      false,
      415,
      'unsupported_media_type',
      undefined,
      /utf-8/,
    ],
    [
      'an envelope that is not an object',
      '[{"body":1}, 5]',
      JSON_TYPE,
      true,
      400,
      'invalid_event',
      1,
      /^event 1: an envelope must be a JSON object/,
    ],
    [
      'an envelope without a body',
      '{"properties":{}}',
      JSON_TYPE,
      true,
      400,
      'invalid_event',
      0,
      /exactly one of 'body'/,
    ],
    [
      'an envelope with both bodies',
      '{"body":1,"bodyText":"1"}',
      JSON_TYPE,
      true,
      400,
      'invalid_event',
      0,
      /exactly one of 'body'/,
    ],
    [
      'a bodyText that is not a string',
      '{"bodyText":1}',
      JSON_TYPE,
      true,
      400,
      'invalid_event',
      0,
      /'bodyText' must be a string/,
    ],
    [
      'properties that are not an object',
      '{"body":1,"properties":[1]}',
      JSON_TYPE,
      true,
      400,
      'invalid_event',
      0,
      /'properties' must be a JSON object/,
    ],
    ['an unknown member', '{"body":1,"headers":{}}', LINES, true, 400, 'invalid_event', 0, /unknown member 'headers'/],
    [
      'an enqueued time',
      '{"body":1,"enqueuedTimeUtc":"2026-01-01T00:00:00Z"}',
      LINES,
      true,
      400,
      'invalid_event',
      0,
      /set by the endpoint.*iomt replay/,
    ],
    [
      'a partition key too long',
      `{"body":1,"partitionKey":"${'k'.repeat(129)}"}`,
      LINES,
      true,
      400,
      'invalid_event',
      0,
      /1 to 128 characters/,
    ],
  ])('%s', (_name, text, contentType, envelope, status, reason, index, message) => {
    const result = parse(text, contentType, { envelope });
    expect(result).toMatchObject({ ok: false, status, reason });
    expect(result.ok ? undefined : result.index).toBe(index);
    expect(result.ok ? '' : result.message).toMatch(message);
  });

  it('never echoes event content in a message', () => {
    const result = parse('[{"patientId": "Jane Doe", "x": secret}]');
    expect(result.ok ? '' : result.message).not.toMatch(/Jane|secret/);
  });

  it('bytes that are not UTF-8', () => {
    expect(
      parseIngestRequest(Uint8Array.from([0x7b, 0xff, 0x7d]), { contentType: JSON_TYPE, envelope: false }),
    ).toMatchObject({
      status: 400,
      reason: 'malformed',
      message: 'the request body is not UTF-8',
    });
  });

  it('a request partition key that is empty', () => {
    expect(parse('{}', JSON_TYPE, { partitionKey: '' })).toMatchObject({ status: 400 });
  });

  it('limits: request size, event count, event size (naming the event)', () => {
    const limits = { maxRequestBytes: 100, maxEvents: 2, maxEventBytes: 20 };
    const info = { contentType: JSON_TYPE, envelope: false };
    expect(parseIngestRequest(utf8(`[${'1,'.repeat(60)}1]`), info, limits)).toMatchObject({
      status: 413,
      reason: 'too_large',
    });
    expect(parseIngestRequest(utf8('[1,2,3]'), info, limits)).toMatchObject({
      status: 413,
      reason: 'too_many_events',
      message: '3 events in one request; at most 2',
    });
    expect(parseIngestRequest(utf8('[1, "a string longer than 20 bytes"]'), info, limits)).toMatchObject({
      status: 413,
      reason: 'too_large',
      index: 1,
      message: 'event 1 is larger than 20 bytes',
    });
    expect(DEFAULT_INGEST_LIMITS.maxEventBytes).toBe(1_048_576);
  });
});
