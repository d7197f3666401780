import type { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { InvalidIdError, parseVersionId, toVersionRef, type VersionRef } from '../shared/ids.js';
import {
  HEALTH,
  MUTATION_TYPES,
  type DetectedFailure,
  type DifferentialReport,
  type Health,
  type JsonValue,
  type MutationType,
  type RelationshipType,
} from '../shared/lineage-types.js';
import { LineageError } from './errors.js';
import type { FailureStore } from './failures.js';
import type { GraphStore } from './graph.js';
import { normalizeVersionId } from './ids.js';
import type { RuleStore } from './rules.js';
import type { AuthoredTest, TestStore } from './tests.js';
import { checkToolCode, codeHash } from '../detection/tool-code.js';
import { isToolLanguage, type ToolLanguage } from '../shared/language.js';

/** A JSON object, e.g. a JSON Schema. */
export type JsonObject = { [key: string]: JsonValue };

export interface MutationInput {
  type: MutationType;
  description: string;
  prompt?: string | null;
  fitnessBefore?: number | null;
  fitnessAfter?: number | null;
}

export type TestCaseInput = AuthoredTest;

export interface RegisterVersionInput {
  name: string;
  version: string;
  /** Parent ids, either spelling. None for a root; two or more make a merge. */
  parents?: string[];
  code: string;
  /** The code's language. Left out: the first parent's, or javascript for a root. */
  language?: ToolLanguage;
  /** JSON Schema of the input (a JSON object). Left out: the first parent's, or none. */
  inputSchema?: JsonObject | null;
  /** JSON Schema of the output. Left out: the first parent's, or none. */
  outputSchema?: JsonObject | null;
  description?: string;
  category?: string;
  mutation?: MutationInput | null;
  tests?: TestCaseInput[];
  /** Stored health (default healthy). Validation by the detectors sets it before registration. */
  health?: Health;
  /** The healthy ancestor a regenerated version was built from. */
  regeneratedFrom?: string | null;
  /** For regenerated versions: the failed version this one replaces (a `regenerated` edge). */
  replaces?: string | null;
  /** For reverts: the pruned version whose change this one undoes (a `reverts` edge). */
  reverts?: string | null;
  /** The heal that creates this version (unique: promotion is idempotent). */
  healId?: string | null;
}

/** What a registration validator decided about a version. */
export interface ValidationOutcome {
  health: Health;
  failures: DetectedFailure[];
  /** The differential check against the parent(s), when it ran. */
  differential?: DifferentialReport | null;
  /** What imported rules in quarantine matched: reported, never refused. */
  reports?: string[];
}

/** The version a validator looks at. */
export interface ValidatedVersion {
  id: string;
  code: string;
  language: ToolLanguage;
  parents: string[];
}

/** Writes what the judge decided, inside the registration's transaction. */
export type RecordVerdict = (tx: Prisma.TransactionClient) => Promise<ValidationOutcome>;
/** Judges a version from the evidence already read: runs tool code, with no transaction open. */
export type RunJudge = () => Promise<RecordVerdict>;
/**
 * A registration check in three steps, so that no database transaction is open while tool code runs:
 * read the evidence (inside a transaction that sees the batch inserted), judge, then record.
 */
export type RegistrationValidator = (tx: Prisma.TransactionClient, version: ValidatedVersion) => Promise<RunJudge>;

/** Ends the evidence-reading transaction on purpose: it rolls back and carries the judges out. */
class EvidenceRead extends Error {
  constructor(readonly judges: RunJudge[]) {
    super('registration evidence read (rolled back on purpose)');
  }
}

type CheckedInput = {
  input: RegisterVersionInput;
  index: number;
  ref: VersionRef;
  prepared: ReturnType<Registration['prepare']>;
};

export interface RegisteredVersion {
  id: string;
  name: string;
  version: string;
  generation: number;
  parents: string[];
  relationship: RelationshipType | null;
  health: Health;
  language: ToolLanguage;
  inheritedRules: string[];
  /** What validation found (empty when the version passed or was not validated). */
  failures?: DetectedFailure[];
  /** The differential check against the parent(s), when it ran. */
  differential?: DifferentialReport | null;
  /** What imported rules in quarantine matched: reported, never refused. */
  reports?: string[];
}

/**
 * Registration: a version with its edges, mutation, authored tests and inherited rules, judged with
 * no transaction open and written in one short transaction. Every refusal is a LineageError raised before anything is written.
 */
export class Registration {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly graph: GraphStore,
    private readonly failures: FailureStore,
    private readonly rules: RuleStore,
    private readonly tests: TestStore,
  ) {}

  /** Registers one version with its edges, mutation, tests and inherited rules, in one transaction. */
  async registerVersion(input: RegisterVersionInput): Promise<RegisteredVersion> {
    const [registered] = await this.registerMany([input]);
    return registered!;
  }

  /**
   * Registers several versions in one transaction, parents before children whatever the input order:
   * either all are registered or, on the first refusal, none. With a validator, each version is judged
   * first: the batch is inserted in a transaction that only reads each version's evidence and rolls
   * back, the judge runs tool code with no transaction open, and a second short transaction inserts
   * the batch again with the verdicts (a child whose parent was judged FAILED is refused there).
   */
  async registerMany(
    inputs: RegisterVersionInput[],
    options: {
      validate?: RegistrationValidator;
      afterInsert?: (tx: Prisma.TransactionClient, registered: RegisteredVersion) => Promise<void>;
    } = {},
  ): Promise<RegisteredVersion[]> {
    const ordered = orderParentsFirst(
      inputs.map((input, index) => ({ input, index, ref: this.validateIdentity(input) })),
    );
    const checked = ordered.map((item) => ({ ...item, prepared: this.prepare(item.input, item.ref) }));
    const verdicts: RecordVerdict[] = [];
    if (options.validate) {
      for (const judge of await this.readEvidence(checked, options.validate)) verdicts.push(await judge());
    }
    const results = await this.prisma.$transaction(
      async (tx) => {
        const out: { index: number; registered: RegisteredVersion }[] = [];
        for (const [i, item] of checked.entries()) {
          const registered = await this.insertVersion(tx, item.ref, item.input, item.prepared);
          if (verdicts[i]) await this.applyVerdict(tx, registered, await verdicts[i](tx));
          await options.afterInsert?.(tx, registered);
          out.push({ index: item.index, registered });
        }
        return out;
      },
      { timeout: 30_000, maxWait: 10_000 },
    );
    return results.sort((a, b) => a.index - b.index).map((r) => r.registered);
  }

  /**
   * Inserts the batch in a transaction that is always rolled back, so each version's evidence (its
   * suite, inherited rules, parents' code) is read as it will be once registered; returns the judges.
   */
  private async readEvidence(checked: CheckedInput[], validate: RegistrationValidator): Promise<RunJudge[]> {
    try {
      await this.prisma.$transaction(
        async (tx) => {
          const judges: RunJudge[] = [];
          for (const item of checked) {
            const registered = await this.insertVersion(tx, item.ref, item.input, item.prepared);
            judges.push(
              await validate(tx, {
                id: registered.id,
                code: item.input.code,
                language: registered.language,
                parents: registered.parents,
              }),
            );
          }
          throw new EvidenceRead(judges);
        },
        { timeout: 30_000, maxWait: 10_000 },
      );
    } catch (err) {
      if (err instanceof EvidenceRead) return err.judges;
      throw err;
    }
    throw new Error('the evidence-reading transaction committed; it must always roll back');
  }

  private async applyVerdict(tx: Prisma.TransactionClient, registered: RegisteredVersion, outcome: ValidationOutcome) {
    await this.graph.setHealth(registered.id, outcome.health, tx);
    await this.failures.record(registered.id, outcome.failures, tx);
    registered.health = outcome.health;
    registered.failures = outcome.failures;
    if (outcome.differential !== undefined) registered.differential = outcome.differential;
    if (outcome.reports?.length) registered.reports = outcome.reports;
  }

  /** Checks everything that needs no database; throws before any write. */
  private prepare(input: RegisterVersionInput, ref: VersionRef) {
    const parents = this.validateParents(input.parents ?? [], ref.id);
    if (input.language !== undefined && !isToolLanguage(input.language)) {
      throw new LineageError(
        'INVALID_INPUT',
        `language: unknown language "${String(input.language)}" (javascript or python)`,
        'language',
      );
    }
    // A child that inherits its language is parsed once its parent's language is read.
    if (input.language || !parents.length) checkToolCode(input.code, input.language ?? 'javascript');
    this.validateMutation(input.mutation, parents.length);
    this.validateTests(input.tests ?? []);
    const health = input.health ?? 'healthy';
    if (!HEALTH.includes(health))
      throw new LineageError('INVALID_INPUT', `health: unknown value "${health}"`, 'health');
    const regeneratedFrom = input.regeneratedFrom
      ? normalizeVersionId(input.regeneratedFrom, 'regeneratedFrom').id
      : null;
    const replaces = input.replaces ? normalizeVersionId(input.replaces, 'replaces').id : null;
    const reverts = input.reverts ? normalizeVersionId(input.reverts, 'reverts').id : null;
    return { parents, health, regeneratedFrom, replaces, reverts };
  }

  private async insertVersion(
    tx: Prisma.TransactionClient,
    ref: VersionRef,
    input: RegisterVersionInput,
    { parents, health, regeneratedFrom, replaces, reverts }: ReturnType<Registration['prepare']>,
  ): Promise<RegisteredVersion> {
    // One read answers every id the version names: itself (it must be new), its parents and its
    // regeneratedFrom / replaces / reverts (they must exist).
    const named = [...new Set([ref.id, ...parents, regeneratedFrom, replaces, reverts])].filter(
      (id): id is string => id !== null,
    );
    const rows = await tx.toolLineage.findMany({
      where: { toolId: { in: named } },
      select: {
        toolId: true,
        toolName: true,
        generation: true,
        healthStatus: true,
        language: true,
        inputSchema: true,
        outputSchema: true,
        code: true,
      },
    });
    if (rows.some((r) => r.toolId === ref.id)) {
      throw new LineageError('DUPLICATE_VERSION', `version ${ref.id} is already registered`, 'version', [ref.id]);
    }
    const known = new Map(rows.map((r) => [r.toolId, r]));
    const parentRows = parents.flatMap((id) => known.get(id) ?? []);
    const byId = new Map(parentRows.map((p) => [p.toolId, p]));
    for (const [i, parentId] of parents.entries()) {
      const parent = byId.get(parentId);
      if (!parent) {
        throw new LineageError('UNKNOWN_PARENT', `parents[${i}]: unknown parent version ${parentId}`, `parents[${i}]`, [
          parentId,
        ]);
      }
      // A revert is built on the failed version it replaces: the one heal-made exception.
      const revertOfIt = reverts !== null && replaces === parentId;
      if ((parent.healthStatus === 'pruned' || parent.healthStatus === 'failed') && !revertOfIt) {
        const replacement = await this.graph.healedReplacement(parentId, tx);
        throw new LineageError(
          'UNUSABLE_PARENT',
          `parents[${i}]: ${parentId} is ${parent.healthStatus.toUpperCase()} and cannot be a parent; ` +
            (replacement ? `use its healed replacement ${replacement}` : 'no healed replacement exists yet'),
          `parents[${i}]`,
          replacement ? [parentId, replacement] : [parentId],
        );
      }
    }
    for (const [field, id] of [
      ['regeneratedFrom', regeneratedFrom],
      ['replaces', replaces],
      ['reverts', reverts],
    ] as const) {
      if (id && !known.has(id)) {
        throw new LineageError('UNKNOWN_VERSION', `${field}: unknown version ${id}`, field, [id]);
      }
    }

    const language =
      input.language ?? (parents.length ? (byId.get(parents[0]!)!.language as ToolLanguage) : 'javascript');
    if (!input.language && parents.length) checkToolCode(input.code, language);
    // A child answers the same calls as its parent unless it says otherwise (heals build on a parent too).
    const firstParent = parents.length ? byId.get(parents[0]!)! : null;
    const inputSchema =
      input.inputSchema !== undefined ? input.inputSchema : ((firstParent?.inputSchema ?? null) as JsonObject | null);
    const outputSchema =
      input.outputSchema !== undefined
        ? input.outputSchema
        : ((firstParent?.outputSchema ?? null) as JsonObject | null);
    const generation = parentRows.length ? Math.max(...parentRows.map((p) => p.generation)) + 1 : 0;
    const relationship: RelationshipType | null =
      parents.length === 0
        ? null
        : parents.length > 1
          ? 'merge'
          : byId.get(parents[0]!)!.toolName === ref.name
            ? 'direct'
            : 'fork';

    await tx.toolLineage.create({
      data: {
        toolId: ref.id,
        toolName: ref.name,
        version: ref.version,
        fullName: `${ref.name}_v${ref.version}`,
        major: ref.major,
        minor: ref.minor,
        patch: ref.patch,
        healthStatus: health,
        generation,
        code: input.code,
        language,
        codeHash: codeHash(input.code),
        description: input.description ?? '',
        category: input.category ?? '',
        regeneratedFrom,
        healId: input.healId ?? null,
        ...(inputSchema ? { inputSchema: inputSchema as Prisma.InputJsonObject } : {}),
        ...(outputSchema ? { outputSchema: outputSchema as Prisma.InputJsonObject } : {}),
      },
    });
    // Every edge in one statement, in this order: the parents (the first is the main line), then
    // what it reverts and what it replaces.
    const edges = [
      ...(relationship ? parents.map((parentId) => ({ parentId, relationshipType: relationship })) : []),
      ...(reverts ? [{ parentId: reverts, relationshipType: 'reverts' as const }] : []),
      ...(replaces ? [{ parentId: replaces, relationshipType: 'regenerated' as const }] : []),
    ];
    if (edges.length) {
      await tx.lineageRelationship.createMany({ data: edges.map((e) => ({ childId: ref.id, ...e })) });
    }
    if (input.mutation) {
      const parentCode = firstParent?.code ?? '';
      await tx.mutation.create({
        data: {
          toolId: ref.id,
          mutationType: input.mutation.type,
          description: input.mutation.description,
          promptUsed: input.mutation.prompt ?? null,
          codeDiffHash: codeHash(`${parentCode}\u0000${input.code}`),
          fitnessBefore: input.mutation.fitnessBefore ?? null,
          fitnessAfter: input.mutation.fitnessAfter ?? null,
        },
      });
      if (input.mutation.fitnessAfter !== undefined && input.mutation.fitnessAfter !== null) {
        await tx.fitnessHistory.create({ data: { toolId: ref.id, fitnessScore: input.mutation.fitnessAfter } });
      }
    }
    await this.tests.addAuthored(ref.id, input.tests ?? [], tx);
    // Rule closure: every rule any parent holds (parents already hold their ancestors' rules), plus
    // every global rule.
    const inherited = await this.rules.inheritFromParents(ref.id, parents, tx);

    return {
      id: ref.id,
      name: ref.name,
      version: ref.version,
      generation,
      parents,
      relationship,
      health,
      language,
      inheritedRules: inherited,
    };
  }

  private validateIdentity(input: RegisterVersionInput): VersionRef {
    if (typeof input.name !== 'string' || input.name === '') {
      throw new LineageError('INVALID_NAME', 'name: required', 'name');
    }
    if (typeof input.version !== 'string' || input.version === '') {
      throw new LineageError('INVALID_SEMVER', 'version: required', 'version');
    }
    try {
      return toVersionRef(input.name, input.version);
    } catch (err) {
      if (err instanceof InvalidIdError) {
        const field = err.field === 'name' ? 'name' : 'version';
        throw new LineageError(field === 'name' ? 'INVALID_NAME' : 'INVALID_SEMVER', `${field}: ${err.message}`, field);
      }
      throw err;
    }
  }

  private validateParents(parents: string[], selfId: string): string[] {
    if (!Array.isArray(parents))
      throw new LineageError('INVALID_INPUT', 'parents: must be a list of version ids', 'parents');
    const ids = parents.map((p, i) => normalizeVersionId(p, `parents[${i}]`).id);
    const seen = new Set<string>();
    for (const [i, id] of ids.entries()) {
      if (id === selfId)
        throw new LineageError('CYCLE', `parents[${i}]: ${id} cannot be its own parent`, `parents[${i}]`, [id]);
      if (seen.has(id))
        throw new LineageError('INVALID_INPUT', `parents[${i}]: ${id} is listed twice`, `parents[${i}]`, [id]);
      seen.add(id);
    }
    return ids;
  }

  private validateMutation(mutation: MutationInput | null | undefined, parentCount: number): void {
    if (!mutation) return;
    if (parentCount === 0) {
      throw new LineageError('INVALID_INPUT', 'mutation: a root version (no parents) has no mutation', 'mutation');
    }
    if (!MUTATION_TYPES.includes(mutation.type)) {
      throw new LineageError(
        'INVALID_INPUT',
        `mutation.type: "${mutation.type}" is not one of ${MUTATION_TYPES.join(', ')}`,
        'mutation.type',
      );
    }
    if (!mutation.description)
      throw new LineageError('INVALID_INPUT', 'mutation.description: required', 'mutation.description');
  }

  private validateTests(tests: TestCaseInput[]): void {
    const names = new Set<string>();
    for (const [i, t] of tests.entries()) {
      if (!t.name) throw new LineageError('INVALID_INPUT', `tests[${i}].name: required`, `tests[${i}].name`);
      if (names.has(t.name))
        throw new LineageError('INVALID_INPUT', `tests[${i}].name: "${t.name}" is used twice`, `tests[${i}].name`);
      names.add(t.name);
    }
  }
}

/** Sorts a batch so that a version comes after any parent defined in the same batch. */
function orderParentsFirst<T extends { input: RegisterVersionInput; ref: VersionRef }>(items: T[]): T[] {
  const byId = new Map(items.map((item) => [item.ref.id, item]));
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (item: T) => {
    if (placed.has(item.ref.id)) return;
    if (visiting.has(item.ref.id)) {
      throw new LineageError(
        'CYCLE',
        `versions in this batch name each other as parents (at ${item.ref.id})`,
        'parents',
        [item.ref.id],
      );
    }
    visiting.add(item.ref.id);
    for (const p of item.input.parents ?? []) {
      let parentId: string | undefined;
      try {
        parentId = parseVersionId(p).id;
      } catch {
        parentId = undefined; // reported with its field by prepare()
      }
      const parent = parentId ? byId.get(parentId) : undefined;
      if (parent && parent !== item) visit(parent);
    }
    visiting.delete(item.ref.id);
    placed.add(item.ref.id);
    out.push(item);
  };
  items.forEach(visit);
  return out;
}
