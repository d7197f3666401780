import { ImmunityStore } from './immunity.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { CanaryStore } from './canaries.js';
import { DifferentialStore } from './differential.js';
import { ExecutionRetention } from './execution-retention.js';
import { ActivityReads } from './activity.js';
import { ExecutionStore } from './executions.js';
import { FailureStore } from './failures.js';
import { GraphStore } from './graph.js';
import { HealRunStore } from './heal-runs.js';
import { InputSampleStore } from './input-samples.js';
import { InvariantQueries } from './invariants.js';
import { JudgeEvidenceReads } from './judge-evidence.js';
import { Registration } from './registration.js';
import { RoutingStore } from './routing.js';
import { SharedRuleStore } from './shared-rules.js';
import { RuleStore } from './rules.js';
import { TestStore } from './tests.js';
import { LineageViews } from './views.js';

export type {
  MutationInput,
  RegisteredVersion,
  RegisterVersionInput,
  RegistrationValidator,
  TestCaseInput,
  ValidationOutcome,
} from './registration.js';
export { normalizeVersionId } from './ids.js';
export type { Db } from './sql.js';

/**
 * The data layer's front: every statement on the lineage tables lives in one of its homes —
 * `graph` (versions and DAG walks), `registration`, `routing`, `failures`, `rules`, `tests`,
 * `executions`, `samples` (sampled call inputs), `differential` (checks against parents), `canaries` (versions in shadow and their comparisons), `healRuns`, `views` (what operators read) and `invariants` (what `dise doctor`
 * checks). Activities, the CLI, the doctor and the dashboard reach the database only through it;
 * the runtime's hot path uses the node-postgres statements exported beside them.
 */
export class LineageStore {
  readonly graph: GraphStore;
  readonly failures: FailureStore;
  readonly rules: RuleStore;
  /** Rules between installations: trusted keys, portable documents, imported rules and their quarantine. */
  readonly shared: SharedRuleStore;
  readonly tests: TestStore;
  readonly routing: RoutingStore;
  readonly registration: Registration;
  readonly executions: ExecutionStore;
  /** Partitions, rollups and retention of executions. */
  readonly retention: ExecutionRetention;
  readonly healRuns: HealRunStore;
  readonly views: LineageViews;
  readonly invariants: InvariantQueries;
  readonly samples: InputSampleStore;
  readonly differential: DifferentialStore;
  readonly canaries: CanaryStore;
  readonly immunity: ImmunityStore;
  /** What the dashboard reads beyond the CLI's views: error rates, series, tests, heal runs. */
  readonly activity: ActivityReads;
  /** The judge's reads of a scope (suite, rules, the imported rules' head) in one statement. */
  readonly judgeEvidence: JudgeEvidenceReads;

  constructor(readonly prisma: PrismaClient) {
    this.graph = new GraphStore(prisma);
    this.failures = new FailureStore(prisma);
    this.rules = new RuleStore(prisma);
    this.shared = new SharedRuleStore(prisma);
    this.judgeEvidence = new JudgeEvidenceReads(prisma);
    this.tests = new TestStore(prisma);
    this.routing = new RoutingStore(prisma);
    this.registration = new Registration(prisma, this.graph, this.failures, this.rules, this.tests);
    this.executions = new ExecutionStore(prisma);
    this.retention = new ExecutionRetention(prisma);
    this.healRuns = new HealRunStore(prisma);
    this.differential = new DifferentialStore(prisma);
    this.immunity = new ImmunityStore(prisma);
    this.views = new LineageViews(prisma);
    this.invariants = new InvariantQueries(prisma);
    this.samples = new InputSampleStore(prisma);
    this.canaries = new CanaryStore(prisma);
    this.activity = new ActivityReads(prisma);
  }

  /** Runs `work` in one transaction; pass the `tx` it gets to each store method. */
  transaction<T>(work: (tx: Prisma.TransactionClient) => Promise<T>, options: { timeout?: number } = {}): Promise<T> {
    return this.prisma.$transaction(work, { timeout: options.timeout ?? 30_000, maxWait: 10_000 });
  }

  // The operations most callers need, kept on the front.
  registerVersion: Registration['registerVersion'] = (input) => this.registration.registerVersion(input);
  registerMany: Registration['registerMany'] = (inputs, options) => this.registration.registerMany(inputs, options);
  ancestors: GraphStore['ancestors'] = (id, db) => this.graph.ancestors(id, db);
  descendants: GraphStore['descendants'] = (id, db) => this.graph.descendants(id, db);
  countDescendants: GraphStore['countDescendants'] = (id) => this.graph.countDescendants(id);
  taintDescendants: GraphStore['taintDescendants'] = (id, db) => this.graph.taintDescendants(id, db);
  ancestorPath: GraphStore['ancestorPath'] = (id, db) => this.graph.ancestorPath(id, db);
  healedReplacement: GraphStore['healedReplacement'] = (id, db) => this.graph.healedReplacement(id, db);
  addParent: GraphStore['addParent'] = (child, parent, type) => this.graph.addParent(child, parent, type);
  resolve: RoutingStore['resolve'] = (nameOrId) => this.routing.resolve(nameOrId);
  setRoute: RoutingStore['setRoute'] = (id, reason, db) => this.routing.setRoute(id, reason, db);
  listTools: RoutingStore['listTools'] = () => this.routing.listTools();
  getLineage: LineageViews['lineage'] = (id) => this.views.lineage(id);
  suiteFor: TestStore['suiteFor'] = (id, db) => this.tests.suiteFor(id, db);
  rulesInScope: RuleStore['inScope'] = (id, db) => this.rules.inScope(id, db);
}
