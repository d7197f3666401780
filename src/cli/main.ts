import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import type { DiseConfig } from '../config/schema.js';
import { consoleOutput, type Output } from './output.js';
import { LINEAGE_FORMATS } from './lineage-formats.js';
import { describeError, EXIT, exitCodeFor } from './errors.js';
import { runCommandEndHooks } from '../infra/command-end.js';

/**
 * Builds the `dise` program. `out` is injectable so tests can capture results and messages.
 * Each command's module is imported when the command runs: `dise --help` or `dise lineage` do not
 * load the Temporal worker, isolated-vm or the LLM client.
 */
export function buildProgram(out: Output = consoleOutput, exitCode: { value: number } = { value: 0 }): Command {
  const program = rootCommand();
  let cached: DiseConfig | undefined;
  /** config.yaml is read and validated once, when a command first needs it. */
  const config = (): DiseConfig => (cached ??= loadConfig(program.opts<{ config?: string }>().config));
  const context: CommandContext = { config, out, exitCode };
  // In the order `dise --help` lists them.
  addStackCommands(program, context);
  addToolCommands(program, context);
  addCanaryCommands(program, context);
  addReviewCommand(program, context);
  addCallAndReportCommands(program, context);
  addLineageCommand(program, context);
  addHealCommands(program, context);
  addOverviewCommands(program, context);
  return program;
}

/** What every command's action needs: the config (read on first use), the output and the exit code to set. */
interface CommandContext {
  config: () => DiseConfig;
  out: Output;
  exitCode: { value: number };
}

/** The `dise` command itself: its global options and the help's environment and examples. */
function rootCommand(): Command {
  return new Command('dise')
    .description('dise-heal: self-healing tool lineages on Temporal')
    .option('--config <path>', 'config file (default: $DISE_CONFIG, else ./config.yaml when present)')
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Environment:
  DATABASE_URL        PostgreSQL to use (default: embedded PostgreSQL under .dise/)
  TEMPORAL_ADDRESS    Temporal frontend host:port (default: the dev server of \`dise dev\`)
  TEMPORAL_NAMESPACE  namespace (default: default); TEMPORAL_API_KEY, TEMPORAL_TLS_CERT/KEY for Cloud
  TEMPORAL_UI_URL     Temporal Web UI for the dashboard's links (default: the UI of \`dise dev\`'s server)
  DISE_HOME           state folder (default: ./.dise)
  DISE_CONFIG         config file (see config.example.yaml)

Examples:
  $ dise dev
  $ dise tool add examples/email-validator.yaml
  $ dise lineage email_validator@2.0.0`,
    );
}

/** Running the system: the embedded dev stack, the demo, migrations and a worker. */
function addStackCommands(program: Command, { config, out, exitCode }: CommandContext): void {
  program
    .command('dev')
    .description('start the embedded stack: PostgreSQL, migrations, Temporal dev server + UI, and a worker')
    .option('--no-worker', 'do not run a worker in this process')
    .addHelpText(
      'after',
      '\nPrints `ready temporal=… ui=… database=… dashboard=… metrics=…` and writes .dise/dev.json. Ctrl-C stops it.\n\nExample:\n  $ dise dev',
    )
    .action(async (opts: { worker: boolean }) => (await import('./commands/dev.js')).dev(opts, config(), out));

  program
    .command('demo')
    .description(
      'the email-validator story end to end on the embedded stack: break, detect, prune, learn, regenerate, reroute',
    )
    .addHelpText(
      'after',
      '\nUses a running `dise dev` if there is one, else starts the embedded stack for the run. With\nOPENAI_API_KEY (or OPENAI_BASE_URL) set, the LLM analyses and regenerates. Prints a JSON summary on stdout.\n\nExample:\n  $ npm run demo',
    )
    .action(async () => {
      exitCode.value = await (await import('./commands/demo.js')).demo(config(), out);
    });

  program
    .command('migrate')
    .description('apply pending database migrations (prisma/migrations)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample:\n  $ DATABASE_URL=postgresql://dise:dise@db:5432/dise dise migrate')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/migrate.js')).migrateCommand({ json: Boolean(opts.json) }, config(), out),
    );

  program
    .command('worker')
    .description('run a worker against TEMPORAL_ADDRESS and DATABASE_URL (or the running `dise dev`)')
    .option('--task-queue <name>', 'task queue to poll (default: dise-heal)')
    .option('--monitor', 'also make sure the health monitor workflow runs (and register the search attributes)')
    .addHelpText('after', '\nExample:\n  $ TEMPORAL_ADDRESS=temporal:7233 DATABASE_URL=postgresql://… dise worker')
    .action(async (opts: { taskQueue?: string; monitor?: boolean }) =>
      (await import('./commands/worker.js')).workerCommand(opts, config(), out),
    );
}

