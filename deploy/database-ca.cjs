// The CA a deployed stage trusts for the database, read by serverless.yml at package time.
// Empty databaseSslCaFile: the Amazon RDS bundle compiled into every function (lib/db.ts). A path:
// that PEM file of the project, packaged into every function's zip at the same path, and
// DATABASE_SSL_CA_FILE pointing at it under /var/task (where Lambda unpacks the zip).
const { existsSync, readFileSync, statSync } = require('node:fs');
const { isAbsolute, join, normalize, sep } = require('node:path');

const projectRoot = join(__dirname, '..');
const taskRoot = '/var/task';

/** What is wrong with the file a databaseSslCaFile parameter names, or undefined. */
function caFileProblem(file) {
  const relative = normalize(file);
  if (isAbsolute(relative) || relative.startsWith(`..${sep}`) || relative === '..') {
    return `databaseSslCaFile: "${file}" must be a path inside the project (it is packaged into each function at that path)`;
  }
  const path = join(projectRoot, relative);
  if (!existsSync(path) || !statSync(path).isFile()) return `databaseSslCaFile: "${file}" is not a file of the project`;
  const text = readFileSync(path, 'utf8');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    return `databaseSslCaFile: "${file}" holds a private key; give only the CA certificate(s)`;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) return `databaseSslCaFile: "${file}" holds no PEM certificate`;
  return undefined;
}

async function caFile(resolveVariable) {
  const file = String((await resolveVariable('param:databaseSslCaFile')) ?? '').trim();
  if (!file) return undefined;
  const problem = caFileProblem(file);
  if (problem) throw new Error(problem);
  return normalize(file).split(sep).join('/');
}

module.exports.caFileProblem = caFileProblem;
module.exports.environmentValue = async ({ resolveVariable }) => {
  const file = await caFile(resolveVariable);
  return file ? `${taskRoot}/${file}` : '';
};
module.exports.patterns = async ({ resolveVariable }) => {
  const file = await caFile(resolveVariable);
  return file ? [file] : [];
};
