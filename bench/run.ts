import { backupThroughput } from './cases/backup';
import { bundleSizes } from './cases/bundles';
import { cacheCoverageSimulation, cacheEfficiencyScale } from './cases/cache-efficiency';
import { decisionSimulation } from './cases/decision';
import { partitionMaintenanceBench } from './cases/partitions';
import { partmanComparison } from './cases/partitions-partman';
import { postgresStartup } from './cases/postgres-startup';
import { probeAccuracy, probeOverhead } from './cases/probe';
import { rollbackDecisionLatency } from './cases/rollback-decision';
import { type BenchCase, type BenchRow, formatTable } from './table';

/** `npm run bench [-- <case name> ...]`: runs the named cases (all by default), prints one table. */
const cases: BenchCase[] = [
  postgresStartup,
  probeAccuracy,
  probeOverhead,
  rollbackDecisionLatency,
  decisionSimulation,
  partitionMaintenanceBench,
  partmanComparison,
  cacheEfficiencyScale,
  cacheCoverageSimulation,
  backupThroughput,
  bundleSizes,
];

async function main() {
  const wanted = process.argv.slice(2);
  const selected = wanted.length ? cases.filter((benchCase) => wanted.includes(benchCase.name)) : cases;
  if (selected.length === 0) throw new Error(`no such case; cases: ${cases.map((benchCase) => benchCase.name).join(', ')}`);
  const rows: BenchRow[] = [];
  for (const benchCase of selected) {
    process.stderr.write(`running ${benchCase.name}...\n`);
    rows.push(...(await benchCase.run()));
  }
  process.stdout.write(`${formatTable(rows)}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
