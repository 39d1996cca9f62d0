/**
 * A small Bicep reader for the infra checks. No Bicep compiler installs from npm or Debian without downloading a
 * binary (the `bicep-node` wrapper fetches the CLI at run time), so the tests check what can be checked from the
 * text: the lexical structure (strings, interpolation, comments, brackets), the declarations, the symbols referenced,
 * and the literal content of objects the other tests read (app settings, role IDs).
 */
import { readFileSync } from 'node:fs';

/** A token of Bicep source. */
export type BicepToken =
  | { readonly kind: 'identifier'; readonly text: string; readonly offset: number }
  | { readonly kind: 'string'; readonly text: string; readonly offset: number; readonly multiline: boolean }
  | { readonly kind: 'number'; readonly text: string; readonly offset: number }
  | { readonly kind: 'punctuation'; readonly text: string; readonly offset: number }
  | { readonly kind: 'newline'; readonly text: '\n'; readonly offset: number };

/** A lexical error, with its line. */
export class BicepSyntaxError extends Error {
  override readonly name = 'BicepSyntaxError';
}

const PAIRS: Readonly<Record<string, string>> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set(Object.values(PAIRS));

/**
 * Tokenizes Bicep: comments are dropped; a string's text is its literal parts (interpolated expressions are
 * tokenized in place, between the string's pieces); brackets are checked for balance, including inside
 * interpolations.
 * @param source - the Bicep text
 */
export function tokenizeBicep(source: string): BicepToken[] {
  const tokens: BicepToken[] = [];
  const stack: { char: string; offset: number; interpolation: boolean }[] = [];
  let i = 0;
  const line = (offset: number): number => source.slice(0, offset).split('\n').length;
  const fail = (message: string, offset: number): BicepSyntaxError =>
    new BicepSyntaxError(`${message} at line ${line(offset)}`);
  const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", $: '$', u: 'u' };

  /** Reads a single-quoted string starting at `i` (the quote); returns after the closing quote. */
  const readString = (): void => {
    const start = i;
    i++;
    let text = '';
    for (;;) {
      const c = source[i];
      if (c === undefined || c === '\n') {
        throw fail('unterminated string', start);
      }
      if (c === '\\') {
        const escaped = ESCAPES[source[i + 1] ?? ''];
        if (escaped === undefined) {
          throw fail(`invalid escape \\${source[i + 1] ?? ''}`, i);
        }
        text += escaped;
        i += 2;
        continue;
      }
      if (c === "'") {
        i++;
        tokens.push({ kind: 'string', text, offset: start, multiline: false });
        return;
      }
      if (c === '$' && source[i + 1] === '{') {
        tokens.push({ kind: 'string', text, offset: start, multiline: false });
        text = '';
        i += 2;
        readExpression(true);
        continue;
      }
      text += c;
      i++;
    }
  };

  /** Skips a comment or blank; true when something was skipped. */
  const skipTrivia = (): boolean => {
    if (source.startsWith('//', i)) {
      const end = source.indexOf('\n', i);
      i = end < 0 ? source.length : end;
      return true;
    }
    if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end < 0) {
        throw fail('unterminated comment', i);
      }
      i = end + 2;
      return true;
    }
    if (source[i] !== '\n' && /\s/.test(source[i] ?? '')) {
      i++;
      return true;
    }
    return false;
  };

  /** Reads a string (single- or multi-line) or a newline token; true when it did. */
  const readStringOrNewline = (): boolean => {
    if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      if (end < 0) {
        throw fail('unterminated multi-line string', i);
      }
      tokens.push({ kind: 'string', text: source.slice(i + 3, end), offset: i, multiline: true });
      i = end + 3;
      return true;
    }
    if (source[i] === "'") {
      readString();
      return true;
    }
    if (source[i] === '\n') {
      tokens.push({ kind: 'newline', text: '\n', offset: i });
      i++;
      return true;
    }
    return false;
  };

  /** Reads tokens until the matching `}` of an interpolation (when `inInterpolation`) or the end. */
  const readExpression = (inInterpolation: boolean): void => {
    const depth = stack.length;
    if (inInterpolation) {
      stack.push({ char: '{', offset: i, interpolation: true });
    }
    while (i < source.length) {
      const c = source[i] as string;
      if (skipTrivia() || readStringOrNewline()) {
        continue;
      }
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i, i + 200));
      if (word !== null) {
        tokens.push({ kind: 'identifier', text: word[0], offset: i });
        i += word[0].length;
        continue;
      }
      const number = /^\d+/.exec(source.slice(i, i + 40));
      if (number !== null) {
        tokens.push({ kind: 'number', text: number[0], offset: i });
        i += number[0].length;
        continue;
      }
      const operator = /^(==|!=|<=|>=|&&|\|\||\?\?|\.\?|=~|!~)/.exec(source.slice(i, i + 2));
      const text = operator?.[0] ?? c;
      if (!/^[(){}[\]:,.=?!<>+\-*/%|&@]|^(==|!=|<=|>=|&&|\|\||\?\?|\.\?|=~|!~)$/.test(text)) {
        throw fail(`unexpected character ${JSON.stringify(c)}`, i);
      }
      if (text in PAIRS) {
        stack.push({ char: text, offset: i, interpolation: false });
      } else if (CLOSERS.has(text)) {
        const open = stack.pop();
        if (open === undefined || PAIRS[open.char] !== text) {
          throw fail(`unbalanced ${text}`, i);
        }
        if (open.interpolation && stack.length === depth) {
          i++;
          return;
        }
      }
      tokens.push({ kind: 'punctuation', text, offset: i });
      i += text.length;
    }
    if (inInterpolation) {
      throw fail('unterminated interpolation', stack[stack.length - 1]?.offset ?? i);
    }
  };

  readExpression(false);
  const open = stack.pop();
  if (open !== undefined) {
    throw fail(`unclosed ${open.char}`, open.offset);
  }
  return tokens;
}

