import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { LineageStore } from '../../src/lineage/store.js';
import { DISE_BIN, runDise, startDise, waitForExit } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { registerEmailStory } from '../support/email-story.js';

// `dise mcp` as clients meet it: a subprocess on stdio (the SDK's client, raw JSON-RPC lines, the MCP
// Inspector's CLI) and on Streamable HTTP, with and without the operator token.

let db: TestDatabase;
let env: NodeJS.ProcessEnv;
const TOKEN = 'mcp-test-operator-token-0123456789';
const INSPECTOR = path.join(
  PACKAGE_ROOT,
  'node_modules',
  '@modelcontextprotocol',
  'inspector-cli',
  'build',
  'index.js',
);

/** Busy for `input` ms (the sandbox is synchronous: the server's event loop waits with it). */
const SLOW = 'function run(input) { var t = Date.now(); while (Date.now() - t < input) {} return input; }';

beforeAll(async () => {
  db = await createTestDatabase();
  const store = new LineageStore(db.prisma);
  await registerEmailStory(store, 'email_validator');
  await store.registerMany([
    { name: 'slow_echo', version: '1.0.0', code: SLOW, inputSchema: { type: 'integer', minimum: 0 } },
  ]);
  await store.setRoute('slow_echo@1.0.0', 'test');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-mcp-'));
  writeFileSync(path.join(dir, 'config.yaml'), `ui:\n  token: ${TOKEN}\n`);
  // No heals here: reports are recorded without signalling a monitor.
  env = {
    ...process.env,
    DATABASE_URL: db.url,
    DISE_CONFIG: path.join(dir, 'config.yaml'),
    DISE_SIGNAL_MONITOR: '0',
    DISE_HOME: dir,
  };
});

afterAll(async () => {
  await db?.drop();
});

