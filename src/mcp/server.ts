import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { LineageError } from '../lineage/errors.js';
import { pgRunner } from '../lineage/sql-runner.js';
import { mcpCatalog } from '../lineage/mcp-catalog.js';
import { quickReads } from '../lineage/quick-reads.js';
import { runtimeRouting } from '../lineage/runtime-routing.js';
import { ToolPrunedError, ToolUnavailableError, UnknownToolError } from '../runtime/errors.js';
import type { ToolRuntime } from '../runtime/tool-runtime.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import { InvalidIdError } from '../shared/ids.js';
import { SEVERITIES, type JsonValue, type Severity } from '../shared/lineage-types.js';
import type { McpToolEntry, ToolCatalog } from './catalog.js';
import { WRAPPED_INPUT_PROPERTY, WRAPPED_OUTPUT_PROPERTY } from './schemas.js';

/** The built-in tool agents report wrong answers with. */
export const REPORT_TOOL = 'dise_report';

/** Default bound on one call's arguments, as JSON text. */
export const DEFAULT_MAX_ARGUMENT_BYTES = 1024 * 1024;

/** `_meta` keys of a tool's answer (MCP's `_meta` names take a prefix ending in a slash). */
export const META = {
  version: 'dise/version',
  health: 'dise/health',
  durationMs: 'dise/durationMs',
  alternativeFor: 'dise/alternativeFor',
  warning: 'dise/warning',
  errorKind: 'dise/errorKind',
  inputWrapped: 'dise/inputWrapped',
  inputSchemaSource: 'dise/inputSchemaSource',
} as const;

const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = `Tools served by dise-heal. Each tool keeps its name while dise heals the code behind it; the answer's _meta names the version that answered ("${META.version}") and its health.
When a tool answers wrongly, call ${REPORT_TOOL} with the tool name, the arguments you sent, what it returned and what it should have returned. Enough reports heal the tool.
A tool whose input is not a JSON object takes it as {"${WRAPPED_INPUT_PROPERTY}": <value>}.`;

export interface McpServiceOptions {
  runtime: ToolRuntime;
  catalog: ToolCatalog;
  /** Bound on one call's arguments as JSON text (default 1 MiB). */
  maxArgumentBytes?: number;
  log?: (line: string) => void;
}

