import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import OpenAI from 'openai';
import { z } from 'zod';
import type { DiseConfig } from '../config/schema.js';
import { TRACER_NAME } from '../shared/constants.js';

/** The LLM endpoint: any OpenAI-compatible server. */
export interface LlmSettings {
  apiKey: string;
  baseURL?: string;
  model: string;
  timeoutMs: number;
  temperature: number;
}

/** From OPENAI_API_KEY / OPENAI_BASE_URL and config.llm; undefined means the offline strategy. */
export function llmSettingsFrom(config: DiseConfig, env: NodeJS.ProcessEnv = process.env): LlmSettings | undefined {
  const baseURL = env.OPENAI_BASE_URL || config.llm.base_url || undefined;
  const apiKey = env.OPENAI_API_KEY || (baseURL ? 'not-needed' : undefined);
  if (!apiKey) return undefined;
  return {
    apiKey,
    baseURL,
    model: config.llm.model,
    timeoutMs: config.llm.timeout_seconds * 1000,
    temperature: config.llm.temperature,
  };
}

/** The answer was not what we asked for: counts as a failed attempt, retrying will not help. */
export class MalformedAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedAnswerError';
  }
}

/** The request itself failed in a way that retrying may fix (429, 5xx, timeouts, dropped connections). */
export class TransientLlmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientLlmError';
  }
}

/** The request can never succeed as configured (bad key, unknown model, bad request). */
export class PermanentLlmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentLlmError';
  }
}

function classify(err: unknown): Error {
  if (err instanceof OpenAI.APIConnectionError) return new TransientLlmError(`LLM unreachable: ${err.message}`);
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    if (status === 408 || status === 409 || status === 429 || status >= 500)
      return new TransientLlmError(`LLM answered ${status}: ${err.message}`);
    return new PermanentLlmError(`LLM refused the request (${status}): ${err.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

interface LlmRequest<T> {
  system: string;
  user: string;
  schemaName: string;
  schema: z.ZodType<T>;
  signal?: AbortSignal;
}

/**
 * A thin client over the `openai` SDK that asks for JSON matching a zod schema. The SDK's own
 * retries are off: Temporal retries transient errors with its own backoff, visible in history.
 */
export class LlmClient {
  private readonly openai: OpenAI;

  constructor(readonly settings: LlmSettings) {
    this.openai = new OpenAI({
      apiKey: settings.apiKey,
      baseURL: settings.baseURL,
      maxRetries: 0,
      timeout: settings.timeoutMs,
    });
  }

  /**
   * `signal` aborts the request at once (the activity's cancellation signal): a cancelled heal must
   * not wait for a slow answer to run into llm.timeout_seconds. The abort is rethrown as its reason.
   */
  json<T>(args: LlmRequest<T>): Promise<T> {
    // A child of the heal step's span when the worker is traced (the prompt and answer are not recorded).
    return trace.getTracer(TRACER_NAME).startActiveSpan(
      'llm.request',
      {
        kind: SpanKind.CLIENT,
        attributes: { 'gen_ai.request.model': this.settings.model, 'dise.llm.schema': args.schemaName },
      },
      (span) =>
        this.request(args)
          .catch((err: Error) => {
            span.setStatus({ code: SpanStatusCode.ERROR, message: err.name });
            throw err;
          })
          .finally(() => span.end()),
    );
  }

  private async request<T>(args: LlmRequest<T>): Promise<T> {
    let content: string | null | undefined;
    try {
      const completion = await this.openai.chat.completions.create(
        {
          model: this.settings.model,
          temperature: this.settings.temperature,
          messages: [
            { role: 'system', content: args.system },
            { role: 'user', content: args.user },
          ],
          response_format: {
            type: 'json_schema',
            json_schema: {
              name: args.schemaName,
              strict: true,
              schema: z.toJSONSchema(args.schema) as Record<string, unknown>,
            },
          },
        },
        args.signal ? { signal: args.signal } : undefined,
      );
      content = completion.choices?.[0]?.message?.content;
    } catch (err) {
      if (args.signal?.aborted) throw args.signal.reason instanceof Error ? args.signal.reason : err;
      throw classify(err);
    }
    if (!content) throw new MalformedAnswerError('the LLM answered with no content');
    let data: unknown;
    try {
      data = JSON.parse(stripFences(content));
    } catch {
      throw new MalformedAnswerError(`the LLM answer is not JSON: ${content.slice(0, 120)}`);
    }
    const parsed = args.schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new MalformedAnswerError(
        `the LLM answer does not match ${args.schemaName}: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
    }
    return parsed.data;
  }
}

/** Some servers wrap JSON in a markdown fence even when asked for JSON. */
function stripFences(text: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n```\s*$/.exec(text);
  return m ? m[1]! : text;
}