/** `dise tool add` and `dise tool list`. */
function addToolCommands(program: Command, { config, out, exitCode }: CommandContext): void {
  const tool = program
    .command('tool')
    .description('register and list tool versions')
    .addHelpText('after', '\nExamples:\n  $ dise tool add examples/email-validator.yaml\n  $ dise tool list --json');
  tool
    .command('add')
    .description('register tool versions from manifest files (YAML or JSON, one manifest or a list each)')
    .argument('<file...>', 'manifest files')
    .option('--no-route', 'do not route callers to the new versions')
    .option('--json', 'print the registered versions as JSON')
    .addHelpText(
      'after',
      '\nAll versions of all files are registered together, or none on an error.\n\nExample:\n  $ dise tool add email_validator.yaml',
    )
    .action(async (files: string[], opts: { route: boolean; json?: boolean }) => {
      exitCode.value = (
        await (
          await import('./commands/tool-add.js')
        ).toolAdd(
          files,
          { route: opts.route, json: Boolean(opts.json), verbose: Boolean(program.opts().verbose) },
          config(),
          out,
        )
      ).exitCode;
    });
  tool
    .command('list')
    .description('tools, their routed version and its health')
    .option('--json', 'print the list as JSON')
    .addHelpText('after', '\nExample:\n  $ dise tool list --json')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/tool-list.js')).toolList({ json: Boolean(opts.json) }, config(), out),
    );
}

/** `dise review <version> --approve|--refuse`: a person's decision on a feature_add held for review. */
function addReviewCommand(program: Command, { config, out, exitCode }: CommandContext): void {
  program
    .command('review')
    .description(
      'approve or refuse a feature_add HELD for review (deployment.review: hold): routes it, or stores it FAILED',
    )
    .argument('<version>', 'version id')
    .option('--approve', 'its listed differences are wanted: make it HEALTHY and route callers to it')
    .option('--refuse', 'its listed differences are wrong: store it FAILED, never routed')
    .option('--note <text>', 'why, recorded with the decision')
    .option('--no-wait', 'send the decision and return without waiting for the review workflow')
    .option('--json', 'print the decision and its result as JSON')
    .addHelpText(
      'after',
      '\nThe decision is a signal to the review workflow review:<version> (visible in the Temporal UI).\n\nExamples:\n  $ dise review email_validator@2.3.0 --refuse --note "accepts user@@domain.com"\n  $ dise review email_validator@2.3.0 --approve --json',
    )
    .action(
      async (
        id: string,
        opts: { approve?: boolean; refuse?: boolean; note?: string; wait: boolean; json?: boolean },
      ) => {
        exitCode.value = await (
          await import('./commands/review.js')
        ).review(
          id,
          {
            approve: Boolean(opts.approve),
            refuse: Boolean(opts.refuse),
            note: opts.note,
            wait: opts.wait,
            json: Boolean(opts.json),
          },
          config(),
          out,
        );
      },
    );
}

