import type { ImportSummary, SharedRuleStore } from '../lineage/shared-rules.js';
import { PackRefusedError, selfCheck, verifyPack } from './pack.js';

/**
 * A pack from a file or a peer, checked whole before anything is stored: the key trusted here, the
 * signature, every document's digest, and every live rule with a pattern against its own examples
 * (its pattern matches its invalid code and not its valid code; a semantic rule has no pattern to
 * check). One failure refuses the whole pack.
 */
export async function importPack(shared: SharedRuleStore, raw: unknown, source: string): Promise<ImportSummary> {
  const keys = await shared.trustedKeys();
  const pack = verifyPack(raw, (id) => keys.get(id));
  for (const doc of pack.rules) {
    if (doc.withdrawn) continue; // a retraction needs no evidence
    let check;
    try {
      check = await selfCheck(doc);
    } catch (err) {
      check = { ok: false, problem: `its examples cannot be checked: ${(err as Error).message}` };
    }
    if (!check.ok)
      throw new PackRefusedError('bad_example', `rule ${doc.id} disagrees with its examples: ${check.problem}`);
  }
  return shared.importPack(pack, source);
}
