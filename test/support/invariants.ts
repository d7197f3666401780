import { lineageViolations as allViolations } from '../../src/doctor/invariants.js';
import { LineageStore } from '../../src/lineage/store.js';
import type { TestDatabase } from './database.js';

/** `dise doctor`'s lineage invariants, limited to the versions of one tool. */
export async function lineageViolations(db: TestDatabase, toolName: string): Promise<string[]> {
  return (await allViolations(new LineageStore(db.prisma)))
    .filter((v) => v.ids.some((id) => id.startsWith(`${toolName}@`)))
    .map((v) => `[${v.invariant}] ${v.message}`);
}