/** `dise canary status|promote|abort`: versions running in shadow. */
function addCanaryCommands(program: Command, { config, out, exitCode }: CommandContext): void {
  const canary = program
    .command('canary')
    .description('versions running in shadow beside their stable version (deployment.mode: shadow)')
    .addHelpText('after', '\nExamples:\n  $ dise canary status\n  $ dise canary promote email_validator@2.3.0');
  canary
    .command('status')
    .description("a canary's progress: calls mirrored, agreement, the judge's verdict (every canary without an id)")
    .argument('[id]', 'version id or tool name')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ dise canary status email_validator@2.3.0 --json')
    .action(async (id: string | undefined, opts: { json?: boolean }) => {
      exitCode.value = await (
        await import('./commands/canary.js')
      ).canaryStatus(id, { json: Boolean(opts.json) }, config(), out);
    });
  canary
    .command('promote')
    .description('promote a canary now, whatever the judge says (recorded as an operator decision)')
    .argument('<id>', 'version id')
    .option('--wait', 'wait until the canary has ended')
    .option('--reason <text>', 'why, recorded with the decision')
    .addHelpText('after', '\nExample:\n  $ dise canary promote email_validator@2.3.0 --wait')
    .action(async (id: string, opts: { wait?: boolean; reason?: string }) => {
      exitCode.value = await (
        await import('./commands/canary.js')
      ).canarySignal('promote', id, { wait: Boolean(opts.wait), reason: opts.reason }, config(), out);
    });
  canary
    .command('abort')
    .description('stop a canary: the candidate is never routed (set FAILED, recorded)')
    .argument('<id>', 'version id')
    .option('--wait', 'wait until the canary has ended')
    .option('--reason <text>', 'why, recorded with the decision')
    .addHelpText('after', '\nExample:\n  $ dise canary abort email_validator@2.3.0 --reason "wrong on unicode"')
    .action(async (id: string, opts: { wait?: boolean; reason?: string }) => {
      exitCode.value = await (
        await import('./commands/canary.js')
      ).canarySignal('abort', id, { wait: Boolean(opts.wait), reason: opts.reason }, config(), out);
    });
}

/** Calling a tool through the runtime guard, and reporting a wrong result from outside. */
function addCallAndReportCommands(program: Command, { config, out }: CommandContext): void {
  program
    .command('call')
    .description('call a tool through the runtime guard and print its output (JSON)')
    .argument('<tool>', 'tool name (its routed version) or version id')
    .argument('<json>', 'the input, as JSON')
    .option('--json', 'print {output, versionId, durationMs}')
    .addHelpText(
      'after',
      `\nExit code 1 when the tool fails (the error names the kind: timeout, memory_limit, thrown, …).\n\nExample:\n  $ dise call email_validator '"user@example.com"'`,
    )
    .action(async (tool: string, json: string, opts: { json?: boolean }) =>
      (await import('./commands/call.js')).call(
        tool,
        json,
        { json: Boolean(opts.json), verbose: Boolean(program.opts().verbose) },
        config(),
        out,
      ),
    );

  program
    .command('report')
    .description('report a wrong result or failure of a version, observed outside the runtime')
    .argument('[id]', 'version id (or tool name: its routed version); with --stdin, the default for lines without "id"')
    .option('--input <json>', 'the input that gave the wrong result (required without --stdin)')
    .option('--observed <json>', 'what the tool returned')
    .option('--expected <json>', 'what it should have returned (becomes a regression test when healed)')
    .option('--description <text>', 'what went wrong, e.g. "Accepted \'user@@domain.com\'"')
    .addOption(
      new Option('--severity <level>', 'how bad it is; critical signals the monitor at once').choices([
        'critical',
        'high',
        'medium',
        'low',
      ]),
    )
    .option(
      '--stdin',
      'read many reports as NDJSON from stdin, one per line: {"id", "input", "observed", "expected", "description", "severity"}',
    )
    .option('--json', 'print the stored failure as JSON (one line per report)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ dise report email_validator@2.1.0 --input '"user@@domain.com"' --observed true --expected false\n  $ printf '%s\\n' '{"id":"email_validator@2.1.0","input":"a@@b.co","observed":true,"expected":false}' | dise report --stdin`,
    )
    .action(
      async (
        id: string | undefined,
        opts: {
          input?: string;
          observed?: string;
          expected?: string;
          description?: string;
          severity?: string;
          json?: boolean;
          stdin?: boolean;
        },
      ) =>
        (await import('./commands/report.js')).report(
          id,
          { ...opts, json: Boolean(opts.json), stdin: Boolean(opts.stdin) },
          config(),
          out,
        ),
    );
}

