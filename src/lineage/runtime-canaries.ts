import type { ToolLanguage } from '../shared/language.js';
import type pg from 'pg';
import type { SqlRunner } from './sql-runner.js';

// The canary statements a tool runtime runs on its own node-postgres pool, in a module without Prisma
// (the runtime and the quick CLI never load Prisma's client).

/** A running canary as the runtime caches it: the candidate's code and the share of calls to mirror. */
export interface RuntimeCanaryRow {
  tool_name: string;
  candidate_id: string;
  stable_id: string;
  mirror_fraction: number;
  code: string;
  language: ToolLanguage;
  code_hash: string;
}

/** One mirrored call, as a runtime writes it. */
export interface ComparisonRow {
  candidateId: string;
  stableId: string;
  agree: boolean;
  stableOk: boolean;
  candidateOk: boolean;
  candidateError: string | null;
  stableMs: number;
  candidateMs: number;
  inputHash: string;
  /** JSON texts, kept only when the answers disagree. */
  inputJson: string | null;
  stableOutputJson: string | null;
  candidateOutputJson: string | null;
  source: string;
  seq: number;
}

/** Statements the runtime runs over node-postgres (its own pool, off the caller's path). */
export const runtimeCanaries = {
  /** Running canaries of `names` (every tool when omitted) whose candidate is still CANARY. */
  async running(pool: pg.Pool, names?: string[]): Promise<RuntimeCanaryRow[]> {
    const { rows } = await pool.query<RuntimeCanaryRow>(
      `SELECT c.tool_name, c.candidate_id, c.stable_id, c.mirror_fraction, t.code, t.language, t.code_hash
       FROM canaries c JOIN tool_lineage t ON t.tool_id = c.candidate_id
       WHERE c.status = 'running' AND t.health_status = 'canary'
       ${names ? 'AND c.tool_name = ANY($1::varchar[])' : ''}`,
      names ? [names] : [],
    );
    return rows;
  },

  /** Writes a batch of comparisons in one statement; a batch written again (a retry) is stored once. */
  async insert(db: SqlRunner, rows: ComparisonRow[]): Promise<void> {
    if (!rows.length) return;
    await db.query(
      `INSERT INTO canary_comparisons (candidate_id, stable_id, agree, stable_ok, candidate_ok, candidate_error, stable_ms, candidate_ms, input_hash, input, stable_output, candidate_output, source, seq)
       SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::bool[], $4::bool[], $5::bool[], $6::varchar[], $7::float8[], $8::float8[], $9::varchar[], $10::json[], $11::json[], $12::json[], $13::varchar[], $14::int8[])
       ON CONFLICT (source, seq) DO NOTHING`,
      [
        rows.map((r) => r.candidateId),
        rows.map((r) => r.stableId),
        rows.map((r) => r.agree),
        rows.map((r) => r.stableOk),
        rows.map((r) => r.candidateOk),
        rows.map((r) => r.candidateError),
        rows.map((r) => r.stableMs),
        rows.map((r) => r.candidateMs),
        rows.map((r) => r.inputHash),
        rows.map((r) => r.inputJson),
        rows.map((r) => r.stableOutputJson),
        rows.map((r) => r.candidateOutputJson),
        rows.map((r) => r.source),
        rows.map((r) => r.seq),
      ],
    );
  },
};
