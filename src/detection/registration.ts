import type { DiseConfig } from '../config/schema.js';
import type { LineageStore, RegistrationValidator } from '../lineage/store.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { validateVersion } from './validate-version.js';

/**
 * The check every new version passes at registration (`dise tool add`): static analysis, the
 * avoidance-rule gates, its suite and regression against its first parent. A version with a
 * critical finding is stored FAILED with its failure records, and so never routed.
 */
export function registrationValidator(store: LineageStore, sandbox: Sandbox, config: DiseConfig): RegistrationValidator {
  return async (tx, version) => {
    const suite = await store.suiteFor(version.id, tx);
    const rules = await store.rulesInScope(version.id, tx);
    const parentId = version.parents[0];
    const parent = parentId ? await tx.toolLineage.findUnique({ where: { toolId: parentId }, select: { toolId: true, code: true } }) : null;
    const report = validateVersion(sandbox, config, {
      id: version.id,
      code: version.code,
      suite: suite.map((t) => ({ id: t.id, name: t.name, input: t.input, expected: t.expected, critical: t.critical })),
      rules,
      parent: parent ? { id: parent.toolId, code: parent.code } : null,
    });
    return { health: report.healthy ? 'healthy' : 'failed', failures: report.failures };
  };
}