/** `dise lineage`: a version's status, ancestry, failures, mutations, rules and recovery. */
function addLineageCommand(program: Command, { config, out }: CommandContext): void {
  program
    .command('mcp')
    .description('serve every routed tool over the Model Context Protocol (stdio, or Streamable HTTP with --http)')
    .option(
      '--http <port>',
      'serve Streamable HTTP on 127.0.0.1:<port> (0: any free port) instead of stdio; needs the operator token',
    )
    .option('--max-argument-bytes <n>', 'largest arguments of one call, as JSON (default 1048576)')
    .option('--max-message-bytes <n>', 'largest message or HTTP body (default 8388608)')
    .addHelpText(
      'after',
      `\nServes the running stack (\`dise dev\`, or DATABASE_URL and TEMPORAL_ADDRESS). A tool whose input is not a\nJSON object takes it as {"input": <value>}. Agents report wrong answers with the dise_report tool.\n\nExamples:\n  $ dise mcp\n  $ dise mcp --http 4310`,
    )
    .action(async (opts: { http?: string; maxArgumentBytes?: string; maxMessageBytes?: string }) =>
      (await import('./commands/mcp.js')).mcp(opts, config(), out),
    );

  program
    .command('lineage')
    .description("show a version's lineage: status, ancestry, failures, mutations, rules, recovery")
    .argument('<id>', 'version id (name@1.2.3 or name_v1.2.3) or tool name (its routed version)')
    .option('--json', 'print every field of the lineage as JSON')
    .addOption(new Option('--format <format>', 'output format').choices([...LINEAGE_FORMATS]).default('text'))
    .addHelpText('after', '\nExample:\n  $ dise lineage email_validator@2.0.0 --json')
    .action(async (id: string, opts: { json?: boolean; format: string }) =>
      (await import('./commands/lineage.js')).lineage(
        id,
        { json: Boolean(opts.json), format: opts.format },
        config(),
        out,
      ),
    );

  program
    .command('immunity')
    .description(
      "the tool's adversarial self-test: mutants of its routed version against its suite, the inputs that kill the survivors pinned as tests, and its mutation score",
    )
    .argument('<tool>', 'tool name (its routed version) or version id')
    .option('--max-mutants <n>', 'most mutants tried, spread over the code', parsePositiveInt, 60)
    .option('--no-pin', 'report only: store neither the pinned tests nor the score')
    .option('--json', 'print the whole report as JSON')
    .addHelpText(
      'after',
      '\nThe score is the share of single-point mutants (operators swapped, constants ±1, booleans flipped) that the\nsuite refuses. Pinned tests are critical tests of the version with its own answers; every later version of\nthe tool faces them.\n\nExample:\n  $ dise immunity email_validator',
    )
    .action(async (tool: string, opts: { maxMutants: number; pin: boolean; json?: boolean }) =>
      (await import('./commands/immunity.js')).immunity(
        tool,
        { maxMutants: opts.maxMutants, pin: opts.pin, json: Boolean(opts.json) },
        config(),
        out,
      ),
    );
}

/** Starting, following, cancelling and retrying heals. */
function addHealCommands(program: Command, { config, out, exitCode }: CommandContext): void {
  program
    .command('heal')
    .description('start (or join) the heal of a version; with --wait, print each step and the result')
    .argument('<id>', 'version id (or tool name: its routed version)')
    .option('--wait', 'follow the heal to its end; exit 1 unless it healed')
    .option('--reason <text>', 'why, recorded as the failure that triggered it')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ dise heal email_validator@2.1.0 --wait')
    .action(async (id: string, opts: { wait?: boolean; reason?: string; json?: boolean }) => {
      exitCode.value = await (
        await import('./commands/heal.js')
      ).heal(id, { wait: Boolean(opts.wait), json: Boolean(opts.json), reason: opts.reason }, config(), out);
    });
  program
    .command('heal-status')
    .description('the progress of a running heal, or how the last one ended')
    .argument('<id>', 'version id')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ dise heal-status email_validator@2.1.0')
    .action(async (id: string, opts: { json?: boolean }) => {
      exitCode.value = await (
        await import('./commands/heal.js')
      ).healStatus(id, { json: Boolean(opts.json) }, config(), out);
    });
  program
    .command('heal-cancel')
    .description('cancel a running heal (callers stay on a usable version; the cancel is recorded)')
    .argument('<id>', 'version id')
    .option('--wait', 'wait until the heal has ended')
    .addHelpText('after', '\nExample:\n  $ dise heal-cancel email_validator@2.1.0 --wait')
    .action(async (id: string, opts: { wait?: boolean }) => {
      exitCode.value = await (
        await import('./commands/heal.js')
      ).healCancel(id, { wait: Boolean(opts.wait) }, config(), out);
    });
  program
    .command('heal-retry')
    .description('start a new heal of a version after an earlier one ended (joins one that is running)')
    .argument('<id>', 'version id')
    .option('--wait', 'follow the heal to its end; exit 1 unless it healed')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ dise heal-retry email_validator@2.1.0 --wait')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean }) => {
      exitCode.value = await (
        await import('./commands/heal.js')
      ).heal(
        id,
        { wait: Boolean(opts.wait), json: Boolean(opts.json), retry: true, reason: 'heal retried by an operator' },
        config(),
        out,
      );
    });
}

