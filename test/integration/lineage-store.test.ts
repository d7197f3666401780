import { beforeAll, describe, expect, it } from 'vitest';
import { LineageError } from '../../src/lineage/errors.js';
import { renderLineage } from '../../src/cli/format/lineage-view.js';
import { useTestStore } from '../support/database.js';
import { AT_CHECK_VALIDATOR, tableCounts, version } from '../support/fixtures.js';

const h = useTestStore();

beforeAll(async () => {
  // The email validator's first diagram: v1.0.0 → {v1.1.0, v1.0.1} → v2.0.0 (merge) → v2.1.0 → v2.2.0
  await h.store.registerVersion(
    version('validator', '1.0.0', [], { tests: [{ name: 'accepts a plain address', input: 'a@b.co', expect: true }] }),
  );
  await h.store.registerVersion(version('validator', '1.1.0', ['validator@1.0.0']));
  await h.store.registerVersion(
    version('validator', '1.0.1', ['validator_v1.0.0'], {
      mutation: { type: 'bug_fix', description: 'null handling' },
    }),
  );
  await h.store.registerVersion(version('validator', '2.0.0', ['validator@1.1.0', 'validator@1.0.1']));
  await h.store.registerVersion(
    version('validator', '2.1.0', ['validator@2.0.0'], {
      tests: [{ name: 'rejects a double at', input: 'a@@b.co', expect: false }],
    }),
  );
  await h.store.registerVersion(
    version('validator', '2.2.0', ['validator@2.1.0'], {
      code: AT_CHECK_VALIDATOR,
      mutation: { type: 'optimization', description: 'Optimize for speed', fitnessBefore: 0.85, fitnessAfter: 0.95 },
    }),
  );
});

describe('merges in the lineage views', () => {
  it('lists every ancestor below a merge, both branches, with the merge marked, in text and JSON', async () => {
    const l = await h.store.getLineage('validator@2.2.0');
    expect(l.ancestors.map((a) => a.id)).toEqual([
      'validator@1.0.0',
      'validator@1.0.1',
      'validator@1.1.0',
      'validator@2.0.0',
      'validator@2.1.0',
    ]);
    expect(l.ancestors.find((a) => a.id === 'validator@2.0.0')!.parents).toEqual([
      { id: 'validator@1.1.0', type: 'merge' },
      { id: 'validator@1.0.1', type: 'merge' },
    ]);
    const text = renderLineage(l, { healthOf: new Map() });
    expect(text).toContain('├─ validator@1.0.1 (✓ Healthy)  (merged in via validator@2.0.0)');
    expect(text).toContain('├─ validator@2.0.0 (✓ Healthy)  merge of validator@1.1.0 + validator@1.0.1');
    expect(text).toMatch(/└─ validator@2\.2\.0 \(.*\) ← You are here/);
  });
});

