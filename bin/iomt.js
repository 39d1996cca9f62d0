#!/usr/bin/env node
'use strict';
// The `iomt` command. The TypeScript sources compile to dist/ (`npm run build`, also run by `npm ci`).
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'src', 'local', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('iomt: dist/ is missing; run `npm run build` first.\n');
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error) => {
    process.stderr.write(`iomt: ${error && error.stack ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
