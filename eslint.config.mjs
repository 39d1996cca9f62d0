// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules the pure core must never reach for: it talks to the world only through ports. */
const forbiddenInCore = [
  {
    group: ['@azure/*', 'durable-functions', 'applicationinsights', '@opentelemetry/*'],
    message: 'src/pipeline is pure: use a port.',
  },
  {
    group: [
      'node:fs',
      'fs',
      'node:http',
      'http',
      'node:https',
      'https',
      'node:net',
      'net',
      'node:child_process',
      'child_process',
    ],
    message: 'src/pipeline does no I/O.',
  },
  { group: ['**/adapters/**', '**/functions/**', '**/local/**'], message: 'The core never imports its adapters.' },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bin/**',
      'src/local/web/static/**',
      '*.config.js',
      '*.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/explicit-function-return-type': [
        'error',
        { allowExpressions: true, allowTypedFunctionExpressions: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      curly: ['error', 'all'],
      complexity: ['warn', 25],
    },
  },
  {
    files: ['src/pipeline/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: forbiddenInCore }],
      'no-restricted-globals': ['error', 'process', 'fetch', 'setTimeout', 'setInterval'],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Take a Clock.' }],
    },
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/pipeline/*'], message: 'Import the core only through src/pipeline/index.ts.' },
            { group: ['**/functions/**', '**/local/**'], message: 'Adapters are shared; they never import the hosts.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/functions/**/*.ts', 'src/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/pipeline/*'], message: 'Import the core only through src/pipeline/index.ts.' },
            { group: ['**/local/**'], message: 'The Functions app does not depend on the local stack.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/local/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/pipeline/*'], message: 'Import the core only through src/pipeline/index.ts.' },
            { group: ['**/functions/**'], message: 'The local stack does not depend on the Functions app.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/explicit-function-return-type': 'off',
    },
  },
);