describe('registering versions', () => {
  it('derives edge types and generation: direct, merge and fork', async () => {
    const edges = await h.db.query<{ child_id: string; parent_id: string; relationship_type: string }>(
      'SELECT child_id, parent_id, relationship_type FROM lineage_relationships ORDER BY id',
    );
    expect(edges).toContainEqual({
      child_id: 'validator@1.1.0',
      parent_id: 'validator@1.0.0',
      relationship_type: 'direct',
    });
    expect(edges.filter((e) => e.child_id === 'validator@2.0.0').map((e) => e.relationship_type)).toEqual([
      'merge',
      'merge',
    ]);

    const fork = await h.store.registerVersion(version('email_only', '1.0.0', ['validator@2.1.0']));
    expect(fork.relationship).toBe('fork');
    expect(fork.generation).toBe(4);

    const v220 = await h.store.getLineage('validator@2.2.0');
    expect(v220.generation).toBe(4);
    expect(v220.ancestorPath).toEqual(['validator@1.0.0', 'validator@1.1.0', 'validator@2.0.0', 'validator@2.1.0']);
  });

  it('accepts the legacy spelling name_vX.Y.Z and returns every field of a ToolLineage', async () => {
    const l = await h.store.getLineage('validator_v2.2.0');
    expect(l.id).toBe('validator@2.2.0');
    expect(l.fullName).toBe('validator_v2.2.0');
    expect(l.parents).toEqual(['validator@2.1.0']);
    expect(l.health).toBe('healthy');
    expect(l.mutations).toHaveLength(1);
    expect(l.mutations[0]).toMatchObject({
      mutationType: 'optimization',
      description: 'Optimize for speed',
      fitnessBefore: 0.85,
      fitnessAfter: 0.95,
    });
    expect(l.fitnessHistory).toEqual([0.95]);
    for (const key of [
      'children',
      'failures',
      'failureCount',
      'avoidanceRules',
      'inheritedRules',
      'executionCount',
      'successRate',
      'createdAt',
      'lastExecuted',
      'prunedAt',
      'regeneratedFrom',
    ]) {
      expect(l).toHaveProperty(key);
    }
    const root = await h.store.getLineage('validator@1.0.0');
    expect(root.children.sort()).toEqual(['validator@1.0.1', 'validator@1.1.0']);
    expect(root.generation).toBe(0);
    expect(root.ancestorPath).toEqual([]);
  });

  it('walks ancestors and descendants through merges', async () => {
    const ancestors = (await h.store.ancestors('validator@2.2.0')).map((a) => a.id);
    expect(ancestors.sort()).toEqual([
      'validator@1.0.0',
      'validator@1.0.1',
      'validator@1.1.0',
      'validator@2.0.0',
      'validator@2.1.0',
    ]);
    const descendants = (await h.store.descendants('validator@1.0.1')).map((d) => d.id);
    expect(descendants).toContain('validator@2.0.0');
    expect(descendants).toContain('validator@2.2.0');
    expect(descendants).not.toContain('validator@1.1.0');
    const fromRoot = (await h.store.descendants('validator@1.0.0')).map((d) => d.id);
    expect(fromRoot.sort()).toEqual([
      'email_only@1.0.0',
      'validator@1.0.1',
      'validator@1.1.0',
      'validator@2.0.0',
      'validator@2.1.0',
      'validator@2.2.0',
    ]);
    expect(await h.store.countDescendants('validator@1.0.0')).toBe(6);
  });

  it("gives a version the suite of it and its ancestors, never a sibling branch's tests", async () => {
    await h.store.registerVersion(
      version('validator', '1.2.0', ['validator@1.1.0'], {
        tests: [{ name: 'sibling only', input: 'x', expect: false }],
      }),
    );
    const suite = (await h.store.suiteFor('validator@2.2.0')).map((t) => t.name);
    expect(suite).toEqual(['accepts a plain address', 'rejects a double at']);
  });

  it('inherits the closure of its ancestors’ rules and every global rule', async () => {
    await h.db.query(
      `INSERT INTO avoidance_rules (rule_id, description, pattern_to_avoid, reason, source_failure, propagation_scope)
       VALUES ('avoid_parent', 'no substring checks', 'includes\\(', 'too permissive', 'validator@2.1.0', 'descendants'),
              ('avoid_global', 'no eval', 'eval\\(', 'security', 'validator@1.0.0', 'global')`,
    );
    await h.db.query(
      `INSERT INTO rule_inheritance (tool_id, rule_id, via) VALUES ('validator@2.1.0', 'avoid_parent', 'source')`,
    );
    const child = await h.store.registerVersion(version('validator', '2.1.1', ['validator@2.1.0']));
    expect(child.inheritedRules).toEqual(['avoid_global', 'avoid_parent']);
    const grandchild = await h.store.registerVersion(version('validator', '2.1.2', ['validator@2.1.1']));
    expect(grandchild.inheritedRules).toEqual(['avoid_global', 'avoid_parent']);
    expect((await h.store.getLineage('validator@2.1.2')).inheritedRules).toEqual(['avoid_global', 'avoid_parent']);
  });

  it('registers a batch parents-first whatever its order', async () => {
    const out = await h.store.registerMany([version('order', '1.1.0', ['order@1.0.0']), version('order', '1.0.0')]);
    expect(out.map((o) => [o.id, o.generation])).toEqual([
      ['order@1.1.0', 1],
      ['order@1.0.0', 0],
    ]);
  });

  it('taints every healthy descendant in one statement', async () => {
    await h.store.registerVersion(version('taint', '1.0.0'));
    await h.store.registerVersion(version('taint', '1.1.0', ['taint@1.0.0']));
    await h.store.registerVersion(version('taint', '1.2.0', ['taint@1.1.0']));
    await h.store.registerVersion(version('taint', '1.1.1', ['taint@1.0.0']));
    const tainted = await h.store.taintDescendants('taint@1.1.0');
    expect(tainted).toEqual(['taint@1.2.0']);
    expect((await h.store.getLineage('taint@1.1.1')).health).toBe('healthy');
    expect((await h.store.getLineage('taint@1.2.0')).health).toBe('degraded');
  });
});

