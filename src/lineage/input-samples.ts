import type pg from 'pg';
import type { PrismaClient } from '../infra/database.js';
import type { JsonValue } from '../shared/lineage-types.js';
import type { Db } from './sql.js';
import { jsonbSafeText } from './sql-text.js';

/** One reservoir slot of a tool's sample of successful inputs. */
export interface InputSampleRow {
  toolName: string;
  slot: number;
  inputJson: string;
  inputHash: string;
}

/**
 * Writes reservoir slots in one statement (node-postgres: the runtime's path). A slot holds the
 * latest input any runtime put there, so the table stays bounded by tools × sample size.
 */
export async function upsertInputSamples(client: pg.Pool | pg.PoolClient, rows: InputSampleRow[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    `INSERT INTO input_samples (tool_name, slot, input, input_hash, recorded_at)
     SELECT v.tool_name, v.slot, v.input, v.input_hash, now()
     FROM unnest($1::varchar[], $2::int[], $3::json[], $4::varchar[]) AS v(tool_name, slot, input, input_hash)
     ON CONFLICT (tool_name, slot) DO UPDATE SET input = EXCLUDED.input, input_hash = EXCLUDED.input_hash, recorded_at = EXCLUDED.recorded_at`,
    [
      rows.map((r) => r.toolName),
      rows.map((r) => r.slot),
      rows.map((r) => jsonbSafeText(r.inputJson)),
      rows.map((r) => r.inputHash),
    ],
  );
}

/** input_samples (reads): the recorded real inputs of the differential corpus. */
export class InputSampleStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** A tool's sampled inputs, distinct, in slot order (at most `limit`). */
  async forTool(toolName: string, limit: number, db: Db = this.prisma): Promise<JsonValue[]> {
    if (limit <= 0) return [];
    const rows = await db.inputSample.findMany({
      where: { toolName },
      orderBy: { slot: 'asc' },
      take: limit,
      distinct: ['inputHash'],
      select: { input: true },
    });
    return rows.map((r) => r.input as JsonValue);
  }

  /** How many inputs are kept for a tool. */
  count(toolName: string): Promise<number> {
    return this.prisma.inputSample.count({ where: { toolName } });
  }
}