/** A top-level declaration. */
export interface BicepDeclaration {
  readonly keyword: 'param' | 'var' | 'resource' | 'module' | 'output' | 'metadata' | 'targetScope' | 'type';
  readonly name: string;
  /** The resource type (`Microsoft.X/y@version`) or module path. */
  readonly target?: string;
}

const STATEMENT_KEYWORDS = new Set(['param', 'var', 'resource', 'module', 'output', 'metadata', 'targetScope', 'type']);

/** A parsed Bicep file: tokens and top-level declarations. */
export interface BicepFile {
  readonly path: string;
  readonly source: string;
  readonly tokens: readonly BicepToken[];
  readonly declarations: readonly BicepDeclaration[];
}

/**
 * Reads and tokenizes a Bicep file and lists its top-level declarations. Throws on a statement that does not start
 * with a declaration keyword or a decorator.
 * @param path - the file
 */
export function readBicepFile(path: string): BicepFile {
  const source = readFileSync(path, 'utf8');
  const tokens = tokenizeBicep(source);
  const declarations: BicepDeclaration[] = [];
  let depth = 0;
  let atStatementStart = true;
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k] as BicepToken;
    if (token.kind === 'newline') {
      atStatementStart = depth === 0;
      const first = tokens[k + 1];
      if (first?.kind === 'punctuation' && (first.text === '?' || first.text === ':')) {
        // Expressions continued on a new line (`cond\n ? a\n : b`) parse only in recent Bicep versions; keep them
        // on one line so the templates work with every Bicep CLI that supports their resource types.
        throw new BicepSyntaxError(`${path}: an expression continues on a new line at offset ${first.offset}`);
      }
      continue;
    }
    if (atStatementStart && depth === 0) {
      if (token.kind === 'punctuation' && token.text === '@') {
        atStatementStart = false; // a decorator: the statement follows on a later line
      } else if (token.kind === 'identifier' && STATEMENT_KEYWORDS.has(token.text)) {
        const name = token.text === 'targetScope' ? 'targetScope' : tokens[k + 1]?.text;
        const target = tokens[k + 2];
        declarations.push({
          keyword: token.text as BicepDeclaration['keyword'],
          name: name ?? '',
          ...((token.text === 'resource' || token.text === 'module') && target?.kind === 'string'
            ? { target: target.text }
            : {}),
        });
        atStatementStart = false;
      } else {
        throw new BicepSyntaxError(`${path}: unexpected statement start '${token.text}'`);
      }
    }
    if (token.kind === 'punctuation') {
      if (token.text in PAIRS) {
        depth++;
      } else if (CLOSERS.has(token.text)) {
        depth--;
      }
    }
  }
  return { path, source, tokens, declarations };
}

