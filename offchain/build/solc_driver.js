#!/usr/bin/env node
// A solc-compatible front end for solc-js (the official compiler built to WebAssembly).
// It answers `--version` like native solc and compiles `--standard-json` from stdin, so
// py-solc-x and ape-solidity can drive it as if it were a native binary.
// Positional arguments, --base-path and --include-path name import roots; the repository's
// contracts/ and node_modules/ are always searched too.
'use strict';
const fs = require('fs');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');
const solc = require(path.join(repo, 'node_modules', 'solc'));

const args = process.argv.slice(2);
const roots = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--base-path' || arg === '--include-path') roots.push(args[++i]);
  else if (arg === '--allow-paths' || arg === '--output-dir') i++;
  else if (!arg.startsWith('-')) roots.push(arg);
}
roots.push(process.cwd(), path.join(repo, 'contracts'), path.join(repo, 'node_modules'));

if (args.includes('--version')) {
  const version = solc.version().replace('.Emscripten.clang', '');
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json') && args.some((a) => a.startsWith('-'))) {
  process.stderr.write(`solc-js shim: only --version and --standard-json are supported (got ${args.join(' ')})\n`);
  process.exit(2);
}

function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
}

process.stdout.write(solc.compile(fs.readFileSync(0, 'utf8'), { import: findImports }));
