/**
 * npm run bench:rules — the rule gate's cost per registration as rules pile up: a 100-line
 * JavaScript tool checked against 1,000 and 10,000 machine-checkable rules (the shapes offline
 * analysis writes: esquery selectors for calls, regex literals, call arguments and absences; token
 * spans; regular expressions over the code), all in scope, as `checkRuleGates` runs them at
 * registration. Baselines in the same process: the same tool with 7 rules (parsing, the AST's values
 * and tokenizing once), and the first check of a rule set (patterns compiled) against the next ones.
 * Then the same with the rules read from PostgreSQL as the judge reads them at registration
 * (imported, enforcing, in the tool's language and scope), on a fresh database (DATABASE_URL's
 * server, else the embedded one), side by side: read at every check (the baseline), and kept in
 * memory between checks, where a check reads one row (imported_rules_generation) and the tool's
 * name, and reads the rules again only after a change; the first check after a change is shown too.
 * BENCH_RULES_DB=0 skips that part.
 * Target: under 50 ms per registration at 10,000 rules, the database's part included.
 */
import { performance } from 'node:perf_hooks';
import { checkRuleGates, type GateRule } from '../src/detection/static-analysis.js';
import { createPrismaClient } from '../src/infra/database.js';
import { SharedRuleStore, type RuleSubject } from '../src/lineage/shared-rules.js';
import { benchDatabase, fmtMs, percentile, printFigures, progress, rng } from './support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);

/** A 100-line tool: string handling, regexes, loops, a few helpers. */
function tool(): string {
  const lines = ['function run(input) {', '  const text = String(input ?? "").trim();', '  const out = [];'];
  for (let i = 0; lines.length < 96; i++) {
    lines.push(`  const part${i} = text.slice(${i}, ${i + 8}).toLowerCase();`);
    lines.push(`  if (/^[a-z]{${(i % 5) + 1}}$/.test(part${i})) out.push(part${i}.replace(/-+/g, '-'));`);
    lines.push(`  else if (part${i}.indexOf('@') > ${i}) out.push(String(${i} * 2 + part${i}.length));`);
  }
  lines.push('  const joined = out.join(",");', '  return { joined, count: out.length };', '}');
  return lines.join('\n');
}

/** `n` rules in offline analysis' shapes; a handful match the tool, as a real gate's few hits would. */
function rules(n: number, seed: number): GateRule[] {
  const random = rng(seed);
  const out: GateRule[] = [];
  for (let i = 0; i < n; i++) {
    const name = `m${Math.floor(random() * 1e9).toString(36)}`;
    const hit = i % 997 === 0; // about 1 in 1,000 matches
    const shapes: [string, string][] = [
      ['ast', `CallExpression[callee.property.name="${hit ? 'indexOf' : name}"]`],
      ['ast', `Literal[regex.pattern="${hit ? '-+' : `[^${name}]+`}"][regex.flags="g"]`],
      ['ast', `CallExpression[callee.property.name="slice"] > Literal[value=${hit ? 3 : 1000 + i}]`],
      ['ast', `BinaryExpression[operator="${hit ? '>' : ['>>>', '**', 'instanceof', '<<'][i % 4]}"]`],
      ['tokens', `\\. ${hit ? 'replace' : name} \\(`],
      ['tokens', `ID = ID \\. ${name} \\( ${i % 50}`],
      ['regex', `${hit ? 'toLowerCase' : name}\\(`],
    ];
    const [kind, pattern] = shapes[i % shapes.length]!;
    out.push({ ruleId: `r${i}`, description: `rule ${i}`, patternToAvoid: pattern, patternKind: kind });
  }
  // Absence rules (`Program:not(:has(…))`) are few: they are scoped to one lineage's descendants.
  for (let i = 0; i < n / 1000; i++)
    out.push({
      ruleId: `absent${i}`,
      description: 'keep trim',
      patternToAvoid: 'Program:not(:has(CallExpression[callee.property.name="trim"]))',
      patternKind: 'ast',
    });
  return out;
}

function time(code: string, set: GateRule[], runs: number): { first: number; times: number[]; hits: number } {
  let t = performance.now();
  const hits = checkRuleGates(code, set).length;
  const first = performance.now() - t;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    checkRuleGates(code, set);
    times.push(performance.now() - t);
  }
  return { first, times, hits };
}

