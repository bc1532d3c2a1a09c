// Prints the mutation score of Stryker's JSON report (reports/mutation/mutation.json) overall
// and per module, and exits 1 when the overall score is under 80% or a module's under 70%
// (issue 15). Score: (killed + timeout) / (killed + timeout + survived + no coverage); mutants
// that do not compile, ignored ones and runtime errors are not valid mutants.
//
// Usage: node scripts/mutation-score.mjs [report.json]
import { readFileSync } from 'node:fs';

const OVERALL_MIN = 80;
const MODULE_MIN = 70;

/** Modules as issue 15 names them: a path prefix each, the first that matches wins. */
const MODULES = [
  ['src/placement', 'src/placement/'],
  ['src/reconcile', 'src/reconcile/'],
  ['src/spec', 'src/spec/'],
  ['src/codec', 'src/codec/'],
  ["providers' error classifiers", 'src/providers/'],
];

function emptyTally() {
  return { killed: 0, timeout: 0, survived: 0, noCoverage: 0, invalid: 0 };
}

function add(tally, status) {
  if (status === 'Killed') tally.killed++;
  else if (status === 'Timeout') tally.timeout++;
  else if (status === 'Survived') tally.survived++;
  else if (status === 'NoCoverage') tally.noCoverage++;
  else tally.invalid++;
}

/** The score in percent, or null when there is no valid mutant. */
function score(t) {
  const valid = t.killed + t.timeout + t.survived + t.noCoverage;
  return valid === 0 ? null : (100 * (t.killed + t.timeout)) / valid;
}

function moduleOf(file) {
  const normalised = file.replaceAll('\\', '/');
  const found = MODULES.find(([, prefix]) => normalised.includes(prefix));
  return found ? found[0] : 'other';
}

const reportPath = process.argv[2] ?? 'reports/mutation/mutation.json';
let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (err) {
  console.error(`cannot read the mutation report ${reportPath}: ${err.message}`);
  process.exit(1);
}

const overall = emptyTally();
const modules = new Map(MODULES.map(([name]) => [name, emptyTally()]));
const files = new Map();
for (const [file, { mutants }] of Object.entries(report.files ?? {})) {
  const name = moduleOf(file);
  if (!modules.has(name)) modules.set(name, emptyTally());
  const fileTally = emptyTally();
  for (const m of mutants) {
    add(overall, m.status);
    add(modules.get(name), m.status);
    add(fileTally, m.status);
  }
  files.set(file, fileTally);
}

const pct = (s) => (s === null ? '   n/a' : `${s.toFixed(2).padStart(6)}%`);
const row = (label, t) =>
  `${pct(score(t))}  ${label.padEnd(34)} killed ${t.killed}, timeout ${t.timeout}, ` +
  `survived ${t.survived}, no coverage ${t.noCoverage}, not valid ${t.invalid}`;

console.log('Mutation score, (killed + timeout) / valid mutants:');
for (const [file, t] of [...files].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${row(file, t)}`);
console.log('Per module:');
const failures = [];
for (const [name, t] of modules) {
  console.log(`  ${row(name, t)}`);
  const s = score(t);
  if (s === null) failures.push(`${name} has no valid mutant`);
  else if (s < MODULE_MIN) failures.push(`${name} scores ${s.toFixed(2)}%, under ${MODULE_MIN}%`);
}
console.log(row('overall', overall));
const total = score(overall);
if (total === null || total < OVERALL_MIN)
  failures.push(`overall scores ${pct(total).trim()}, under ${OVERALL_MIN}%`);

if (failures.length > 0) {
  for (const f of failures) console.error(`mutation score too low: ${f}`);
  process.exit(1);
}
console.log(`OK: overall at least ${OVERALL_MIN}%, every module at least ${MODULE_MIN}%.`);
