import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { createMcpStack, type McpStack } from '../../src/mcp/stack.js';
import { TemporalMonitorSignaler } from '../../src/runtime/monitor-signaler.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { useHealStack } from '../support/heal-stack.js';

// The MCP server in-process, over the SDK's InMemoryTransport, on a real database and a real worker
// running the health monitor and heals: what an agent sees, and what the lineage records.

const stack = useHealStack('mcp');
let mcp: McpStack;
let client: Client;
const listChanges: number[] = [];
const monitorId = `mcp-monitor-${randomBytes(4).toString('hex')}`;

const SUM = {
  name: 'mcp_sum',
  version: '1.0.0',
  description: 'Add two numbers',
  code: 'function run(input) { return { sum: input.a + input.b }; }',
  inputSchema: {
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
    additionalProperties: false,
  },
  outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
};
const LENGTH = {
  name: 'mcp_length',
  version: '1.0.0',
  description: 'Length of a text',
  code: 'function run(input) { return input.length; }',
  inputSchema: { type: 'string', maxLength: 100 },
  outputSchema: { type: 'integer' },
};

async function connect(): Promise<Client> {
  const c = new Client({ name: 'mcp-test', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await Promise.all([mcp.service.createServer().connect(serverSide), c.connect(clientSide)]);
  return c;
}

function text(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function protocolError(p: Promise<unknown>): Promise<McpError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}

beforeAll(async () => {
  await registerEmailStory(stack.store, 'mcp_email');
  await stack.store.registerMany([SUM, LENGTH]);
  await stack.store.setRoute('mcp_sum@1.0.0', 'test');
  await stack.store.setRoute('mcp_length@1.0.0', 'test');
  const config = defaultConfig();
  config.sandbox.timeout_ms = 300;
  config.runtime.flush_interval_ms = 50;
  mcp = await createMcpStack({
    databaseUrl: stack.db.url,
    config,
    signaler: new TemporalMonitorSignaler(stack.temporal.client, { workflowId: monitorId, taskQueue: stack.taskQueue }),
    debounceMs: 50,
  });
  client = await connect();
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanges.push(Date.now()));
});

afterAll(async () => {
  await client?.close();
  await mcp?.close();
  await stack.temporal?.client.workflow
    .getHandle(monitorId)
    .terminate('test done')
    .catch(() => undefined);
});

describe('dise mcp over InMemoryTransport', () => {
  it('lists every routed tool with its input schema: declared, inferred from the tests, non-objects wrapped', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['dise_report', 'mcp_email', 'mcp_length', 'mcp_sum']);
    expect(byName.get('mcp_sum')).toMatchObject({
      description: 'Add two numbers',
      inputSchema: SUM.inputSchema,
      outputSchema: SUM.outputSchema,
    });
    expect(byName.get('mcp_sum')!._meta).toMatchObject({
      'dise/version': 'mcp_sum@1.0.0',
      'dise/health': 'healthy',
      'dise/inputWrapped': false,
      'dise/inputSchemaSource': 'declared',
    });
    // The email validator declares none: its tests take strings, so the string travels in `input`.
    expect(byName.get('mcp_email')!.inputSchema).toEqual({
      type: 'object',
      properties: { input: { type: 'string' } },
      required: ['input'],
      additionalProperties: false,
    });
    expect(byName.get('mcp_email')!._meta).toMatchObject({
      'dise/version': 'mcp_email@2.0.0',
      'dise/inputWrapped': true,
      'dise/inputSchemaSource': 'inferred',
    });
    expect(byName.get('mcp_length')).toMatchObject({
      inputSchema: { type: 'object', properties: { input: { type: 'string', maxLength: 100 } }, required: ['input'] },
      outputSchema: { type: 'object', properties: { result: { type: 'integer' } }, required: ['result'] },
    });
    expect(byName.get('dise_report')!.inputSchema.required).toEqual(['tool', 'input']);
  });

  it('answers through the runtime guard: structuredContent, _meta naming the version, the call recorded as an execution', async () => {
    const sum = await client.callTool({ name: 'mcp_sum', arguments: { a: 2, b: 3 } });
    expect(sum.isError).toBeFalsy();
    expect(sum.structuredContent).toEqual({ sum: 5 });
    expect(text(sum as CallToolResult)).toBe('{"sum":5}');
    expect(sum._meta).toMatchObject({ 'dise/version': 'mcp_sum@1.0.0', 'dise/health': 'healthy' });
    const length = await client.callTool({ name: 'mcp_length', arguments: { input: 'hello' } });
    expect(length.structuredContent).toEqual({ result: 5 });
    const email = await client.callTool({ name: 'mcp_email', arguments: { input: 'user@example.com' } });
    expect(text(email as CallToolResult)).toBe('true');
    expect(email.structuredContent).toBeUndefined();
    await mcp.runtime.flush();
    const rows = await stack.db.query<{ tool_id: string; ok: boolean }>(
      `SELECT tool_id, ok FROM executions ORDER BY tool_id`,
    );
    expect(rows).toEqual([
      { tool_id: 'mcp_email@2.0.0', ok: true },
      { tool_id: 'mcp_length@1.0.0', ok: true },
      { tool_id: 'mcp_sum@1.0.0', ok: true },
    ]);
  });

  it('refuses unknown tools and invalid or oversized arguments as protocol errors, and keeps serving', async () => {
    const unknown = await protocolError(client.callTool({ name: 'no_such_tool', arguments: {} }));
    expect(unknown.code).toBe(ErrorCode.InvalidParams);
    expect(unknown.message).toMatch(/unknown tool "no_such_tool"/);
    const wrongType = await protocolError(client.callTool({ name: 'mcp_sum', arguments: { a: 'two', b: 3 } }));
    expect(wrongType.code).toBe(ErrorCode.InvalidParams);
    expect(wrongType.message).toMatch(/invalid arguments for mcp_sum: .*a.*number/);
    const unwrapped = await protocolError(
      client.callTool({ name: 'mcp_email', arguments: { email: 'user@example.com' } }),
    );
    expect(unwrapped.message).toMatch(/invalid arguments for mcp_email/);
    const huge = await protocolError(
      client.callTool({ name: 'mcp_length', arguments: { input: 'x'.repeat(1024 * 1024 + 10) } }),
    );
    expect(huge.code).toBe(ErrorCode.InvalidParams);
    expect(huge.message).toMatch(/arguments of mcp_length are 10485\d\d bytes; the limit is 1048576/);
    expect((await client.callTool({ name: 'mcp_sum', arguments: { a: 1, b: 1 } })).structuredContent).toEqual({
      sum: 2,
    });
    await mcp.runtime.flush();
    // Refused calls never ran: nothing recorded for them.
    expect(await stack.db.query(`SELECT 1 FROM executions WHERE tool_id = 'mcp_length@1.0.0'`)).toHaveLength(1);
  });

  it('sends tools/list_changed when a tool is added, and lists it', async () => {
    const before = listChanges.length;
    await stack.store.registerMany([
      {
        name: 'mcp_added',
        version: '1.0.0',
        code: 'function run(x) { return x + 1; }',
        tests: [{ name: 'adds one', input: 1, expect: 2, critical: true }],
      },
    ]);
    await stack.store.setRoute('mcp_added@1.0.0', 'test');
    await until(
      async () => listChanges.length,
      (n) => n > before,
      10_000,
      'tools/list_changed',
    );
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'mcp_added')).toMatchObject({
      inputSchema: { type: 'object', properties: { input: { type: 'integer' } } },
    });
    expect((await client.callTool({ name: 'mcp_added', arguments: { input: 41 } })).content).toEqual([
      { type: 'text', text: '42' },
    ]);
  });

  it("a child inherits its parent's schemas (no list change when callers move to it); a new schema sends list_changed", async () => {
    await stack.store.registerMany([
      {
        name: 'mcp_length',
        version: '1.1.0',
        parents: ['mcp_length@1.0.0'],
        code: 'function run(input) { return String(input).length; }',
        mutation: { type: 'refactor', description: 'String()' },
      },
    ]);
    const [row] = await stack.db.query<{ input_schema: unknown; output_schema: unknown }>(
      `SELECT input_schema, output_schema FROM tool_lineage WHERE tool_id = 'mcp_length@1.1.0'`,
    );
    expect(row).toEqual({ input_schema: LENGTH.inputSchema, output_schema: LENGTH.outputSchema });
    const before = listChanges.length;
    await stack.store.setRoute('mcp_length@1.1.0', 'test');
    await until(
      async () => (await client.listTools()).tools.find((t) => t.name === 'mcp_length')?._meta?.['dise/version'],
      (v) => v === 'mcp_length@1.1.0',
      5_000,
      'mcp_length@1.1.0 listed',
    );
    expect(listChanges.length).toBe(before);
    await stack.store.registerMany([
      {
        name: 'mcp_length',
        version: '2.0.0',
        parents: ['mcp_length@1.1.0'],
        code: LENGTH.code,
        inputSchema: { type: 'string', maxLength: 10 },
        mutation: { type: 'feature_add', description: 'shorter inputs' },
      },
    ]);
    await stack.store.setRoute('mcp_length@2.0.0', 'test');
    await until(
      async () => listChanges.length,
      (n) => n > before,
      10_000,
      'tools/list_changed for the new schema',
    );
    const tool = (await client.listTools()).tools.find((t) => t.name === 'mcp_length');
    expect(tool!.inputSchema).toMatchObject({ properties: { input: { type: 'string', maxLength: 10 } } });
    expect(
      (await protocolError(client.callTool({ name: 'mcp_length', arguments: { input: 'x'.repeat(11) } }))).code,
    ).toBe(ErrorCode.InvalidParams);
  });

  it('dise_report feeds the failure path: three reports heal the tool while calls under load keep answering under the same name, with no list change', async () => {
    const changesBefore = listChanges.length;
    let loading = true;
    const answers: { ok: boolean; version: unknown; text: string }[] = [];
    const load = (async () => {
      while (loading) {
        const r = (await client.callTool({
          name: 'mcp_email',
          arguments: { input: 'user@example.com' },
        })) as CallToolResult;
        answers.push({ ok: !r.isError, version: r._meta?.['dise/version'], text: text(r) });
        // The worker shares this process: leave it the event loop between calls.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const reports = [];
    for (const wrong of WRONG_RESULTS) {
      // `input` is the arguments as sent: the server unwraps them to the tool's input.
      const r = await client.callTool({
        name: 'dise_report',
        arguments: {
          tool: 'mcp_email',
          input: { input: wrong.input },
          observed: wrong.observed,
          expected: wrong.expected,
          note: `accepted ${wrong.input}`,
        },
      });
      expect(r.isError).toBeFalsy();
      reports.push(r.structuredContent);
    }
    expect(reports.map((r) => (r as { failureCount: number }).failureCount)).toEqual([1, 2, 3]);
    expect(reports[2]).toMatchObject({ versionId: 'mcp_email@2.0.0', healthMonitorSignalled: true });
    const evidence = await stack.db.query<{ input: unknown }>(
      `SELECT evidence->'input' AS input FROM failures WHERE tool_id = 'mcp_email@2.0.0' ORDER BY id`,
    );
    expect(evidence.map((e) => e.input)).toEqual(WRONG_RESULTS.map((w) => w.input));

    await until(
      async () =>
        (await stack.db.query<{ version_id: string }>(`SELECT version_id FROM routes WHERE tool_name = 'mcp_email'`))[0]
          ?.version_id,
      (v) => v === 'mcp_email@2.0.1',
      90_000,
      'the heal to route mcp_email@2.0.1',
    );
    // The catalog has caught up once the answers come from the healed version.
    await until(
      async () => answers.at(-1)?.version,
      (v) => v === 'mcp_email@2.0.1',
      10_000,
      'answers from mcp_email@2.0.1',
    );
    loading = false;
    await load;
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.filter((a) => !a.ok || a.text !== 'true')).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toContain('mcp_email@2.0.0');
    expect(listChanges.length).toBe(changesBefore);

    const healed = (await client.callTool({
      name: 'mcp_email',
      arguments: { input: 'user@@domain.com' },
    })) as CallToolResult;
    expect(text(healed)).toBe('false');
    expect(healed._meta).toMatchObject({ 'dise/version': 'mcp_email@2.0.1', 'dise/health': 'regenerated' });
    // The list names the routed version once the catalog has read the move (a moment after the runtime).
    const listed = await until(
      async () => (await client.listTools()).tools.find((t) => t.name === 'mcp_email'),
      (t) => t?._meta?.['dise/version'] === 'mcp_email@2.0.1',
      5_000,
      'the list to name mcp_email@2.0.1',
    );
    expect(listed!.inputSchema).toMatchObject({ properties: { input: { type: 'string' } } });

    const lineage = await client.readResource({ uri: 'dise://tools/mcp_email/lineage' });
    expect(JSON.parse((lineage.contents[0] as { text: string }).text)).toMatchObject({ id: 'mcp_email@2.0.1' });
    const heals = await client.readResource({ uri: 'dise://heals/mcp_email@2.0.0' });
    expect(JSON.parse((heals.contents[0] as { text: string }).text)[0]).toMatchObject({
      versionId: 'mcp_email@2.0.0',
      status: 'healed',
    });
  }, 150_000);

  it('returns typed tool failures as isError with the kind in the text and _meta; a tool known wrong is withdrawn (list_changed) and refused', async () => {
    const tools = [
      { name: 'mcp_spin', code: 'function run(input) { while (true) {} }', kind: 'timeout' },
      {
        name: 'mcp_hog',
        code: 'function run(input) { var a = []; while (true) a.push(new Array(3e7).fill(input)); }',
        kind: 'memory_limit',
      },
      { name: 'mcp_throw', code: "function run(input) { throw new TypeError('cannot ' + input); }", kind: 'thrown' },
      { name: 'mcp_nothing', code: 'function run(input) { return undefined; }', kind: 'non_json_result' },
    ];
    await stack.store.registerMany(
      tools.map((t) => ({ name: t.name, version: '1.0.0', code: t.code, inputSchema: { type: 'number' } })),
    );
    for (const t of tools) await stack.store.setRoute(`${t.name}@1.0.0`, 'test');
    for (const t of tools) {
      const r = (await client.callTool({ name: t.name, arguments: { input: 7 } })) as CallToolResult;
      expect(r.isError, t.name).toBe(true);
      expect(text(r), t.name).toMatch(new RegExp(`^${t.kind}: `));
      expect(r._meta, t.name).toMatchObject({ 'dise/errorKind': t.kind, 'dise/version': `${t.name}@1.0.0` });
    }
    // Known wrong with no alternative: withdrawn from the list, and a client holding the old list is refused with a typed error.
    // An answer that breaks the tool's declared output schema is named as a failure, not passed on.
    await stack.store.registerMany([
      {
        name: 'mcp_liar',
        version: '1.0.0',
        code: "function run(input) { return 'seven'; }",
        outputSchema: { type: 'integer' },
      },
    ]);
    await stack.store.setRoute('mcp_liar@1.0.0', 'test');
    await until(
      async () => (await client.listTools()).tools.some((t) => t.name === 'mcp_liar'),
      Boolean,
      10_000,
      'mcp_liar listed',
    );
    const liar = (await client.callTool({ name: 'mcp_liar', arguments: { input: 7 } })) as CallToolResult;
    expect(liar).toMatchObject({
      isError: true,
      _meta: { 'dise/errorKind': 'output_schema_mismatch', 'dise/version': 'mcp_liar@1.0.0' },
    });
    expect(text(liar)).toMatch(
      /^output_schema_mismatch: mcp_liar@1\.0\.0 answered "seven", which does not match its output_schema/,
    );
    // Let the notifications of the tools just added settle first.
    await until(
      async () => (await client.listTools()).tools.some((t) => t.name === 'mcp_nothing'),
      Boolean,
      10_000,
      'the new tools listed',
    );
    await new Promise((r) => setTimeout(r, 300));
    const changesBefore = listChanges.length;
    await stack.store.routing.markKnownWrong('mcp_sum', 'mcp_sum@1.0.0', 'adds wrongly', null);
    await until(
      async () => (await client.listTools()).tools.some((t) => t.name === 'mcp_sum'),
      (listed) => !listed,
      10_000,
      'mcp_sum withdrawn',
    );
    await until(
      async () => listChanges.length,
      (n) => n > changesBefore,
      5_000,
      'tools/list_changed for the withdrawal',
    );
    const refused = (await client.callTool({ name: 'mcp_sum', arguments: { a: 1, b: 2 } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(refused._meta).toMatchObject({ 'dise/errorKind': 'refused_known_wrong', 'dise/version': 'mcp_sum@1.0.0' });
    expect(text(refused)).toMatch(
      /^refused_known_wrong: tool mcp_sum: mcp_sum@1\.0\.0 is known to answer wrongly \(adds wrongly\)/,
    );
    await mcp.runtime.flush();
    const failed = await stack.db.query<{ tool_id: string; error_type: string }>(
      `SELECT tool_id, error_type FROM executions WHERE NOT ok ORDER BY tool_id`,
    );
    expect(failed).toEqual([
      { tool_id: 'mcp_hog@1.0.0', error_type: 'memory_limit' },
      { tool_id: 'mcp_nothing@1.0.0', error_type: 'non_json_result' },
      { tool_id: 'mcp_spin@1.0.0', error_type: 'timeout' },
      { tool_id: 'mcp_throw@1.0.0', error_type: 'TypeError' },
    ]);
  });

  it('a call during shutdown gets a clear error; the call in flight is answered and recorded', async () => {
    const before = (
      await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE tool_id = 'mcp_added@1.0.0'`)
    )[0]!.n;
    // Uncached routing makes the call wait on the database: it is in flight when the shutdown starts.
    mcp.runtime.routing.invalidateAll();
    const inFlight = client.callTool({ name: 'mcp_added', arguments: { input: 1 } });
    for (let i = 0; i < 10_000 && mcp.service.callsInFlight === 0; i++) await new Promise((r) => setImmediate(r));
    expect(mcp.service.callsInFlight).toBe(1);
    const closing = mcp.close();
    const late = await protocolError(client.callTool({ name: 'mcp_added', arguments: { input: 2 } }));
    expect(late.message).toMatch(/dise mcp is shutting down: mcp_added was not called/);
    expect((await inFlight).content).toEqual([{ type: 'text', text: '2' }]);
    await closing;
    const after = (
      await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE tool_id = 'mcp_added@1.0.0'`)
    )[0]!.n;
    expect(after - before).toBe(1);
  });
});