/** A typed tool failure, as an MCP tool result the agent can read (not a protocol error). */
function failureResult(kind: string, message: string, version: { id: string; health: string } | null): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${kind}: ${message}` }],
    _meta: {
      [META.errorKind]: kind,
      ...(version ? { [META.version]: version.id, [META.health]: version.health } : {}),
    },
  };
}

function isPlainObject(value: unknown): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What every MCP session of one `dise mcp` shares: the runtime guard the calls go through, the tool
 * catalog, and the count of calls in flight so a shutdown answers them before it closes.
 */
export class DiseMcpService {
  private readonly runtime: ToolRuntime;
  readonly catalog: ToolCatalog;
  private readonly maxArgumentBytes: number;
  private readonly log: (line: string) => void;
  private accepting = true;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private readonly servers = new Set<Server>();

  constructor(options: McpServiceOptions) {
    this.runtime = options.runtime;
    this.catalog = options.catalog;
    this.maxArgumentBytes = options.maxArgumentBytes ?? DEFAULT_MAX_ARGUMENT_BYTES;
    this.log = options.log ?? (() => undefined);
  }

  /** A server for one client connection (stdio, or one Streamable HTTP session). */
  createServer(): Server {
    const server = new Server(
      { name: 'dise', title: 'dise-heal: self-healing tools', version: SERVER_VERSION },
      { capabilities: { tools: { listChanged: true }, resources: {} }, instructions: INSTRUCTIONS },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [
        ...this.catalog
          .list()
          .filter((t) => t.name !== REPORT_TOOL)
          .map(toMcpTool),
        REPORT_TOOL_DEFINITION,
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, (request) =>
      this.callTool(request.params.name, request.params.arguments),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: RESOURCE_TEMPLATES }));
    server.setRequestHandler(ListResourcesRequestSchema, () => ({
      resources: this.catalog.list().map((t) => ({
        uri: `dise://tools/${t.name}/lineage`,
        name: `${t.name} lineage`,
        description: `Why ${t.name} is what it is: its versions, failures, rules and heals`,
        mimeType: 'application/json',
      })),
    }));
    server.setRequestHandler(ReadResourceRequestSchema, (request) => this.readResource(request.params.uri));

    // A client holding the list is told when it is out of date (the catalog gathers bursts).
    const onChanged = () => {
      server.sendToolListChanged().catch((err: Error) => this.log(`could not send tools/list_changed: ${err.message}`));
    };
    server.oninitialized = () => this.catalog.on('changed', onChanged);
    server.onclose = () => {
      this.catalog.off('changed', onChanged);
      this.servers.delete(server);
    };
    this.servers.add(server);
    return server;
  }

  /** Runs one tools/call: the arguments checked, the call through the runtime guard, the answer typed. */
  async callTool(name: string, args: Record<string, unknown> | undefined): Promise<CallToolResult> {
    if (!this.accepting) {
      throw new McpError(
        ErrorCode.InternalError,
        `dise mcp is shutting down: ${name} was not called; call it again once the server is back`,
        { shuttingDown: true },
      );
    }
    this.inFlight++;
    try {
      const argumentsJson = JSON.stringify(args ?? {});
      const bytes = Buffer.byteLength(argumentsJson);
      if (bytes > this.maxArgumentBytes) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `arguments of ${name} are ${bytes} bytes; the limit is ${this.maxArgumentBytes} (dise mcp --max-argument-bytes)`,
        );
      }
      if (name === REPORT_TOOL) return await this.report(args ?? {});
      const tool = this.catalog.get(name) ?? (await this.catalog.refresh().then(() => this.catalog.get(name)));
      if (!tool)
        throw new McpError(ErrorCode.InvalidParams, `unknown tool "${name}" (tools/list names the tools served)`);
      return await this.callRouted(tool, this.toolInput(tool, args ?? {}));
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.idle.splice(0).forEach((resolve) => resolve());
    }
  }

  /** The tool's input from MCP arguments: checked against the listed schema, unwrapped when wrapped. */
  private toolInput(tool: McpToolEntry, args: Record<string, unknown>): JsonValue {
    const check = tool.validateArguments?.(args);
    if (check && !check.valid)
      throw new McpError(ErrorCode.InvalidParams, `invalid arguments for ${tool.name}: ${check.errorMessage}`);
    return (tool.input.wrapped ? args[WRAPPED_INPUT_PROPERTY] : args) as JsonValue;
  }

  private async callRouted(tool: McpToolEntry, input: JsonValue): Promise<CallToolResult> {
    let answer;
    try {
      answer = await this.runtime.callDetailed(tool.name, input);
    } catch (err) {
      if (err instanceof ToolExecutionError) {
        if (err.kind === 'invalid_input')
          throw new McpError(ErrorCode.InvalidParams, `invalid arguments for ${tool.name}: ${err.message}`);
        return failureResult(err.kind, err.message, err.version);
      }
      if (err instanceof ToolPrunedError)
        return failureResult('refused_known_wrong', err.message, { id: err.versionId, health: err.health });
      if (err instanceof ToolUnavailableError)
        return failureResult('refused_unavailable', err.message, { id: err.versionId, health: err.health });
      if (err instanceof UnknownToolError)
        throw new McpError(ErrorCode.InvalidParams, `unknown tool "${tool.name}": it has no route any more`);
      throw err;
    }
    const meta: Record<string, unknown> = {
      [META.version]: answer.versionId,
      [META.health]: answer.health,
      [META.durationMs]: Number(answer.durationMs.toFixed(3)),
    };
    if (answer.alternativeFor) meta[META.alternativeFor] = answer.alternativeFor;
    if (answer.warning) meta[META.warning] = answer.warning;
    const result: CallToolResult = { content: [{ type: 'text', text: JSON.stringify(answer.output) }], _meta: meta };
    if (tool.output) {
      // A client checks structuredContent against the listed schema: an answer that breaks it is a failure, named as one.
      const structured = tool.output.wrapped ? { [WRAPPED_OUTPUT_PROPERTY]: answer.output } : answer.output;
      const check = tool.validateOutput?.(structured);
      if (!isPlainObject(structured) || (check && !check.valid)) {
        return failureResult(
          'output_schema_mismatch',
          `${answer.versionId} answered ${JSON.stringify(answer.output)}, which does not match its output_schema${check?.errorMessage ? ` (${check.errorMessage})` : ''}`,
          {
            id: answer.versionId,
            health: answer.health,
          },
        );
      }
      result.structuredContent = structured;
    } else if (isPlainObject(answer.output)) {
      result.structuredContent = answer.output;
    }
    return result;
  }

  /** dise_report: the same failure path as `dise report` (three reports of a version start its heal). */
  private async report(args: Record<string, unknown>): Promise<CallToolResult> {
    const check = REPORT_VALIDATOR(args);
    if (check) throw new McpError(ErrorCode.InvalidParams, `invalid arguments for ${REPORT_TOOL}: ${check}`);
    const toolRef = args.tool as string;
    let versionId: string;
    try {
      versionId = await quickReads.resolve(this.catalog.db, toolRef);
    } catch (err) {
      if (err instanceof LineageError || err instanceof InvalidIdError)
        throw new McpError(ErrorCode.InvalidParams, `${REPORT_TOOL}: ${err.message}`);
      throw err;
    }
    const entry = this.catalog.get(versionId.slice(0, versionId.indexOf('@')));
    // `input` is the arguments the call was made with: the tool's input once unwrapped.
    const sent = args.input as JsonValue;
    const input =
      entry?.input.wrapped && isPlainObject(sent) && WRAPPED_INPUT_PROPERTY in sent
        ? sent[WRAPPED_INPUT_PROPERTY]!
        : sent;
    const stored = await this.runtime.report(versionId, {
      input,
      observed: (args.observed ?? null) as JsonValue,
      ...(args.expected !== undefined ? { expected: args.expected as JsonValue } : {}),
      ...(typeof args.note === 'string' && args.note ? { description: args.note } : {}),
      ...(typeof args.severity === 'string' ? { severity: args.severity as Severity } : {}),
    });
    const summary = {
      versionId,
      failureId: stored.failureId,
      failureCount: stored.failureCount,
      healthMonitorSignalled: stored.signalled,
    };
    return {
      content: [
        {
          type: 'text',
          text:
            `recorded failure #${stored.failureId} against ${versionId} (failure count ${stored.failureCount})` +
            (stored.signalled ? '; the health monitor was signalled and will heal it' : ''),
        },
      ],
      structuredContent: summary,
    };
  }

  private async readResource(uri: string): Promise<{ contents: { uri: string; mimeType: string; text: string }[] }> {
    const lineage = /^dise:\/\/tools\/([^/]+)\/lineage$/.exec(uri);
    const heal = /^dise:\/\/heals\/(.+)$/.exec(uri);
    try {
      if (lineage) {
        const pool = this.catalog.db;
        const name = decodeURIComponent(lineage[1]!);
        const view = await quickReads.lineage(pgRunner(pool), await quickReads.resolve(pool, name));
        const route = await runtimeRouting.routeOf(pool, view.name);
        return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ ...view, route }, null, 2) }] };
      }
      if (heal) {
        const id = decodeURIComponent(heal[1]!);
        const runs = await mcpCatalog.healRuns(this.catalog.db, id);
        if (!runs.length)
          throw new McpError(
            ErrorCode.InvalidParams,
            `no heal recorded for "${id}" (a version id, heal id or workflow id such as heal:email_validator@2.0.0)`,
          );
        return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(runs, null, 2) }] };
      }
    } catch (err) {
      if (err instanceof LineageError || err instanceof InvalidIdError)
        throw new McpError(ErrorCode.InvalidParams, err.message);
      throw err;
    }
    throw new McpError(
      ErrorCode.InvalidParams,
      `unknown resource ${uri} (dise://tools/{name}/lineage or dise://heals/{id})`,
    );
  }

  /** Calls in flight right now. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Stops taking calls (new ones get a clear error) and waits for those in flight to be answered;
   * the caller then closes the transports and the runtime, which writes every execution.
   */
  async drain(): Promise<void> {
    this.accepting = false;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    // The SDK sends an answer a few promise steps after its handler returns: let it go out first.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Closes every session's server. */
  async closeServers(): Promise<void> {
    await Promise.allSettled([...this.servers].map((s) => s.close()));
  }
}