/** What an operator reads about the whole system: health, the dashboard, invariants, pruned versions and rules. */
function addOverviewCommands(program: Command, { config, out, exitCode }: CommandContext): void {
  program
    .command('health')
    .description(
      'the system health report: versions by health, recent failures and their heals, healing stats, the monitor',
    )
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ dise health')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/health.js')).health({ json: Boolean(opts.json) }, config(), out),
    );
  program
    .command('ui')
    .description(
      'serve the dashboard: tools, lineage graphs, versions, health, heals and rules, live, with guarded actions',
    )
    .option('--host <host>', 'address to listen on (default: ui.host in config.yaml, 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (default: ui.port in config.yaml, 4300)')
    .addHelpText(
      'after',
      '\nPrints `dashboard=<url>`. Actions (start, cancel, retry a heal; pause, resume the monitor) need the\noperator token: ui.token in config.yaml, else one generated at start and printed once.\n\nExample:\n  $ dise ui --port 4300',
    )
    .action(async (opts: { host?: string; port?: string }) =>
      (await import('./commands/ui.js')).ui(opts, config(), out),
    );
  program
    .command('doctor')
    .description(
      'check the lineage invariants (acyclic, usable routes, taint, rule inheritance, regenerated edges, heal runs vs Temporal)',
    )
    .option('--json', 'print the violations as JSON')
    .addHelpText('after', '\nExit code 1 when any invariant is violated.\n\nExample:\n  $ dise doctor')
    .action(async (opts: { json?: boolean }) => {
      exitCode.value = await (await import('./commands/doctor.js')).doctor({ json: Boolean(opts.json) }, config(), out);
    });
  program
    .command('pruned')
    .description('pruned versions and why')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ dise pruned --json')
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/pruned.js')).pruned({ json: Boolean(opts.json) }, config(), out),
    );
  program
    .command('strategies')
    .description('what each heal strategy (revert, llm, rollback) achieved per failure context, and the order learned')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nA strategy succeeds when its candidate was promoted and served self_healing.regeneration.survival_calls\ncalls without a new failure (or its canary promoted it). self_healing.regeneration.strategy_order: learned\norders heals by this record; fixed keeps the configured order.\n\nExample:\n  $ dise strategies --json',
    )
    .action(async (opts: { json?: boolean }) =>
      (await import('./commands/strategies.js')).strategies({ json: Boolean(opts.json) }, config(), out),
    );
  addRulesCommands(program, { config, out, exitCode });
}

