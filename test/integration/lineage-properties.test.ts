import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineageViolations } from '../../src/doctor/invariants.js';
import { LineageStore } from '../../src/lineage/store.js';
import { useTestStore } from '../support/database.js';

// Property tests over random lineage DAGs (merges, forks into other tools, chains up to 50 deep):
// the set-based SQL walks equal a plain in-memory walk, pruning taints exactly the reference's
// descendants, and the doctor's invariants hold afterwards.

const h = useTestStore();
let run = 0;

/** A DAG as parent lists: node i's parents are earlier nodes. */
const dagArb = fc
  .integer({ min: 2, max: 50 })
  .chain((n) =>
    fc.tuple(
      fc.constant(n),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean(), fc.boolean()), { minLength: n, maxLength: n }),
      fc.nat(n - 1),
    ),
  )
  .map(([n, picks, target]) => {
    const parents: number[][] = [[]];
    for (let i = 1; i < n; i++) {
      const [a, b, chain, merge] = picks[i]!;
      const first = chain ? i - 1 : a % i; // chains make depth, random picks make width
      const ps = [first];
      if (merge && i > 1) {
        const second = b % i;
        if (second !== first) ps.push(second);
      }
      parents.push(ps);
    }
    return { n, parents, target };
  });

function descendantsRef(parents: number[][], start: number): Set<number> {
  const children = parents.map(() => [] as number[]);
  parents.forEach((ps, child) => ps.forEach((p) => children[p]!.push(child)));
  const seen = new Set<number>();
  const stack = [...children[start]!];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...children[x]!);
  }
  return seen;
}

function ancestorsRef(parents: number[][], start: number): Set<number> {
  const seen = new Set<number>();
  const stack = [...parents[start]!];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...parents[x]!);
  }
  return seen;
}

describe('lineage walks over random DAGs', () => {
  it('ancestors, descendants and taint equal the in-memory reference; the invariants hold', async () => {
    await fc.assert(
      fc.asyncProperty(dagArb, async ({ parents, target }) => {
        const tool = `prop_${++run}`;
        // Every 7th node starts a fork: a version of another tool descended from this one.
        const id = (i: number) => (i % 7 === 6 ? `${tool}_fork@${i}.0.0` : `${tool}@${i}.0.0`);
        await h.store.registerMany(
          parents.map((ps, i) => {
            const [name, version] = id(i).split('@') as [string, string];
            return {
              name,
              version,
              parents: ps.map(id),
              code: 'function run(x) { return x; }',
              ...(ps.length ? { mutation: { type: 'refactor' as const, description: `v${i}` } } : {}),
            };
          }),
        );
        const ids = (set: Set<number>) => [...set].map(id).sort();
        expect((await h.store.descendants(id(target))).map((d) => d.id).sort()).toEqual(
          ids(descendantsRef(parents, target)),
        );
        expect((await h.store.ancestors(id(target))).map((a) => a.id).sort()).toEqual(
          ids(ancestorsRef(parents, target)),
        );
        expect(await h.store.countDescendants(id(target))).toBe(descendantsRef(parents, target).size);

        await h.db.query(`UPDATE tool_lineage SET health_status = 'pruned', pruned_at = now() WHERE tool_id = $1`, [
          id(target),
        ]);
        const tainted = await h.store.taintDescendants(id(target));
        expect(tainted.sort()).toEqual(ids(descendantsRef(parents, target)));
        const violations = (await lineageViolations(new LineageStore(h.db.prisma))).filter((v) =>
          v.ids.some((x) => x.startsWith(`${tool}`)),
        );
        expect(violations).toEqual([]);
      }),
      { numRuns: 25, seed: 20261126 },
    );
  }, 120_000);
});
