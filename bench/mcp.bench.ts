/**
 * npm run bench:mcp — what an agent pays to reach a tool through `dise mcp`, in one run:
 *   1. ToolRuntime.call in this process (the baseline: routing, sandbox, recording);
 *   2. tools/call through the MCP SDK's Client and a DiseMcpService in this process (InMemoryTransport):
 *      the protocol's own cost (JSON-RPC, schema checks, argument validation, the answer's _meta);
 *   3. tools/call over stdio to a real `dise mcp` subprocess: the protocol plus the pipe and a process hop.
 * The three run in interleaved rounds on the same database and tool, so drift hits all alike.
 * Target: stdio overhead under 1 ms at the median. BENCH_CALLS sets the calls per path (default 5,000).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { defaultConfig } from '../src/config/schema.js';
import { createPrismaClient } from '../src/infra/database.js';
import { PACKAGE_ROOT } from '../src/infra/paths.js';
import { LineageStore } from '../src/lineage/store.js';
import { createMcpStack } from '../src/mcp/stack.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { benchDatabase, fmtMs, percentile, printFigures, progress } from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 5_000);
const ROUNDS = 10;
const CODE = "function run(input) { return typeof input === 'string' && input.indexOf('@') > 0; }";
const input = (i: number) => `user${i % 100}@example.com`;

async function sample(n: number, call: (i: number) => Promise<unknown>, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(i);
    into.push(performance.now() - t);
  }
}

async function main(): Promise<void> {
  const db = await benchDatabase('dise_bench_mcp');
  const prisma = createPrismaClient(db.url);
  const config = defaultConfig();
  const load = { cpus: os.cpus().length, loadavg1m: Number(os.loadavg()[0]!.toFixed(2)) };
  try {
    const store = new LineageStore(prisma);
    await store.registerMany([
      {
        name: 'bench_mcp',
        version: '1.0.0',
        description: 'Is it an email address?',
        code: CODE,
        inputSchema: { type: 'string' },
      },
    ]);
    await store.setRoute('bench_mcp@1.0.0', 'bench');

    const runtime = await ToolRuntime.create({ databaseUrl: db.url, config });
    const inProcess = await createMcpStack({ databaseUrl: db.url, config });
    const memoryClient = new Client({ name: 'bench', version: '1.0.0' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await Promise.all([inProcess.service.createServer().connect(serverSide), memoryClient.connect(clientSide)]);
    const stdioClient = new Client({ name: 'bench', version: '1.0.0' });
    await stdioClient.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [`${PACKAGE_ROOT}/bin/dise.mjs`, 'mcp'],
        env: { ...(process.env as Record<string, string>), DATABASE_URL: db.url, DISE_SIGNAL_MONITOR: '0' },
        stderr: 'ignore',
      }),
    );
    const callRuntime = (i: number) => runtime.call('bench_mcp', input(i));
    const callMemory = (i: number) => memoryClient.callTool({ name: 'bench_mcp', arguments: { input: input(i) } });
    const callStdio = (i: number) => stdioClient.callTool({ name: 'bench_mcp', arguments: { input: input(i) } });

    // Warm every path (isolate compiled, routes cached, the CLI bundle and JIT warm).
    for (const call of [callRuntime, callMemory, callStdio]) await sample(200, call, []);
    const samples = { runtime: [] as number[], memory: [] as number[], stdio: [] as number[] };
    const perRound = Math.ceil(CALLS / ROUNDS);
    progress(
      `${CALLS.toLocaleString()} calls per path (ToolRuntime.call, MCP in-process, MCP over stdio), ${ROUNDS} interleaved rounds; ${load.cpus} CPUs, load ${load.loadavg1m}…`,
    );
    for (let r = 0; r < ROUNDS; r++) {
      await sample(perRound, callRuntime, samples.runtime);
      await sample(perRound, callMemory, samples.memory);
      await sample(perRound, callStdio, samples.stdio);
    }
    await stdioClient.close();
    await memoryClient.close();
    await inProcess.close();
    await runtime.close();

    const p50 = {
      runtime: percentile(samples.runtime, 50),
      memory: percentile(samples.memory, 50),
      stdio: percentile(samples.stdio, 50),
    };
    const p99 = {
      runtime: percentile(samples.runtime, 99),
      memory: percentile(samples.memory, 99),
      stdio: percentile(samples.stdio, 99),
    };
    const overhead = p50.stdio - p50.runtime;
    const figures = {
      calls: CALLS,
      ...load,
      runtimeP50Ms: p50.runtime,
      runtimeP99Ms: p99.runtime,
      inMemoryP50Ms: p50.memory,
      inMemoryP99Ms: p99.memory,
      stdioP50Ms: p50.stdio,
      stdioP99Ms: p99.stdio,
      inMemoryOverheadP50Ms: p50.memory - p50.runtime,
      stdioOverheadP50Ms: overhead,
      stdioThroughputPerS: 1000 / (samples.stdio.reduce((a, b) => a + b, 0) / samples.stdio.length),
    };
    printFigures(
      'bench:mcp (tools/call latency against ToolRuntime.call, same tool, same run)',
      [
        ['ToolRuntime.call (baseline)', fmtMs(p50.runtime), `median; p99 ${fmtMs(p99.runtime)}`],
        [
          'tools/call, MCP client in-process',
          fmtMs(p50.memory),
          `median; p99 ${fmtMs(p99.memory)}; +${fmtMs(p50.memory - p50.runtime)} over the baseline`,
        ],
        [
          'tools/call over stdio (dise mcp)',
          fmtMs(p50.stdio),
          `median; p99 ${fmtMs(p99.stdio)}; +${fmtMs(overhead)} over the baseline (target < 1 ms: ${overhead < 1 ? 'met' : 'missed'})`,
        ],
        [
          'calls/s over stdio, one client',
          figures.stdioThroughputPerS.toFixed(0),
          `sequential; ${load.cpus} CPUs, 1-min load ${load.loadavg1m} at start`,
        ],
      ],
      { bench: 'mcp', ...figures },
    );
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
