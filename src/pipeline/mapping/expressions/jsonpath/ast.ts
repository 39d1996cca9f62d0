/**
 * The syntax tree of a JSONPath expression, shaped like the filter list Newtonsoft.Json 13 builds
 * (`Linq/JsonPath/JPath.cs`): one segment per Newtonsoft `PathFilter`, evaluated left to right.
 */

/** A step of a path. Each kind corresponds to one Newtonsoft `PathFilter` class (named in the comments). */
export type PathSegment =
  /** `$` inside a filter (`RootFilter`): continues from the token the whole query started at. */
  | { readonly kind: 'root' }
  /** `.name`, `['name']` (`FieldFilter`); `name: null` is `.*`, which selects the values of an object only. */
  | { readonly kind: 'field'; readonly name: string | null }
  /** `['a','b']` (`FieldMultipleFilter`): members in the order written, duplicates repeated. */
  | { readonly kind: 'fields'; readonly names: readonly string[] }
  /** `..name`, `..['name']` (`ScanFilter`); `name: null` is `..*`, which also yields the start token itself. */
  | { readonly kind: 'scan'; readonly name: string | null }
  /** `..['a','b']` (`ScanMultipleFilter`). */
  | { readonly kind: 'scanFields'; readonly names: readonly string[] }
  /** `[n]` (`ArrayIndexFilter`); `index: null` is `[*]`, which selects the elements of an array only. */
  | { readonly kind: 'index'; readonly index: number | null }
  /** `[0,2]` (`ArrayMultipleIndexFilter`). */
  | { readonly kind: 'indexes'; readonly indexes: readonly number[] }
  /** `[start:end:step]` (`ArraySliceFilter`); the step is never 0 (rejected when parsing). */
  | {
      readonly kind: 'slice';
      readonly start: number | null;
      readonly end: number | null;
      readonly step: number | null;
    }
  /** `[?(…)]` (`QueryFilter`, children of the token) or `..[?(…)]` (`QueryScanFilter`, the token and all descendants). */
  | { readonly kind: 'filter'; readonly predicate: Predicate; readonly scan: boolean };

/** Filter operators (Newtonsoft `QueryOperator`); `<>` parses as `!=`. */
export type QueryOperator = 'exists' | '==' | '!=' | '===' | '!==' | '=~' | '<' | '<=' | '>' | '>=';

/** A literal in a filter. Integers and floats stay distinct because Newtonsoft's comparisons depend on it. */
export type Literal =
  | { readonly type: 'null' }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'integer'; readonly value: number | bigint }
  | { readonly type: 'float'; readonly value: number }
  /** Quoted strings and regex literals (`/…/flags` is kept verbatim, as Newtonsoft does). */
  | { readonly type: 'string'; readonly value: string };

/** One side of a comparison: a path relative to the candidate (`@…`) or the root (`$…`), or a literal. */
export type Operand =
  | { readonly kind: 'path'; readonly segments: readonly PathSegment[] }
  | { readonly kind: 'literal'; readonly literal: Literal; readonly position: number };

/** `left op right`, or an existence test (`op: 'exists'`, no right side). */
export interface Comparison {
  readonly kind: 'comparison';
  readonly operator: QueryOperator;
  readonly left: Operand;
  readonly right: Operand | null;
}

/**
 * `&&` / `||` chains. Newtonsoft has no precedence: each change of operator nests the rest of the chain to the
 * right, so `a && b || c` means `a && (b || c)`. The parser reproduces that shape.
 */
export interface Composite {
  readonly kind: 'and' | 'or';
  readonly operands: Predicate[];
}

/** A filter's boolean expression. */
export type Predicate = Comparison | Composite;
