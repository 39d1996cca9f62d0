/**
 * How plain JavaScript JSON values map onto Newtonsoft's token model. Objects are `JObject`, arrays `JArray`;
 * strings, numbers, booleans, null, `bigint` and {@link DateToken} are `JValue`s (never descended into). Newtonsoft
 * also treats an object member as a token of its own (`JProperty`): filters and `..[?()]` scans test members too,
 * so {@link PropertyToken} stands in for one where it matters.
 */

import { DateToken } from '../../../convert/instant';
import type { Instant } from '../../../convert/instant';
import { parseNewtonsoftDate } from '../../../convert/newtonsoft-date';

/** A JSON object as it appears in the scope. */
export type JsonObject = Record<string, unknown>;

/** An object member seen as a token (Newtonsoft `JProperty`): a container whose only child is the value. */
export class PropertyToken {
  readonly name: string;
  readonly value: unknown;
  /**
   * @param name - the member name
   * @param value - the member value
   */
  constructor(name: string, value: unknown) {
    this.name = name;
    this.value = value;
  }
}

/**
 * True for a JSON object (`JObject`): not an array, a date token or a member token.
 * @param value - any scope value
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof DateToken) &&
    !(value instanceof PropertyToken)
  );
}

/**
 * True for a container token (`JContainer`: object, array or member), i.e. anything a scan descends into.
 * @param value - any scope value
 */
export function isContainer(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !(value instanceof DateToken);
}

/**
 * An object's own member, or `undefined`. Inherited properties (`__proto__`, `constructor`, anything added to
 * `Object.prototype`) are never read; the own-property check only runs when something was found.
 * @param object - the object
 * @param name - the member name (case-sensitive)
 */
export function ownMember(object: JsonObject, name: string): unknown {
  const value = object[name];
  return value !== undefined && Object.prototype.hasOwnProperty.call(object, name) ? value : undefined;
}

/**
 * Body strings Newtonsoft would have read as date tokens stay strings in the envelope (see
 * src/pipeline/normalize/envelope.ts); for the duration of one evaluation this predicate says which ones are, so that
 * filter comparisons treat them as dates. Set and cleared by the compiled expression around each evaluation, which
 * is synchronous and never nested.
 */
let bodyDatePredicate: ((s: string) => boolean) | undefined;

/**
 * Sets (or clears, with `undefined`) the body-date predicate for the evaluation about to run.
 * @param predicate - whether a string is a body date token
 */
export function setBodyDatePredicate(predicate: ((s: string) => boolean) | undefined): void {
  bodyDatePredicate = predicate;
}

/**
 * The instant of a token typed {@link TokenType.Date}: a {@link DateToken}, or a body date string.
 * @param token - a token whose type is `Date`
 */
export function instantOfDate(token: unknown): Instant {
  if (token instanceof DateToken) {
    return token.instant;
  }
  const instant = parseNewtonsoftDate(token as string);
  if (instant === undefined) {
    throw new TypeError('instantOfDate: the body-date predicate accepted a string that is not a date');
  }
  return instant;
}

/** Newtonsoft `JTokenType` of a token, as far as comparisons care. `Container` is any non-`JValue`. */
export const TokenType = { Container: -1, Null: 0, Boolean: 1, Integer: 2, Float: 3, String: 4, Date: 5 } as const;

/** See {@link TokenType}. */
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

/**
 * The token type of a scope value. A JavaScript number is an `Integer` when it is a safe integer and a `Float`
 * otherwise (Newtonsoft reads `72.0` as a float, but `JSON.parse` has already made it `72`; the two only compare
 * differently beyond 2^51). `bigint` is always an `Integer`.
 * @param value - any scope value
 */
export function tokenTypeOf(value: unknown): TokenType {
  switch (typeof value) {
    case 'string':
      return bodyDatePredicate?.(value) === true ? TokenType.Date : TokenType.String;
    case 'number':
      return Number.isSafeInteger(value) ? TokenType.Integer : TokenType.Float;
    case 'boolean':
      return TokenType.Boolean;
    case 'bigint':
      return TokenType.Integer;
    case 'object':
      return value === null ? TokenType.Null : value instanceof DateToken ? TokenType.Date : TokenType.Container;
    case 'undefined':
    case 'function':
    case 'symbol':
      return TokenType.Container;
  }
}
