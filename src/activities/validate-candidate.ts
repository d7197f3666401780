import { detectSecurityIssues, checkRuleGates } from '../detection/static-analysis.js';
import { runSuite } from '../detection/test-runner.js';
import { jsonEqual } from '../detection/json-equal.js';
import { suiteOf } from '../healing/ancestry.js';
import { runCase } from '../healing/failing-cases.js';
import { LineageError } from '../lineage/errors.js';
import { codeHash, parseToolCode } from '../lineage/tool-code.js';
import type { CandidateValidation, Rejection } from '../shared/heal-types.js';
import type { JsonValue } from '../shared/lineage-types.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface ValidateCandidateInput {
  healId: string;
  attempt: number;
  code: string;
  ancestorId: string;
  failedId: string;
  culpritId: string;
  ruleIds: string[];
  requireTests: boolean;
}

const MAX_REPLAY = 200;

/**
 * Step 8: a candidate must parse and define run(), pass static analysis and every rule gate in scope
 * (the new rule included), pass the ancestor's suite — minted tests included — wherever the ancestor
 * does, and answer recorded real inputs as the ancestor does. Each rejection says why, for the next
 * attempt.
 */
export function validateCandidateActivity(deps: ActivityDeps) {
  return async function validateCandidate(input: ValidateCandidateInput): Promise<CandidateValidation> {
    const ancestor = await requireVersion(deps, input.ancestorId);
    const rejections: Rejection[] = [];
    try {
      parseToolCode(input.code);
    } catch (err) {
      if (!(err instanceof LineageError)) throw err;
      return { ok: false, rejections: [{ kind: 'static', message: err.message }], testsRun: 0, replayed: 0 };
    }
    if (deps.config.self_healing.detection.static_analysis) {
      const security = detectSecurityIssues(input.code);
      if (security.failure) rejections.push({ kind: 'static', message: security.failure.description });
    }
    const rules = [...(await deps.store.rulesInScope(input.ancestorId)), ...(await deps.prisma.avoidanceRule.findMany({ where: { ruleId: { in: input.ruleIds } } }))];
    for (const v of checkRuleGates(input.code, rules)) {
      rejections.push({ kind: 'gate', message: `violates ${v.ruleId} "${v.description}" at line ${v.line}: ${v.excerpt}` });
    }

    let testsRun = 0;
    if (input.requireTests) {
      const suite = await suiteOf(deps.store, input.ancestorId);
      const candidate = runSuite(deps.sandbox, codeHash(input.code), input.code, suite);
      const baseline = runSuite(deps.sandbox, codeHash(ancestor.code), ancestor.code, suite);
      testsRun = suite.length;
      candidate.forEach((r, i) => {
        if (r.passed) return;
        if (r.critical || baseline[i]!.passed) {
          rejections.push({
            kind: 'test',
            message: `fails "${r.name}": ${r.error ? r.error.message : `expected ${JSON.stringify(r.expected)}, got ${JSON.stringify(r.actual)}`}`,
          });
        }
      });
    }

    // Replay real inputs that reached the failed versions: the candidate must answer as the ancestor.
    const recorded = await deps.prisma.execution.findMany({
      where: { toolId: { in: [input.failedId, input.culpritId] }, input: { not: null as never } },
      orderBy: { id: 'desc' },
      take: MAX_REPLAY,
      distinct: ['inputHash'],
      select: { input: true },
    });
    let replayed = 0;
    for (const { input: raw } of recorded) {
      const value = raw as JsonValue;
      const expected = runCase(deps.sandbox, ancestor.code, value);
      if (expected.errorType !== undefined) continue; // the ancestor cannot answer it: nothing to compare
      replayed++;
      const got = runCase(deps.sandbox, input.code, value);
      if (got.errorType !== undefined || !jsonEqual(got.output, expected.output)) {
        rejections.push({
          kind: 'replay',
          message: `recorded input ${JSON.stringify(value)}: ${input.ancestorId} answers ${JSON.stringify(expected.output)}, the candidate ${got.errorType ?? JSON.stringify(got.output)}`,
        });
        if (rejections.filter((r) => r.kind === 'replay').length >= 5) break;
      }
    }
    return { ok: rejections.length === 0, rejections, testsRun, replayed };
  };
}
