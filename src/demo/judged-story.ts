import type { DiseConfig } from '../config/schema.js';
import { registrationValidator } from '../judge/registration.js';
import type { LineageStore, RegisterVersionInput, RegisteredVersion } from '../lineage/store.js';
import type { LlmClient } from '../llm/client.js';
import { ToolRuntime } from '../runtime/tool-runtime.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { DEMO_TRAFFIC, emailLineage } from './email-lineage.js';

/** The category the judged telling of the story shares with its peer (apart from the healing stories'). */
export const JUDGED_CATEGORY = 'email';

/**
 * Another tool of the story's category, already routed: a careful address check (surrounding
 * whitespace trimmed, letters of any script, exactly one '@'). The peers judge asks it to answer the
 * inputs a feature_add answers differently from its parent.
 */
export function emailPeer(name: string): RegisterVersionInput {
  return {
    name,
    version: '1.0.0',
    description: 'Check an email address (one @, any script)',
    category: JUDGED_CATEGORY,
    code: `function run(input) {
  if (input === null || input === undefined) return false;
  return /^[^\\s@]+@[^\\s@]+\\.[^\\s@]{2,}$/.test(String(input).trim());
}`,
    tests: [
      { name: 'accepts a plain address', input: 'user@example.com', expect: true, critical: true },
      { name: 'rejects a second at', input: 'user@@example.com', expect: false, critical: true },
    ],
  };
}

export interface JudgedStory {
  tool: string;
  broken: string;
  /** The judge that held 2.3.0 back at registration (null: it passed, and callers met its bug). */
  caughtBy: string | null;
  /** The judge's finding, as stored. */
  finding: string | null;
  /** The version callers reach. */
  route: string | null;
  /** Calls of the story's traffic answered wrongly. */
  wrong: number;
  calls: number;
  registered: RegisteredVersion[];
}

/**
 * The email story judged beyond the parent: a peer of its category is routed first, then the lineage
 * is registered with the feature review on (the LLM reviewer when one is configured, then peers),
 * callers are routed to the newest routable version and the story's traffic is sent through the
 * runtime guard. 2.3.0's second '@' is caught at registration, so no caller meets it.
 */
export async function judgedEmailStory(deps: {
  store: LineageStore;
  sandbox: Sandbox;
  config: DiseConfig;
  databaseUrl: string;
  /** The reviewer's LLM (null: none; left out: the configured one). */
  llm?: LlmClient | null;
  /** Tool names: a later run adds _2, _3… */
  tool?: string;
  peer?: string;
  say?: (line: string) => void;
}): Promise<JudgedStory> {
  const { store, sandbox, config } = deps;
  const say = deps.say ?? (() => undefined);
  const unique = async (base: string) => {
    let name = base;
    for (let n = 2; await store.graph.versionCount(name); n++) name = `${base}_${n}`;
    return name;
  };
  const tool = await unique(deps.tool ?? 'email_validator_judged');
  const peer = await unique(deps.peer ?? 'address_check');
  const validate = registrationValidator({
    store,
    sandbox,
    config,
    ...(deps.llm !== undefined ? { llm: deps.llm } : {}),
  });
  await store.registerMany([emailPeer(peer)], { validate });
  await store.setRoute(`${peer}@1.0.0`, 'a peer of the email story (demo)');
  say(`${peer}@1.0.0 — another tool of category "${JUDGED_CATEGORY}" — answers its callers`);

  const registered = await store.registerMany(
    emailLineage(tool).map((v) => ({ ...v, category: JUDGED_CATEGORY })),
    { validate },
  );
  const broken = `${tool}@2.3.0`;
  for (const r of registered) {
    const judged = r.failures?.find((f) => f.detectionMethod === 'review');
    say(`registered ${r.id} — ${r.health}${judged ? `: ${judged.description}` : ''}`);
  }
  const held = registered.find((r) => r.id === broken)!;
  const finding = held.failures?.find((f) => f.detectionMethod === 'review') ?? null;
  const caughtBy =
    held.health === 'held'
      ? 'person'
      : finding
        ? String((finding.evidence as { judge?: string } | null)?.judge ?? 'review')
        : null;
  const route = await store.routing.newestRoutable(tool);
  if (route) await store.setRoute(route, 'newest routable version (demo)');
  say(
    caughtBy
      ? `${broken} "Accept internationalized addresses" was caught at registration by ${caughtBy === 'person' ? 'the review setting (held for a person)' : caughtBy}; callers of ${tool} stay on ${route}`
      : `${broken} passed every judge; callers of ${tool} are on ${route}`,
  );

  const runtime = await ToolRuntime.create({ databaseUrl: deps.databaseUrl, config, log: say });
  let wrong = 0;
  try {
    for (const t of DEMO_TRAFFIC) {
      const { output, versionId } = await runtime.callDetailed(tool, t.input);
      if (output !== t.valid) {
        wrong++;
        say(`${versionId}(${JSON.stringify(t.input)}) = ${JSON.stringify(output)}  ✗ wrong`);
      }
    }
    await runtime.flush();
  } finally {
    await runtime.close();
  }
  say(`${wrong} wrong answers in ${DEMO_TRAFFIC.length} calls from ${route}`);
  return {
    tool,
    broken,
    caughtBy,
    finding: finding?.description ?? null,
    route,
    wrong,
    calls: DEMO_TRAFFIC.length,
    registered,
  };
}
