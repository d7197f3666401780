import { checkRuleGates, type GateRule } from '../detection/static-analysis.js';
import type { ToolLanguage } from '../shared/language.js';

/** A rule as `dise rules check` reports it: local or imported, and whether it refuses or only reports. */
export interface CheckRule extends GateRule {
  language: ToolLanguage | null;
  /** error: the rule refuses versions here; warning: it only reports (an imported rule in quarantine). */
  level: 'error' | 'warning';
  help: string;
  origin: 'local' | 'imported';
}

export interface CheckedFile {
  /** The path as given, relative to where the command ran: SARIF's artifact URI. */
  uri: string;
  language: ToolLanguage;
  code: string;
}

/** The language of a source file by its extension; null for files the rules cannot read. */
export function languageOf(file: string): ToolLanguage | null {
  if (/\.(?:js|mjs|cjs)$/i.test(file)) return 'javascript';
  if (/\.py$/i.test(file)) return 'python';
  return null;
}

interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: 'error' | 'warning';
  message: { text: string };
  locations: {
    physicalLocation: {
      artifactLocation: { uri: string };
      region: { startLine: number; snippet: { text: string } };
    };
  }[];
}

/**
 * The learned rules' matches in ordinary source files as a SARIF 2.1.0 log: one run, the rules as
 * the driver's rules, one result per rule and file (its first match). A file a rule cannot read
 * (it does not parse) is a notification of the invocation, not a result.
 */
export function sarifLog(rules: CheckRule[], files: CheckedFile[], version: string): object {
  const results: SarifResult[] = [];
  const notifications: { level: 'warning'; message: { text: string } }[] = [];
  for (const f of files) {
    rules.forEach((rule, ruleIndex) => {
      if (rule.language && rule.language !== f.language) return;
      let found;
      try {
        found = checkRuleGates(f.code, [rule], f.language);
      } catch (err) {
        notifications.push({ level: 'warning', message: { text: `${f.uri}: ${(err as Error).message}` } });
        return;
      }
      for (const v of found) {
        if (v.line < 1) {
          notifications.push({
            level: 'warning',
            message: { text: `${f.uri}: cannot be tokenized to check ${rule.ruleId}` },
          });
          continue;
        }
        results.push({
          ruleId: rule.ruleId,
          ruleIndex,
          level: rule.level,
          message: { text: `${rule.description} (${rule.patternKind} pattern ${rule.patternToAvoid})` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.uri },
                region: { startLine: v.line, snippet: { text: v.excerpt } },
              },
            },
          ],
        });
      }
    });
  }
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'dise',
            version,
            rules: rules.map((r) => ({
              id: r.ruleId,
              shortDescription: { text: r.description || r.ruleId },
              help: { text: r.help || r.description || r.ruleId },
              defaultConfiguration: { level: r.level },
              properties: {
                patternKind: r.patternKind,
                pattern: r.patternToAvoid,
                origin: r.origin,
                language: r.language,
              },
            })),
          },
        },
        invocations: [{ executionSuccessful: true, toolExecutionNotifications: notifications }],
        results,
      },
    ],
  };
}