const code = tool();
progress(`a ${code.split('\n').length}-line tool, ${RUNS} checks per rule set`);
// The baseline: one rule of each kind, so the tool is parsed, walked and tokenized once.
time(code, rules(7, 7), RUNS); // warm-up: the JIT, not the gate
const one = time(code, rules(7, 7), RUNS);
const baseline = percentile(one.times, 50);
const rows: [string, string, string][] = [['7 rules (parse, walk, tokens)', fmtMs(baseline), 'median: the baseline']];
const figures: Record<string, unknown> = { lines: code.split('\n').length, baselineMs: baseline };
for (const n of [1_000, 10_000]) {
  const r = time(code, rules(n, n), RUNS);
  const median = percentile(r.times, 50);
  rows.push([
    `${n.toLocaleString('en')} rules`,
    fmtMs(median),
    `median, ${(median / baseline).toFixed(1)}× the baseline; p95 ${fmtMs(percentile(r.times, 95))}; ${r.hits} violation(s)`,
  ]);
  rows.push([`${n.toLocaleString('en')} rules, first check`, fmtMs(r.first), 'patterns compiled on first use']);
  figures[`rules${n}`] = { medianMs: median, p95Ms: percentile(r.times, 95), firstMs: r.first, hits: r.hits };
}
if (process.env.BENCH_RULES_DB !== '0') {
  const db = await benchDatabase('dise_bench_rules');
  const prisma = createPrismaClient(db.url);
  const uncached = new SharedRuleStore(prisma, { cacheRules: false });
  const cached = new SharedRuleStore(prisma);
  // A version the database does not hold yet, as at its registration: every rule of its language is in scope.
  const subject: RuleSubject = { id: 'bench_tool@1.0.0', code, language: 'javascript' };
  const gate = async (store: SharedRuleStore) => checkRuleGates(code, await store.enforcing(subject));
  try {
    for (const n of [1_000, 10_000]) {
      const set = rules(n, n);
      await db.pool.query('DELETE FROM imported_rules');
      const values = set.map((r) => [r.ruleId, r.patternKind, r.patternToAvoid, r.description]);
      for (let i = 0; i < values.length; i += 1000) {
        const chunk = values.slice(i, i + 1000);
        await db.pool.query(
          `INSERT INTO imported_rules (rule_id, language, pattern_kind, pattern, pattern_hash, description, document,
             modified_at, mode, key_id, installation_id, source)
           SELECT r[1], 'javascript', r[2], r[3], md5(r[3]), r[4], '{}'::jsonb, now(), 'enforcing', 'bench', 'bench', 'bench'
           FROM jsonb_array_elements($1::jsonb) AS e, LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(e)) AS r) x`,
          [JSON.stringify(chunk)],
        );
      }
      await gate(uncached); // warm-up: the patterns compiled, as after any first check
      const readTimes: number[] = [];
      const cachedTimes: number[] = [];
      let t = performance.now();
      const hits = (await gate(cached)).length;
      const afterChange = performance.now() - t;
      // Alternate the two, so the machine's load falls on both alike.
      for (let i = 0; i < RUNS; i++) {
        t = performance.now();
        await gate(uncached);
        readTimes.push(performance.now() - t);
        t = performance.now();
        await gate(cached);
        cachedTimes.push(performance.now() - t);
      }
      // The database's part alone, kept in memory: the one-row check and the scope, no matching.
      const lookupTimes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        t = performance.now();
        await cached.enforcing(subject);
        lookupTimes.push(performance.now() - t);
      }
      const read = percentile(readTimes, 50);
      const kept = percentile(cachedTimes, 50);
      const lookup = percentile(lookupTimes, 50);
      const label = n.toLocaleString('en');
      rows.push([
        `${label} rules read + checked, read every time`,
        fmtMs(read),
        `median; p95 ${fmtMs(percentile(readTimes, 95))}; the baseline of the next row`,
      ]);
      rows.push([
        `${label} rules read + checked, kept in memory`,
        fmtMs(kept),
        `median, ${(kept / read).toFixed(2)}× read every time; p95 ${fmtMs(percentile(cachedTimes, 95))}; ${hits} violation(s)`,
      ]);
      rows.push([
        `${label} rules kept in memory, no matching`,
        fmtMs(lookup),
        `median; p95 ${fmtMs(percentile(lookupTimes, 95))}: the one-row check and the scope`,
      ]);
      rows.push([
        `${label} rules, first check after a change`,
        fmtMs(afterChange),
        'kept in memory: the rules read again',
      ]);
      figures[`rules${n}WithRead`] = { medianMs: read, p95Ms: percentile(readTimes, 95) };
      figures[`rules${n}Cached`] = {
        medianMs: kept,
        p95Ms: percentile(cachedTimes, 95),
        ratioToRead: kept / read,
        afterChangeMs: afterChange,
        lookupMs: lookup,
        hits,
      };
    }
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}
const at10k = (figures.rules10000 as { medianMs: number }).medianMs;
rows.push(['target at 10,000 rules', '< 50 ms', at10k < 50 ? 'met' : 'NOT met']);
const kept10k = (figures.rules10000Cached as { medianMs: number } | undefined)?.medianMs;
if (kept10k !== undefined)
  rows.push([
    'target at 10,000 rules, read + checked',
    '< 50 ms',
    kept10k < 50 ? 'met (kept in memory)' : 'NOT met (kept in memory)',
  ]);
printFigures('The rule gate per registration (checkRuleGates)', rows, figures);
process.exit(0);