/** `dise rules …`: the rules learned here and those shared with other installations (signed packs). */
function addRulesCommands(program: Command, { config, out, exitCode }: CommandContext): void {
  const rules = program
    .command('rules')
    .description('avoidance rules, and sharing them with other installations as signed packs')
    .addHelpText(
      'after',
      '\n`dise rules` alone lists them (`dise rules list`).\n\nExamples:\n  $ dise rules --json\n  $ dise rules export > pack.json\n  $ dise rules import pack.json',
    );
  const commands = () => import('./commands/rules.js');
  rules
    .command('list', { isDefault: true })
    .description('avoidance rules: scope, pattern, source, how many versions each affects; imported ones too')
    .option('--json', 'print as JSON, with where each rule came from')
    .addHelpText('after', '\n`dise rules` alone is `dise rules list`.\n\nExample:\n  $ dise rules')
    .action(async (opts: { json?: boolean }) => (await commands()).rules({ json: Boolean(opts.json) }, config(), out));
  rules
    .command('check')
    .description("report the learned rules' matches in ordinary source files (.js, .py), as SARIF 2.1.0 with --sarif")
    .argument('<files...>', 'JavaScript or Python source files')
    .option('--sarif', 'print a SARIF 2.1.0 log (for code scanning in CI)')
    .addHelpText(
      'after',
      '\nExit code 1 when an enforcing rule matches.\n\nExample:\n  $ dise rules check src/*.js --sarif > dise.sarif',
    )
    .action(async (files: string[], opts: { sarif?: boolean }) =>
      (await commands()).rulesCheck(files, { sarif: Boolean(opts.sarif) }, config(), out, exitCode),
    );
  rules
    .command('subscribe')
    .description("pull a peer's signed pack on a Temporal schedule (visible in the Temporal UI) and import it")
    .argument('<url>', "the peer's dashboard URL (its /rules/pack) or a pack's URL")
    .option('--every <interval>', 'how often: 30m, 6h, 1d…', '1h')
    .addHelpText(
      'after',
      "\nThe first pull starts at once. Needs the peer's key trusted (dise rules trust) and a worker.\n\nExample:\n  $ dise rules subscribe http://peer.example:4300 --every 6h",
    )
    .action(async (url: string, opts: { every: string }) =>
      (await commands()).rulesSubscribe(url, opts, config(), out),
    );
  rules
    .command('unsubscribe')
    .description("delete a subscription's schedule (the rules it imported stay)")
    .argument('<url>', 'the URL given to dise rules subscribe')
    .addHelpText('after', '\nExample:\n  $ dise rules unsubscribe http://peer.example:4300')
    .action(async (url: string) => (await commands()).rulesUnsubscribe(url, config(), out));
  rules
    .command('key')
    .description("this installation's public key, for peers to trust (created on first use under .dise/rules/)")
    .addHelpText('after', '\nExample:\n  $ dise rules key')
    .action(async () => (await commands()).rulesKey(out));
  rules
    .command('export')
    .description("write this installation's rules as a pack signed with its Ed25519 key, on stdout")
    .option('--since <time>', 'only rules changed at or after this time (ISO 8601)')
    .option('--tool <name>', 'only rules learned from versions of this tool')
    .addHelpText('after', '\nExample:\n  $ dise rules export --since 2026-12-01 > pack.json')
    .action(async (opts: { since?: string; tool?: string }) => (await commands()).rulesExport(opts, config(), out));
  rules
    .command('import')
    .description("import a pack: a trusted key's signature, each rule checked on its examples, stored report-only")
    .argument('<pack>', 'the pack file (- for stdin)')
    .addHelpText(
      'after',
      '\nA tampered pack, an unknown key, or a rule whose examples disagree with its pattern refuses\nthe whole pack.\n\nExample:\n  $ dise rules import pack.json',
    )
    .action(async (file: string) => (await commands()).rulesImport(file, config(), out));
  rules
    .command('trust')
    .description("accept packs signed by this public key (another installation's `dise rules key`)")
    .argument('<key>', 'ed25519:<base64>')
    .addHelpText('after', '\nExample:\n  $ dise rules trust ed25519:MCowBQYDK2VwAyEA…')
    .action(async (key: string) => (await commands()).rulesTrust(key, config(), out));
  rules
    .command('promote')
    .description('an imported rule enforces now, before its quarantine ends')
    .argument('<rule>', 'the rule id')
    .addHelpText('after', '\nExample:\n  $ dise rules promote avoid_1a2b3c4d')
    .action(async (id: string) => (await commands()).rulesPromote(id, config(), out));
  rules
    .command('withdraw')
    .description('a rule stops gating; a local rule is withdrawn in the next pack too')
    .argument('<rule>', 'the rule id')
    .addHelpText('after', '\nExample:\n  $ dise rules withdraw avoid_1a2b3c4d')
    .action(async (id: string) => (await commands()).rulesWithdraw(id, config(), out));
}

/** A whole number of at least 1, or a usage error naming the option's value. */
function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number of at least 1, got "${value}"`);
  return n;
}

/** Runs the command line; returns the exit code instead of exiting, for tests. */
export async function runCli(argv: string[], out: Output = consoleOutput): Promise<number> {
  const exitCode = { value: 0 };
  const program = buildProgram(out, exitCode);
  // Settings are copied to subcommands when they are created, so apply them to the whole tree.
  const configure = (command: Command) => {
    command.exitOverride();
    command.configureOutput({ writeErr: (s) => out.info(s.trimEnd()), writeOut: (s) => out.result(s.trimEnd()) });
    command.commands.forEach(configure);
  };
  configure(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode.value;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.ok;
      return EXIT.usage;
    }
    out.info(describeError(err, Boolean(program.opts().verbose)));
    return exitCodeFor(err);
  }
}

const isMain = process.argv[1] && /(?:bin[\\/]dise(?:\.mjs)?|cli[\\/]main\.ts)$/.test(process.argv[1]);
if (isMain) {
  runCli(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err: unknown) => {
      process.stderr.write(`${describeError(err, true)}\n`);
      process.exitCode = EXIT.failed;
    })
    .finally(runCommandEndHooks);
}
