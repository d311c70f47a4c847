#!/usr/bin/env node
// A stand-in for the native `solc` binary, backed by the pinned solc-js in node_modules, so that
// py-solc-x can drive it (govchain.build). It knows only what py-solc-x asks for:
//   solc.js --version          prints the version the way native solc does
//   solc.js --standard-json    reads the standard-json input on stdin, prints only the JSON output
// (`solcjs --standard-json` prints a banner line before the JSON, which py-solc-x cannot parse.)
'use strict';

const fs = require('fs');
const solc = require('solc');

function main(args) {
  if (args.length === 1 && args[0] === '--version') {
    // py-solc-x looks for "<major>.<minor>.<patch>+commit.<hash>".
    process.stdout.write(
      `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`,
    );
    return 0;
  }
  if (args.length === 1 && args[0] === '--standard-json') {
    const input = fs.readFileSync(0, 'utf8');
    // No import callback: every source must be in the input (govchain.build puts them there).
    process.stdout.write(solc.compile(input));
    return 0;
  }
  const unknown = args.find((a) => a !== '--version' && a !== '--standard-json');
  process.stderr.write(
    unknown === undefined
      ? 'usage: solc.js --version | --standard-json\n'
      : `unrecognised option '${unknown}'\n`,
  );
  return 1;
}

// exitCode rather than process.exit(), so that a large output is flushed before node ends.
process.exitCode = main(process.argv.slice(2));
