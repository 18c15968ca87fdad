'use strict';
// Stands in for Lambda's Node.js runtime inside the rehearsal's sandbox (mounted at /var/runtime):
// loads the handler _HANDLER names from LAMBDA_TASK_ROOT as the runtime does (the init phase),
// invokes it once with the event read from stdin and a context whose deadline is the function's
// timeout, and writes the outcome as one JSON object to file descriptor 3. Logs go to stdout and
// stderr, as they go to CloudWatch on Lambda. Plain JavaScript: it runs outside the project.
const { randomUUID } = require('node:crypto');
const { existsSync, writeSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const started = Date.now();
let reported = false;

function report(outcome) {
  if (reported) return;
  reported = true;
  const usage = process.resourceUsage();
  writeSync(3, `${JSON.stringify({ ...outcome, maxRssKb: usage.maxRSS })}\n`);
}

function errorOf(error) {
  if (error instanceof Error) return { errorType: error.name, errorMessage: error.message, stack: error.stack };
  return { errorType: typeof error, errorMessage: String(error) };
}

// Lambda's runtime ends the invocation with an error on either of these.
process.on('unhandledRejection', (error) => {
  report({ status: 'error', phase: 'invoke', ...errorOf(error), errorType: 'Runtime.UnhandledPromiseRejection' });
  process.exit(1);
});
process.on('uncaughtException', (error) => {
  report({ status: 'error', phase: 'invoke', ...errorOf(error) });
  process.exit(1);
});

function readEvent() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')));
    process.stdin.on('error', reject);
  });
}

// As Lambda's runtime does: the first of handler.js, .mjs, .cjs, loaded with import() (a .js file is
// ECMAScript or CommonJS as the nearest package.json's "type" says).
async function loadHandler() {
  const spec = process.env._HANDLER ?? '';
  const dot = spec.lastIndexOf('.');
  const file = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  const base = join(process.env.LAMBDA_TASK_ROOT ?? '/var/task', file);
  const path = ['.js', '.mjs', '.cjs'].map((extension) => base + extension).find((candidate) => existsSync(candidate));
  if (!path) {
    const error = new Error(`Cannot find module '${file}'`);
    error.name = 'Runtime.ImportModuleError';
    throw error;
  }
  const handler = (await import(pathToFileURL(path).href))[exportName];
  if (typeof handler !== 'function') {
    const error = new Error(`${file}.${exportName} is undefined or not exported`);
    error.name = 'Runtime.HandlerNotFound';
    throw error;
  }
  return handler;
}

async function main() {
  const event = await readEvent();
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    report({ status: 'error', phase: 'init', initMs: Date.now() - started, ...errorOf(error) });
    process.exit(1);
  }
  const initMs = Date.now() - started;
  const timeoutMs = Number(process.env.VIGIL_REHEARSAL_TIMEOUT_MS);
  const invoked = Date.now();
  const deadline = invoked + timeoutMs;
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: randomUUID(),
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const timer = setTimeout(() => {
    report({ status: 'timeout', phase: 'invoke', initMs, durationMs: Date.now() - invoked });
    process.exit(1);
  }, timeoutMs);
  try {
    const result = await handler(event, context);
    // What Lambda returns is the JSON serialisation of the result.
    report({ status: 'ok', initMs, durationMs: Date.now() - invoked, result: JSON.parse(JSON.stringify(result ?? null)) });
  } catch (error) {
    report({ status: 'error', phase: 'invoke', initMs, durationMs: Date.now() - invoked, ...errorOf(error) });
  }
  clearTimeout(timer);
  // Lambda freezes the sandbox once an async handler has answered; nothing after it runs.
  process.exit(0);
}

main().catch((error) => {
  report({ status: 'error', phase: 'runtime', ...errorOf(error) });
  process.exit(1);
});