describe('bad input is refused with a typed error and writes nothing', () => {
  async function expectRefused(action: () => Promise<unknown>, code: string, message: RegExp): Promise<void> {
    const before = await tableCounts(h.db);
    const err = await action().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LineageError);
    expect((err as LineageError).code).toBe(code);
    expect((err as LineageError).message).toMatch(message);
    expect(await tableCounts(h.db)).toEqual(before);
  }

  it('an unknown parent', async () => {
    await expectRefused(
      () => h.store.registerVersion(version('validator', '3.0.0', ['validator@2.1.0', 'validator@9.9.9'])),
      'UNKNOWN_PARENT',
      /parents\[1\].*validator@9\.9\.9/,
    );
  });

  it('a duplicate id', async () => {
    await expectRefused(
      () => h.store.registerVersion(version('validator', '2.2.0', ['validator@2.1.0'])),
      'DUPLICATE_VERSION',
      /validator@2\.2\.0 is already registered/,
    );
  });

  it('a duplicate id that also names an unknown parent: the duplicate is named', async () => {
    await expectRefused(
      () => h.store.registerVersion(version('validator', '2.2.0', ['validator@9.9.9'])),
      'DUPLICATE_VERSION',
      /validator@2\.2\.0 is already registered/,
    );
  });

  it('an unknown version it was regenerated from, replaces or reverts', async () => {
    for (const field of ['regeneratedFrom', 'replaces', 'reverts'] as const) {
      await expectRefused(
        () =>
          h.store.registerVersion(version('validator', '3.1.0', ['validator@2.1.0'], { [field]: 'validator@8.8.8' })),
        'UNKNOWN_VERSION',
        new RegExp(`^${field}: unknown version validator@8\\.8\\.8$`),
      );
    }
  });

  it('an edge that would close a cycle', async () => {
    await expectRefused(
      () => h.store.addParent('validator@1.0.0', 'validator@2.2.0'),
      'CYCLE',
      /would close a cycle.*validator@2\.2\.0 already descends from validator@1\.0\.0/,
    );
    await expectRefused(
      () => h.store.registerVersion(version('validator', '4.0.0', ['validator@4.0.0'])),
      'CYCLE',
      /own parent/,
    );
  });

  it('an invalid name', async () => {
    await expectRefused(
      () => h.store.registerVersion(version('Email-Validator', '1.0.0')),
      'INVALID_NAME',
      /name: invalid tool name "Email-Validator"/,
    );
  });

  it('an invalid semver', async () => {
    await expectRefused(
      () => h.store.registerVersion(version('validator', '2.1')),
      'INVALID_SEMVER',
      /version: invalid version "2\.1"/,
    );
    await expectRefused(
      () => h.store.registerVersion(version('validator', '5.0.0', ['validator@1.x.0'])),
      'INVALID_SEMVER',
      /parents\[0\]/,
    );
  });

  it('tool code that does not parse, or defines no run', async () => {
    await expectRefused(
      () =>
        h.store.registerVersion(
          version('validator', '6.0.0', ['validator@2.1.0'], { code: 'function run(input) { return input +; }' }),
        ),
      'INVALID_CODE',
      /code: tool code does not parse at line 1, column \d+/,
    );
    await expectRefused(
      () =>
        h.store.registerVersion(
          version('validator', '6.0.0', ['validator@2.1.0'], { code: 'function main(x) { return x; }' }),
        ),
      'INVALID_CODE',
      /must define a top-level `function run\(input\)`/,
    );
  });

  it('a mutation on a root and a test name used twice', async () => {
    await expectRefused(
      () => h.store.registerVersion(version('solo', '1.0.0', [], { mutation: { type: 'refactor', description: 'x' } })),
      'INVALID_INPUT',
      /mutation: a root version/,
    );
    const tests = [
      { name: 't', input: 1, expect: 1 },
      { name: 't', input: 2, expect: 2 },
    ];
    await expectRefused(
      () => h.store.registerVersion(version('solo', '1.0.0', [], { tests })),
      'INVALID_INPUT',
      /tests\[1\]\.name: "t" is used twice/,
    );
  });

  it('a PRUNED or FAILED parent, naming its healed replacement', async () => {
    await h.store.registerVersion(version('healed', '1.0.0'));
    await h.store.registerVersion(version('healed', '1.1.0', ['healed@1.0.0']));
    await h.db.query(`UPDATE tool_lineage SET health_status = 'pruned' WHERE tool_id = 'healed@1.1.0'`);
    await expectRefused(
      () => h.store.registerVersion(version('healed', '1.2.0', ['healed@1.1.0'])),
      'UNUSABLE_PARENT',
      /healed@1\.1\.0 is PRUNED.*no healed replacement exists yet/,
    );
    await h.store.registerVersion(
      version('healed', '1.1.1', ['healed@1.0.0'], {
        health: 'regenerated',
        regeneratedFrom: 'healed@1.0.0',
        replaces: 'healed@1.1.0',
      }),
    );
    await expectRefused(
      () => h.store.registerVersion(version('healed', '1.2.0', ['healed@1.1.0'])),
      'UNUSABLE_PARENT',
      /use its healed replacement healed@1\.1\.1/,
    );
    const healed = await h.store.getLineage('healed@1.1.1');
    expect(healed).toMatchObject({ health: 'regenerated', regeneratedFrom: 'healed@1.0.0', parents: ['healed@1.0.0'] });
    expect((await h.store.getLineage('healed@1.1.0')).regeneratedAs).toEqual(['healed@1.1.1']);
    // The regenerated edge is not ancestry: the healed version is no descendant of the pruned one.
    expect((await h.store.descendants('healed@1.1.0')).map((d) => d.id)).toEqual([]);
  });

  it('a batch is all or nothing, and its cycles are refused', async () => {
    const batch = [
      version('batch', '1.1.0', ['batch@1.0.0']),
      version('batch', '1.0.0'),
      version('batch', '1.2.0', ['batch@1.1.0', 'batch@0.9.0']),
    ];
    await expectRefused(
      () => h.store.registerMany(batch),
      'UNKNOWN_PARENT',
      /parents\[1\]: unknown parent version batch@0\.9\.0/,
    );
    await expectRefused(
      () => h.store.registerMany([version('loop', '1.0.0', ['loop@2.0.0']), version('loop', '2.0.0', ['loop@1.0.0'])]),
      'CYCLE',
      /name each other as parents/,
    );
  });

  it('a failure inside the transaction rolls every write back', async () => {
    // A test with an over-long name passes validation but fails in the database after the version row
    // and its edges were written; nothing of it may remain.
    const tests = [{ name: 'x'.repeat(300), input: 1, expect: 1 }];
    const before = await tableCounts(h.db);
    await expect(
      h.store.registerVersion(version('validator', '7.0.0', ['validator@2.1.0'], { tests })),
    ).rejects.toThrow();
    expect(await tableCounts(h.db)).toEqual(before);
  });
});