async function executions(toolId: string): Promise<number> {
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE tool_id = $1`, [toolId]))[0]!
    .n;
}

/** A `dise mcp` subprocess spoken to in raw JSON-RPC lines. */
function rawServer(args: string[] = []) {
  const child = spawn(process.execPath, [DISE_BIN, 'mcp', ...args], {
    env,
    cwd: PACKAGE_ROOT,
    stdio: 'pipe',
  }) as ChildProcessWithoutNullStreams;
  const messages: { id?: unknown; result?: unknown; error?: { code: number; message: string } }[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      messages.push(JSON.parse(buffered.slice(0, i)) as (typeof messages)[number]);
      buffered = buffered.slice(i + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const send = (line: string) => child.stdin.write(line + '\n');
  const answer = async (id: unknown, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = messages.find((x) => x.id === id && ('result' in x || 'error' in x));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no answer to ${String(id)}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const initialize = async () => {
    send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    );
    await answer(0, 60_000);
    send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  };
  const call = (id: number, name: string, args: unknown) =>
    send(JSON.stringify({ jsonrpc: '2.0', method: 'tools/call', params: { name, arguments: args }, id }));
  return { child, messages, send, answer, initialize, call, stderr: () => stderr };
}

describe('dise mcp on stdio (a subprocess)', () => {
  it('serves the SDK client: tools/list with schemas, tools/call recorded, and exits cleanly when the client leaves', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [DISE_BIN, 'mcp'],
      env: env as Record<string, string>,
      cwd: PACKAGE_ROOT,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['dise_report', 'email_validator', 'slow_echo']);
    expect(tools.find((t) => t.name === 'slow_echo')!.inputSchema).toEqual({
      type: 'object',
      properties: { input: { type: 'integer', minimum: 0 } },
      required: ['input'],
      additionalProperties: false,
    });
    const before = await executions('email_validator@2.0.0');
    const r = (await client.callTool({
      name: 'email_validator',
      arguments: { input: 'user@@domain.com' },
    })) as CallToolResult;
    expect(r.content).toEqual([{ type: 'text', text: 'true' }]);
    expect(r._meta).toMatchObject({ 'dise/version': 'email_validator@2.0.0', 'dise/health': 'healthy' });
    const report = (await client.callTool({
      name: 'dise_report',
      arguments: { tool: 'email_validator', input: { input: 'user@@domain.com' }, observed: true, expected: false },
    })) as CallToolResult;
    expect(report.structuredContent).toMatchObject({
      versionId: 'email_validator@2.0.0',
      failureCount: 1,
      healthMonitorSignalled: false,
    });
    await client.close();
    // The server wrote its executions before it exited.
    expect(await executions('email_validator@2.0.0')).toBe(before + 1);
  });

  it('answers malformed JSON-RPC, oversized messages and oversized arguments with clear errors, and keeps serving', async () => {
    const s = rawServer(['--max-message-bytes', '65536', '--max-argument-bytes', '1024']);
    try {
      await s.initialize();
      s.send('{"jsonrpc": "2.0", "id": 1, "method": ');
      s.send('{"jsonrpc": "1.0", "id": 2, "method": "tools/list"}');
      s.send('[{"jsonrpc": "2.0", "id": 3, "method": "tools/list"}]');
      s.call(4, 'email_validator', { input: 'x'.repeat(100_000) });
      s.call(5, 'email_validator', { input: 'x'.repeat(2_000) });
      s.call(6, 'email_validator', { input: 'user@example.com' });
      expect(await s.answer(6)).toMatchObject({ result: { content: [{ type: 'text', text: 'true' }] } });
      const errors = s.messages.filter((m) => m.error);
      expect(errors.find((m) => m.id === null && m.error!.code === -32700)!.error!.message).toMatch(
        /^Parse error: the message is not JSON/,
      );
      expect((await s.answer(2)).error).toMatchObject({
        code: -32600,
        message: expect.stringMatching(/^Invalid Request/),
      });
      expect(errors.find((m) => m.id === null && m.error!.code === -32600)!.error!.message).toMatch(
        /batches are not part of MCP/,
      );
      expect((await s.answer(4)).error).toMatchObject({
        code: -32600,
        message: expect.stringMatching(/^message of 100\d{3} bytes refused: the limit is 65536 bytes/),
      });
      expect((await s.answer(5)).error).toMatchObject({
        code: -32602,
        message: expect.stringMatching(/arguments of email_validator are 20\d\d bytes; the limit is 1024/),
      });
      s.child.stdin.end();
      expect(await waitForExit(s.child)).toBe(0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('on SIGTERM answers the call in flight, refuses later calls with a clear error, records every answered call and exits 0', async () => {
    const s = rawServer();
    try {
      await s.initialize();
      const before = await executions('slow_echo@1.0.0');
      s.call(1, 'slow_echo', { input: 700 });
      await new Promise((r) => setTimeout(r, 250));
      s.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      s.call(2, 'slow_echo', { input: 1 });
      expect(await s.answer(1)).toMatchObject({ result: { content: [{ type: 'text', text: '700' }] } });
      const second = await s.answer(2).catch(() => null);
      // The signal and the second call wait together behind the busy sandbox: either may be read first.
      if (second?.error) expect(second.error.message).toMatch(/dise mcp is shutting down: slow_echo was not called/);
      else expect(second).toMatchObject({ result: { content: [{ type: 'text', text: '1' }] } });
      expect(await waitForExit(s.child)).toBe(0);
      expect(s.stderr()).toMatch(/dise mcp: stopped; every execution is recorded/);
      expect(await executions('slow_echo@1.0.0')).toBe(before + (second?.error ? 1 : 2));
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('the MCP Inspector CLI lists and calls the tools', async () => {
    const list = await runInspector([process.execPath, DISE_BIN, 'mcp', '--method', 'tools/list']);
    expect(list.code, list.stderr).toBe(0);
    const tools = (JSON.parse(list.stdout) as { tools: { name: string; inputSchema: unknown }[] }).tools;
    expect(tools.find((t) => t.name === 'email_validator')!.inputSchema).toMatchObject({
      properties: { input: { type: 'string' } },
    });
    const call = await runInspector([
      process.execPath,
      DISE_BIN,
      'mcp',
      '--method',
      'tools/call',
      '--tool-name',
      'email_validator',
      '--tool-arg',
      'input=user@example.com',
    ]);
    expect(call.code, call.stderr).toBe(0);
    expect(JSON.parse(call.stdout)).toMatchObject({
      content: [{ type: 'text', text: 'true' }],
      _meta: { 'dise/version': 'email_validator@2.0.0' },
    });
  });

  it('without a stack, says how to start one', async () => {
    const { DATABASE_URL: _, ...noDatabase } = env;
    const r = await runDise(['mcp'], { ...noDatabase, DISE_HOME: mkdtempSync(path.join(os.tmpdir(), 'dise-none-')) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no running dise stack: start it with `dise dev`/);
  });
});

/** The Inspector's CLI mode (what `npx @modelcontextprotocol/inspector --cli` runs); a server it starts inherits `env`. */
function runInspector(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Run from its build folder: it finds its own package.json by a path relative to the working directory.
    const child = spawn(process.execPath, [INSPECTOR, ...args], { cwd: path.dirname(INSPECTOR), env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A raw HTTP request, so tests can set Host and Origin as an attacker's page would. */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'POST', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('dise mcp --http (Streamable HTTP)', () => {
  let server: Awaited<ReturnType<typeof startDise>>;
  let url: string;
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  const jsonRpcHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

  beforeAll(async () => {
    server = await startDise(['mcp', '--http', '0'], env, /^mcp=/);
    url = server.line.slice('mcp='.length).trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    if (server) expect(await waitForExit(server.child)).toBe(0);
  });

  it('serves a client that carries the operator token', async () => {
    const client = new Client({ name: 'http-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: auth } }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['dise_report', 'email_validator', 'slow_echo']);
    const before = await executions('email_validator@2.0.0');
    const r = (await client.callTool({
      name: 'email_validator',
      arguments: { input: 'user@example.com' },
    })) as CallToolResult;
    expect(r.content).toEqual([{ type: 'text', text: 'true' }]);
    await client.close();
    // Recorded in batches: within the flush interval.
    for (let i = 0; i < 50 && (await executions('email_validator@2.0.0')) === before; i++)
      await new Promise((res) => setTimeout(res, 100));
    expect(await executions('email_validator@2.0.0')).toBe(before + 1);
  });

  it('refuses a client without the token, or with another', async () => {
    for (const headers of [{}, { Authorization: 'Bearer not-the-token-at-all-000000' }] as Record<string, string>[]) {
      const client = new Client({ name: 'no-token', version: '1.0.0' });
      const err = await client
        .connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }))
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(err?.message).toMatch(/401|operator token is required/);
    }
    const raw = await request(url, { headers: jsonRpcHeaders, body: initialize });
    expect(raw.status).toBe(401);
    expect(JSON.parse(raw.body).error.message).toMatch(/the operator token is required/);
  });

  it('refuses DNS-rebinding requests: a foreign Host or Origin, even with the token', async () => {
    const host = await request(url, {
      headers: { ...jsonRpcHeaders, ...auth, Host: 'attacker.example:80' },
      body: initialize,
    });
    expect(host.status).toBe(403);
    expect(JSON.parse(host.body).error.message).toMatch(/DNS-rebinding protection/);
    const origin = await request(url, {
      headers: { ...jsonRpcHeaders, ...auth, Origin: 'http://attacker.example' },
      body: initialize,
    });
    expect(origin.status).toBe(403);
  });

  it('answers malformed JSON-RPC and oversized bodies with clear errors, and keeps serving', async () => {
    const bad = await request(url, {
      headers: { ...jsonRpcHeaders, ...auth },
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatchObject({ code: -32700 });
    const big = await request(url, {
      headers: { ...jsonRpcHeaders, ...auth },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { pad: 'x'.repeat(9 * 1024 * 1024) },
      }),
    });
    expect(big.status).toBe(413);
    const client = new Client({ name: 'after', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: auth } }));
    expect((await client.callTool({ name: 'email_validator', arguments: { input: 'a@b.co' } })).content).toEqual([
      { type: 'text', text: 'true' },
    ]);
    await client.close();
  });

  it('the MCP Inspector CLI lists and calls the tools over HTTP', async () => {
    const common = [url, '--transport', 'http', '--header', `Authorization: Bearer ${TOKEN}`];
    const list = await runInspector([...common, '--method', 'tools/list']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain(
      'email_validator',
    );
    const call = await runInspector([
      ...common,
      '--method',
      'tools/call',
      '--tool-name',
      'slow_echo',
      '--tool-arg',
      'input=5',
    ]);
    expect(call.code, call.stderr).toBe(0);
    expect(JSON.parse(call.stdout)).toMatchObject({ content: [{ type: 'text', text: '5' }] });
  });
});