/**
 * The literal keys of a top-level `var <name> = { … }` object (its first level only), in order.
 * @param file - the Bicep file
 * @param variable - the variable name
 */
export function objectKeys(file: BicepFile, variable: string): string[] {
  const body = objectBody(file, variable);
  const keys: string[] = [];
  let depth = 0;
  for (let k = 0; k < body.length; k++) {
    const token = body[k] as BicepToken;
    if (token.kind === 'punctuation' && token.text in PAIRS) {
      depth++;
    } else if (token.kind === 'punctuation' && CLOSERS.has(token.text)) {
      depth--;
    } else if (
      depth === 0 &&
      (token.kind === 'identifier' || token.kind === 'string') &&
      body[k - 1]?.kind === 'newline' &&
      body[k + 1]?.text === ':'
    ) {
      keys.push(token.text);
    }
  }
  return keys;
}

/**
 * The string values of a top-level `var <name> = { key: 'value' … }` object whose values are single literals.
 * @param file - the Bicep file
 * @param variable - the variable name
 */
export function stringObject(file: BicepFile, variable: string): Record<string, string> {
  const body = objectBody(file, variable);
  const result: Record<string, string> = {};
  for (let k = 0; k + 2 < body.length; k++) {
    const [key, colon, value, after] = [body[k], body[k + 1], body[k + 2], body[k + 3]];
    if (key?.kind === 'identifier' && colon?.text === ':' && value?.kind === 'string' && after?.kind === 'newline') {
      result[key.text] = value.text;
    }
  }
  return result;
}

/** The tokens between the braces of `var <name> = {` … `}` (exclusive). */
function objectBody(file: BicepFile, variable: string): BicepToken[] {
  const { tokens } = file;
  const start = tokens.findIndex(
    (t, k) =>
      t.kind === 'identifier' &&
      t.text === 'var' &&
      tokens[k + 1]?.text === variable &&
      tokens[k + 2]?.text === '=' &&
      tokens[k + 3]?.text === '{',
  );
  if (start < 0) {
    throw new Error(`${file.path}: no var ${variable} = { … }`);
  }
  let depth = 0;
  for (let k = start + 3; k < tokens.length; k++) {
    const text = tokens[k]?.text ?? '';
    if (tokens[k]?.kind === 'punctuation' && text in PAIRS) {
      depth++;
    } else if (tokens[k]?.kind === 'punctuation' && CLOSERS.has(text)) {
      depth--;
      if (depth === 0) {
        return tokens.slice(start + 4, k);
      }
    }
  }
  throw new Error(`${file.path}: var ${variable} is not closed`);
}

/** Bicep keywords and type names that are not symbols. */
const KEYWORDS = new Set([
  ...STATEMENT_KEYWORDS,
  'if',
  'for',
  'in',
  'true',
  'false',
  'null',
  'existing',
  'string',
  'int',
  'bool',
  'object',
  'array',
]);

/** The Bicep functions these templates may call (https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions). */
export const BICEP_FUNCTIONS = new Set([
  'array',
  'concat',
  'contains',
  'empty',
  'environment',
  'first',
  'guid',
  'items',
  'last',
  'length',
  'loadJsonContent',
  'loadTextContent',
  'max',
  'min',
  'replace',
  'resourceGroup',
  'resourceId',
  'split',
  'string',
  'subscription',
  'subscriptionResourceId',
  'take',
  'tenant',
  'toLower',
  'toUpper',
  'union',
  'uniqueString',
]);

/** The decorators these templates may use. */
export const BICEP_DECORATORS = new Set([
  'description',
  'allowed',
  'minLength',
  'maxLength',
  'minValue',
  'maxValue',
  'secure',
  'metadata',
]);