function toMcpTool(tool: McpToolEntry): Tool {
  return {
    name: tool.name,
    description:
      (tool.description || `The ${tool.name} tool`) +
      (tool.input.wrapped ? ` (pass the input as {"${WRAPPED_INPUT_PROPERTY}": <value>})` : ''),
    inputSchema: tool.input.schema as Tool['inputSchema'],
    ...(tool.output ? { outputSchema: tool.output.schema as NonNullable<Tool['outputSchema']> } : {}),
    _meta: {
      [META.version]: tool.versionId,
      [META.health]: tool.health,
      [META.inputWrapped]: tool.input.wrapped,
      [META.inputSchemaSource]: tool.input.source,
    },
  };
}

const REPORT_TOOL_DEFINITION: Tool = {
  name: REPORT_TOOL,
  title: 'Report a wrong answer',
  description:
    'Report that a tool served here answered wrongly. dise records it against the version that answered; enough reports (3 by default) make dise heal the tool, and later calls of the same tool name get the healed version.',
  inputSchema: {
    type: 'object',
    properties: {
      tool: {
        type: 'string',
        description:
          'the tool name (its routed version is reported) or the version id from the answer\'s _meta "dise/version"',
      },
      input: { description: 'the arguments the wrong call was made with, as sent in tools/call' },
      observed: { description: 'what the tool returned (its text content, parsed as JSON)' },
      expected: { description: 'what it should have returned; becomes a regression test when the tool is healed' },
      note: { type: 'string', description: 'what went wrong, in a sentence' },
      severity: {
        type: 'string',
        enum: [...SEVERITIES],
        description: 'how bad it is (default high); critical starts a heal at once',
      },
    },
    required: ['tool', 'input'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      versionId: { type: 'string' },
      failureId: { type: 'integer' },
      failureCount: { type: 'integer' },
      healthMonitorSignalled: { type: 'boolean' },
    },
    required: ['versionId', 'failureId', 'failureCount', 'healthMonitorSignalled'],
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
};

/** dise_report's arguments, checked by hand (the schema is small and fixed): an error message, or null. */
function REPORT_VALIDATOR(args: Record<string, unknown>): string | null {
  const known = Object.keys(REPORT_TOOL_DEFINITION.inputSchema.properties ?? {});
  const extra = Object.keys(args).filter((k) => !known.includes(k));
  if (extra.length) return `unknown field(s) ${extra.join(', ')}`;
  if (typeof args.tool !== 'string' || !args.tool) return '"tool" must be a tool name or version id';
  if (args.input === undefined) return '"input" is required';
  if (args.note !== undefined && typeof args.note !== 'string') return '"note" must be a string';
  if (args.severity !== undefined && !(SEVERITIES as readonly unknown[]).includes(args.severity))
    return `"severity" must be one of ${SEVERITIES.join(', ')}`;
  return null;
}

const RESOURCE_TEMPLATES = [
  {
    uriTemplate: 'dise://tools/{name}/lineage',
    name: 'tool lineage',
    description:
      "A tool's routed version with its ancestry, failures, mutations, avoidance rules and recovery (JSON, as `dise lineage --json`)",
    mimeType: 'application/json',
  },
  {
    uriTemplate: 'dise://heals/{id}',
    name: 'heal runs',
    description:
      'The heals of a version (id such as email_validator@2.0.0) or one heal (its workflow id heal:…): status, steps, result',
    mimeType: 'application/json',
  },
];
