import { afterAll, beforeAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted reply of the fake OpenAI-compatible server. */
export interface ScriptedReply {
  /** HTTP status (default 200). */
  status?: number;
  /** The assistant message content: an object is sent as JSON text, a string as is. */
  content?: unknown;
  /** The content computed from the request's user message (instead of `content`). */
  answer?: (user: string) => unknown;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Drop the connection without answering. */
  drop?: boolean;
}

export interface RecordedRequest {
  schema: string;
  body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format?: { json_schema?: { name: string } };
  };
}

/**
 * An OpenAI-compatible chat-completions server on loopback, answering from scripts per response
 * schema (FailureAnalysis, RegeneratedTool). The real `openai` SDK talks to it over HTTP.
 */
export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  private readonly scripts = new Map<string, ScriptedReply[]>();
  private readonly fallback = new Map<string, ScriptedReply>();
  private server!: http.Server;
  url = '';

  /** Replies to requests for `schema`, in order; the last one repeats once the list is used up. */
  script(schema: string, replies: ScriptedReply[]): this {
    this.scripts.set(schema, [...replies]);
    this.fallback.set(schema, replies[replies.length - 1]!);
    return this;
  }

  requestsFor(schema: string): RecordedRequest[] {
    return this.requests.filter((r) => r.schema === schema);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => void this.answer(raw, req, res));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  private async answer(raw: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(raw) as RecordedRequest['body'];
    const schema = body.response_format?.json_schema?.name ?? 'none';
    this.requests.push({ schema, body });
    const queue = this.scripts.get(schema);
    const reply = queue?.shift() ?? this.fallback.get(schema) ?? { status: 500, content: 'no script' };
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (reply.drop) {
      req.socket.destroy();
      return;
    }
    const status = reply.status ?? 200;
    if (status !== 200) {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: `scripted ${status}`, type: 'server_error' } }));
      return;
    }
    const given = reply.answer
      ? reply.answer(body.messages.find((m) => m.role === 'user')?.content ?? '')
      : reply.content;
    const content = typeof given === 'string' ? given : JSON.stringify(given);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: `chatcmpl-${this.requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A scripted server for one test file: started before its tests, stopped after them. */
export function useFakeOpenAI(): FakeOpenAI {
  const fake = new FakeOpenAI();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  return fake;
}