/** Problems found by {@link checkSymbols}. */
export interface SymbolProblems {
  /** Identifiers used as values that no declaration or loop introduces. */
  readonly undeclared: string[];
  /** Functions called that are not in {@link BICEP_FUNCTIONS}. */
  readonly unknownFunctions: string[];
  /** Decorators not in {@link BICEP_DECORATORS}. */
  readonly unknownDecorators: string[];
  /** Parameters and variables declared but never used. */
  readonly unused: string[];
}

/**
 * Checks the symbols of a file the way the Bicep compiler and linter would flag the common mistakes: a misspelt
 * symbol, an unknown function, an unused parameter or variable. Object keys (`key:` at the start of a line) and member
 * names (`.name`) are not symbols and are skipped.
 * @param file - the Bicep file
 */
export function checkSymbols(file: BicepFile): SymbolProblems {
  const { tokens } = file;
  const declared = new Set(file.declarations.filter((d) => d.keyword !== 'metadata').map((d) => d.name));
  const loopVariables = findLoopVariables(tokens);
  const uses = new Set<string>();
  const problems: SymbolProblems = { undeclared: [], unknownFunctions: [], unknownDecorators: [], unused: [] };
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k] as BicepToken;
    if (token.kind !== 'identifier') {
      continue;
    }
    switch (identifierRole(tokens, k)) {
      case 'decorator':
        if (!BICEP_DECORATORS.has(token.text)) {
          problems.unknownDecorators.push(token.text);
        }
        break;
      case 'function':
        if (!BICEP_FUNCTIONS.has(token.text)) {
          problems.unknownFunctions.push(token.text);
        }
        break;
      case 'symbol':
        if (declared.has(token.text)) {
          uses.add(token.text);
        } else if (!loopVariables.has(token.text)) {
          problems.undeclared.push(token.text);
        }
        break;
      case 'other':
        break;
    }
  }
  problems.unused.push(
    ...file.declarations
      .filter((d) => (d.keyword === 'param' || d.keyword === 'var') && !uses.has(d.name))
      .map((d) => d.name),
  );
  return problems;
}

/** The variables `for x in` and `for (x, i) in` introduce. */
function findLoopVariables(tokens: readonly BicepToken[]): Set<string> {
  const names = new Set<string>();
  tokens.forEach((token, k) => {
    if (token.kind === 'identifier' && token.text === 'for') {
      const next = tokens[k + 1];
      const parenthesized = next?.text === '(';
      names.add((parenthesized ? tokens[k + 2] : next)?.text ?? '');
      if (parenthesized) {
        names.add(tokens[k + 4]?.text ?? '');
      }
    }
  });
  return names;
}

/** What an identifier is: a decorator, a function called, a symbol referenced, or something else (key, keyword…). */
function identifierRole(tokens: readonly BicepToken[], k: number): 'decorator' | 'function' | 'symbol' | 'other' {
  const text = (offset: number): string => tokens[k + offset]?.text ?? '';
  const previousIsIdentifier = tokens[k - 1]?.kind === 'identifier';
  if (text(-1) === '@') {
    return 'decorator';
  }
  // An object key (or a property of an object type) starts its line: `key: value`. Elsewhere `x :` is the middle
  // operand of `cond ? x : y` or the source of `for v in x:`, both references.
  const isKey = text(1) === ':' && (k === 0 || ['\n', '{'].includes(text(-1)));
  const isMember = text(-1) === '.' || text(-1) === '.?';
  const isDeclaredName = previousIsIdentifier && STATEMENT_KEYWORDS.has(text(-1));
  const isDeclarationType = previousIsIdentifier && (text(-2) === 'output' || text(-2) === 'param');
  const isLoopDeclaration =
    text(-1) === 'for' || (text(-2) === 'for' && text(-1) === '(') || (text(-3) === 'for' && text(-1) === ',');
  if (isKey || isMember || isDeclaredName || isDeclarationType || isLoopDeclaration || KEYWORDS.has(text(0))) {
    return 'other';
  }
  return text(1) === '(' ? 'function' : 'symbol';
}
