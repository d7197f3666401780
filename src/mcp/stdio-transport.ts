import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  JSONRPCMessageSchema,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

/** Default bound on one message (one line); bigger ones are refused and skipped, not buffered. */
export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The id at the end of a JSON-RPC request line (the SDK's clients write it after the params). */
const TRAILING_ID = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$/;
/** How much of an oversized line is kept to find its id in. */
const TAIL_BYTES = 256;

function idOf(value: unknown): RequestId | null {
  if (typeof value !== 'object' || value === null || !('id' in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}

/**
 * MCP over stdio (newline-delimited JSON-RPC), answering what the SDK's own stdio transport drops or
 * dies of: a line that is not JSON gets a parse error (-32700), JSON that is not a JSON-RPC message
 * an invalid-request error (-32600) with its id when it has one, and a line over the size bound is
 * skipped as it streams (never buffered whole) and answered -32600 with the id found at its end, so
 * the client's request fails at once instead of hanging. The server keeps serving in every case.
 */
export class LineStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** stdin ended: no more requests will come (those read are still answered). Without it, end closes. */
  onInputEnd?: () => void;

  /** Requests passed on and not yet answered. */
  private readonly unanswered = new Set<RequestId>();
  private idleWaiters: (() => void)[] = [];

  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Skipping an oversized line until its newline; the bytes seen so far and its last bytes. */
  private skipping: { bytes: number; tail: Buffer } | null = null;
  private closed = false;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  private readonly onData = (chunk: Buffer) => this.append(chunk);
  private readonly onEnd = () => (this.onInputEnd ? this.onInputEnd() : void this.close());
  private readonly onStreamError = (err: Error) => this.onerror?.(err);

  async start(): Promise<void> {
    this.stdin.on('data', this.onData);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('error', this.onStreamError);
  }

  private append(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length) {
      const newline = rest.indexOf(0x0a);
      const piece = newline === -1 ? rest : rest.subarray(0, newline);
      rest = newline === -1 ? Buffer.alloc(0) : rest.subarray(newline + 1);
      if (this.skipping) {
        this.skipping.bytes += piece.length;
        this.skipping.tail = Buffer.concat([this.skipping.tail, piece]).subarray(-TAIL_BYTES);
      } else if (this.buffered + piece.length > this.maxMessageBytes) {
        const seen = Buffer.concat([...this.chunks, piece]);
        this.skipping = { bytes: seen.length, tail: seen.subarray(-TAIL_BYTES) };
        this.chunks = [];
        this.buffered = 0;
      } else {
        this.chunks.push(piece);
        this.buffered += piece.length;
      }
      if (newline === -1) break;
      if (this.skipping) {
        const { bytes, tail } = this.skipping;
        this.skipping = null;
        this.refuseOversized(bytes, tail);
      } else {
        const line = Buffer.concat(this.chunks).toString('utf8');
        this.chunks = [];
        this.buffered = 0;
        this.handleLine(line);
      }
    }
  }

  private refuseOversized(bytes: number, tail: Buffer): void {
    const match = TRAILING_ID.exec(tail.toString('utf8'));
    let id: RequestId | null = null;
    if (match) {
      try {
        id = JSON.parse(match[1]!) as RequestId;
      } catch {
        id = null;
      }
    }
    const message = `message of ${bytes} bytes refused: the limit is ${this.maxMessageBytes} bytes (dise mcp --max-message-bytes)`;
    this.onerror?.(new Error(message));
    this.sendError(id, ErrorCode.InvalidRequest, message);
  }

  private handleLine(raw: string): void {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch (err) {
      this.onerror?.(new Error(`not JSON: ${(err as Error).message}`));
      this.sendError(null, ErrorCode.ParseError, `Parse error: the message is not JSON (${(err as Error).message})`);
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(data);
    if (!parsed.success) {
      const problem = parsed.error.issues[0]?.message ?? 'not a JSON-RPC 2.0 message';
      this.onerror?.(new Error(`not a JSON-RPC message: ${problem}`));
      this.sendError(
        idOf(data),
        ErrorCode.InvalidRequest,
        `Invalid Request: not a JSON-RPC 2.0 request, notification or response (${Array.isArray(data) ? 'batches are not part of MCP' : problem})`,
      );
      return;
    }
    const message = parsed.data;
    if ('method' in message && 'id' in message) this.unanswered.add(message.id);
    this.onmessage?.(message);
  }

  /** Resolves once every request read so far has been answered. */
  whenAnswered(): Promise<void> {
    if (!this.unanswered.size) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private answered(id: RequestId): void {
    if (!this.unanswered.delete(id) || this.unanswered.size) return;
    this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private sendError(id: RequestId | null, code: number, message: string): void {
    // JSON-RPC answers a request it could not read with id null; the SDK's types insist on an id.
    this.write(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } })).catch((err: Error) =>
      this.onerror?.(err),
    );
  }

  async send(message: JSONRPCMessage): Promise<void> {
    try {
      await this.write(JSON.stringify(message));
    } finally {
      if (!('method' in message) && 'id' in message && message.id !== undefined) this.answered(message.id);
    }
  }

  private write(json: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.stdout.destroyed || this.stdout.writableEnded) return reject(new Error('stdout is closed'));
      if (this.stdout.write(json + '\n')) resolve();
      else this.stdout.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('error', this.onStreamError);
    this.stdin.pause();
    this.chunks = [];
    this.unanswered.clear();
    this.idleWaiters.splice(0).forEach((resolve) => resolve());
    this.onclose?.();
  }
}
