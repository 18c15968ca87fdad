#!/usr/bin/env node
// Runs before `npm test`, `npm start` and the other commands that need the project's Node: on an
// older Node it stops at once, naming the version found, the version needed and the command that
// gets it, instead of failing later in twenty different ways. Plain CommonJS with no dependency, so
// it runs on any Node that can start npm.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const wanted = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
const floor = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(wanted);
if (!floor) {
  console.error(`package.json engines.node is "${wanted}": this check reads only ">=MAJOR.MINOR[.PATCH]"`);
  process.exit(1);
}
const need = floor.slice(1).map((part) => Number(part ?? 0));
const have = process.versions.node.split('.').map(Number);
const firstDifference = need.findIndex((part, index) => have[index] !== part);
const older = firstDifference >= 0 && have[firstDifference] < need[firstDifference];
if (older) {
  const runtime = JSON.parse(readFileSync(join(root, 'deploy', 'runtime.json'), 'utf8')).node.version;
  console.error(
    [
      `Vigil needs Node.js ${wanted.replace(/\s/g, '')} (package.json engines); this is Node.js ${process.versions.node}.`,
      `Get the pinned Node.js ${runtime} of the deploy runtime (from the npm registry, checked against its pinned integrity) and put it first on PATH:`,
      '  export PATH="$(dirname "$(local/node-runtime.sh)"):$PATH"',
      'then run the command again (CI does the same).',
    ].join('\n'),
  );
  process.exit(1);
}
