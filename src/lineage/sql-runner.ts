import type { Db } from './sql.js';

// One interface for the two drivers the data layer speaks through: Prisma (workers, the full CLI)
// and node-postgres (the tool runtime and the quick CLI, which must not load Prisma's client). A
// statement written once as parameterised SQL text runs over either.

/** Anything that runs a parameterised SQL text: node-postgres pools and clients, or Prisma (adapted). */
export interface SqlRunner {
  query<R>(text: string, values: unknown[]): Promise<R[]>;
}

/** Runs data-layer SQL texts over a node-postgres pool or client (the runtime's and the quick CLI's path). */
export function pgRunner(pool: { query(text: string, values: unknown[]): Promise<{ rows: unknown[] }> }): SqlRunner {
  return { query: async <R>(text: string, values: unknown[]) => (await pool.query(text, values)).rows as R[] };
}

/** Runs data-layer SQL texts through Prisma (or a Prisma transaction). */
export function prismaRunner(db: Db): SqlRunner {
  return { query: <R>(text: string, values: unknown[]) => db.$queryRawUnsafe<R[]>(text, ...values) };
}
