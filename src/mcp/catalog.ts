import { EventEmitter } from 'node:events';
import pg from 'pg';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { mcpCatalog, type CatalogRow } from '../lineage/mcp-catalog.js';
import { ROUTING_CHANNEL } from '../runtime/routing-cache.js';
import { ROUTABLE_HEALTH, type Health, type JsonValue } from '../shared/lineage-types.js';
import { inputShape, outputShape, type InputShape, type OutputShape } from './schemas.js';

/** One routed tool as MCP clients see it. */
export interface McpToolEntry {
  name: string;
  description: string;
  /**
   * Listed: the runtime would answer it. A tool not listed (its version unusable, no alternative)
   * is still callable by a client holding an older list, and gets the runtime's typed refusal.
   */
  served: boolean;
  /** The routed version and its health (the version that answers may be an alternative). */
  versionId: string;
  health: Health;
  input: InputShape;
  output: OutputShape | null;
  /** Checks arguments against `input.schema`; null when the declared schema does not compile. */
  validateArguments: JsonSchemaValidator<unknown> | null;
  /** Checks structuredContent against `output.schema`, when there is one that compiles. */
  validateOutput: JsonSchemaValidator<unknown> | null;
}

export interface ToolCatalogOptions {
  databaseUrl: string;
  /** What the runtime does with a version known wrong and no alternative (runtime.known_wrong_policy). */
  knownWrongPolicy: 'refuse' | 'serve_with_warning';
  /** How long to gather routing notifications before reading the tools again (default 150 ms). */
  debounceMs?: number;
  /** Full re-read as a safety net for changes no notification announces, e.g. new tests (default 10 s). */
  refreshMs?: number;
  log?: (line: string) => void;
}

/**
 * Would the runtime answer calls of this tool? A tool whose routed version is unusable and has no
 * usable alternative is withdrawn from the list: calling it could only fail.
 */
function isServed(row: CatalogRow, policy: ToolCatalogOptions['knownWrongPolicy']): boolean {
  const routable = ROUTABLE_HEALTH.includes(row.health);
  if (routable && !row.knownWrong) return true;
  if (row.alternativeId && row.alternativeHealth && ROUTABLE_HEALTH.includes(row.alternativeHealth)) return true;
  return routable && policy === 'serve_with_warning';
}

/** What a client's cached list depends on: names and schemas, not descriptions or versions. */
function listSignature(tools: Map<string, McpToolEntry>): string {
  return JSON.stringify(
    [...tools.values()].filter((t) => t.served).map((t) => [t.name, t.input.schema, t.output?.schema ?? null]),
  );
}

/**
 * The routed tools served over MCP, read from the database and kept current: routing notifications
 * (a route moved, a health changed) are gathered for a moment, the tools read again, and `changed`
 * emitted only when the list a client holds is out of date: a tool added, withdrawn, or its schema
 * changed. A heal that swaps the version behind a name changes nothing a client holds.
 */
export class ToolCatalog extends EventEmitter<{ changed: []; refreshed: [] }> {
  private readonly pool: pg.Pool;
  private tools = new Map<string, McpToolEntry>();
  private signature = '[]';
  private listener: pg.Client | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly validators = new Map<string, JsonSchemaValidator<unknown> | null>();
  private readonly ajv = new AjvJsonSchemaValidator();
  private readonly log: (line: string) => void;

  constructor(private readonly options: ToolCatalogOptions) {
    super();
    this.log = options.log ?? (() => undefined);
    this.pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
    this.pool.on('error', (err) => this.log(`catalog database connection error: ${err.message}`));
  }

  /** Reads the tools and starts following changes. */
  async start(): Promise<void> {
    await this.listen();
    await this.refresh();
    this.refreshTimer = setInterval(() => this.schedule(), this.options.refreshMs ?? 10_000);
    this.refreshTimer.unref();
  }

  /** The tools listed to clients. */
  list(): McpToolEntry[] {
    return [...this.tools.values()].filter((t) => t.served);
  }

  get(name: string): McpToolEntry | undefined {
    return this.tools.get(name);
  }

  /** The database pool the catalog reads with (also used for the MCP resources). */
  get db(): pg.Pool {
    return this.pool;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    client.on('notification', (msg) => {
      if (msg.channel === ROUTING_CHANNEL) this.schedule();
    });
    client.on('error', (err) => {
      this.log(`catalog listener lost its connection (${err.message}); reconnecting`);
      this.reconnect();
    });
    client.on('end', () => this.reconnect());
    await client.connect();
    await client.query(`LISTEN ${ROUTING_CHANNEL}`);
    this.listener = client;
  }

  private reconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.listener = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.listen()
        .then(() => this.schedule())
        .catch((err: Error) => {
          this.log(`catalog listener reconnect failed: ${err.message}`);
          this.reconnect();
        });
    }, 500);
    this.reconnectTimer.unref();
  }

  /** A change was announced: read again once the burst is over (a heal moves several rows at once). */
  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.refresh().catch((err: Error) => this.log(`could not read the tools: ${err.message}`));
    }, this.options.debounceMs ?? 150);
    this.debounceTimer.unref();
  }

  /** Reads the tools now; emits `changed` when names or schemas differ from the last read. */
  async refresh(): Promise<void> {
    if (this.refreshing) {
      // A read in flight may have started before the change: read once more after it.
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.readOnce();
        } while (this.again && !this.closed);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async readOnce(): Promise<void> {
    const rows = await mcpCatalog.routedTools(this.pool);
    const undeclared = rows.filter((r) => !r.inputSchema).map((r) => r.name);
    const inputs = await mcpCatalog.testInputs(this.pool, undeclared);
    const next = new Map<string, McpToolEntry>();
    for (const row of rows) {
      const input = inputShape(row.inputSchema, inputs.get(row.name) ?? []);
      const output = outputShape(row.outputSchema);
      next.set(row.name, {
        name: row.name,
        served: isServed(row, this.options.knownWrongPolicy),
        description: row.description,
        versionId: row.versionId,
        health: row.health,
        input,
        output,
        validateArguments: this.validator(row.name, 'input_schema', input.schema),
        validateOutput: output ? this.validator(row.name, 'output_schema', output.schema) : null,
      });
    }
    if (this.closed) return;
    this.tools = next;
    const signature = listSignature(next);
    const changed = signature !== this.signature;
    this.signature = signature;
    this.emit('refreshed');
    if (changed) this.emit('changed');
  }

  private validator(
    name: string,
    field: string,
    schema: { [key: string]: JsonValue },
  ): JsonSchemaValidator<unknown> | null {
    const key = JSON.stringify(schema);
    if (!this.validators.has(key)) {
      try {
        this.validators.set(key, this.ajv.getValidator<unknown>(schema as JsonSchemaType));
      } catch (err) {
        this.log(`${name}: its ${field} does not compile (${(err as Error).message}); it is not checked`);
        this.validators.set(key, null);
      }
    }
    return this.validators.get(key)!;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.debounceTimer);
    clearInterval(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    await this.refreshing?.catch(() => undefined);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      listener.removeAllListeners('end');
      await listener.end().catch(() => undefined);
    }
    await this.pool.end();
  }
}
