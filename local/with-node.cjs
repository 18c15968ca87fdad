#!/usr/bin/env node
// Runs an npm script's command on a Node.js the project can use: `node local/with-node.cjs <command>
// [args...]`. On a Node at least package.json's engines floor, the command runs as it is. On an
// older one (a machine with Node 20, say) it runs with the pinned Node.js of the deploy runtime,
// as CI does: local/node-runtime.sh fetches it once from the npm registry, checks it against its
// pinned integrity and keeps it under .vigil/runtime/. VIGIL_NO_PINNED_NODE=1 stops instead, naming
// the command that gets it. Plain CommonJS with no dependency, so it runs on any Node that can
// start npm.
const { spawnSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const wanted = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
const floor = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(wanted);
if (!floor) {
  console.error(`package.json engines.node is "${wanted}": this check reads only ">=MAJOR.MINOR[.PATCH]"`);
  process.exit(1);
}
const need = floor.slice(1).map((part) => Number(part ?? 0));
const admits = (version) => {
  const have = version.split('.').map(Number);
  const first = need.findIndex((part, index) => have[index] !== part);
  return first < 0 || have[first] > need[first];
};
const runtime = JSON.parse(readFileSync(join(root, 'deploy', 'runtime.json'), 'utf8')).node.version;
const command = process.argv.slice(2);
const floorText = wanted.replace(/\s/g, '');

function stop(reason) {
  console.error(
    [
      `Vigil needs Node.js ${floorText} (package.json engines); this is Node.js ${process.versions.node}.`,
      reason,
      `Get the pinned Node.js ${runtime} of the deploy runtime (from the npm registry, checked against its pinned integrity) and put it first on PATH:`,
      '  export PATH="$(dirname "$(local/node-runtime.sh)"):$PATH"',
      'then run the command again (CI does the same).',
    ]
      .filter(Boolean)
      .join('\n'),
  );
  process.exit(1);
}

let path = process.env.PATH ?? '';
if (!admits(process.versions.node)) {
  if (command.length === 0 || process.env.VIGIL_NO_PINNED_NODE === '1') stop('');
  if (!admits(runtime)) stop(`The pinned Node.js ${runtime} (deploy/runtime.json) does not meet it either.`);
  console.error(
    `Node.js ${process.versions.node} is older than ${floorText} (package.json engines): running \`${command.join(' ')}\` with the pinned Node.js ${runtime} of the deploy runtime, as CI does (.vigil/runtime/; VIGIL_NO_PINNED_NODE=1 stops instead).`,
  );
  const found = spawnSync('bash', [join(root, 'local', 'node-runtime.sh'), '--pinned'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const binary = found.status === 0 ? found.stdout.trim() : '';
  if (!binary) stop('Fetching the pinned Node.js failed (above).');
  path = `${dirname(binary)}:${path}`;
}
if (command.length === 0) process.exit(0);
const result = spawnSync(command[0], command.slice(1), { stdio: 'inherit', env: { ...process.env, PATH: path } });
if (result.error) {
  console.error(`${command[0]}: ${result.error.message}`);
  process.exit(127);
}
if (result.signal) process.kill(process.pid, result.signal);
process.exit(result.status ?? 1);
