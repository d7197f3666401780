import { readFileSync } from 'node:fs';
import internals from '@prisma/internals';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_FILE } from '../../src/infra/paths.js';
import { useTestStore } from '../support/database.js';
import { TABLES } from '../support/fixtures.js';

// The migrations are written by hand (the schema engine cannot be downloaded here), so this test is
// what keeps them honest: the migrated database and prisma/schema.prisma must describe the same
// tables, columns, types, nullability, relations and indexes, checked in both directions.
// Partitioned tables (executions, by day) are compared as their parent: the partitions the
// maintenance makes (executions_pYYYYMMDD, executions_default) are not in the schema.

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'normal' | 'unique' | 'fulltext';
  dbName?: string | null;
  fields: { name: string }[];
}

const h = useTestStore();
let models: DmmfModel[];
let indexes: DmmfIndex[];

const column = (f: DmmfField) => f.dbName ?? f.name;
const table = (m: DmmfModel) => m.dbName ?? m.name;

/** The PostgreSQL type (as format_type prints it) that Prisma maps a scalar field to. */
function expectedType(f: DmmfField): string {
  const [native, args] = f.nativeType ?? [undefined, []];
  switch (f.type) {
    case 'String':
      if (native === 'VarChar') return `character varying(${args[0]})`;
      return 'text';
    case 'Int':
      return 'integer';
    case 'BigInt':
      return 'bigint';
    case 'Float':
      return 'double precision';
    case 'Boolean':
      return 'boolean';
    case 'Json':
      return native === 'Json' ? 'json' : 'jsonb';
    case 'DateTime':
      if (native === 'Timestamptz') return `timestamp(${args[0] ?? 3}) with time zone`;
      return `timestamp(${args[0] ?? 3}) without time zone`;
    default:
      throw new Error(`unmapped Prisma type ${f.type} on ${f.name}`);
  }
}

beforeAll(async () => {
  const dmmf = await (
    internals as unknown as {
      getDMMF(o: { datamodel: string }): Promise<{ datamodel: { models: DmmfModel[]; indexes: DmmfIndex[] } }>;
    }
  ).getDMMF({ datamodel: readFileSync(SCHEMA_FILE, 'utf8') });
  models = dmmf.datamodel.models;
  indexes = dmmf.datamodel.indexes;
});

async function dbColumns(): Promise<Map<string, { type: string; nullable: boolean }>> {
  const rows = await h.db.query<{ tbl: string; col: string; type: string; notnull: boolean }>(`
    SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'`);
  return new Map(rows.map((r) => [`${r.tbl}.${r.col}`, { type: r.type, nullable: !r.notnull }]));
}

describe('the migrated database matches prisma/schema.prisma', () => {
  it('has exactly one table per model', async () => {
    const rows = await h.db.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> '_prisma_migrations'`,
    );
    expect(rows.map((r) => r.relname).sort()).toEqual(models.map(table).sort());
    expect(models.map(table)).toEqual(expect.arrayContaining([...TABLES]));
  });

  it('has every column of every model with its type and nullability, and no other column', async () => {
    const actual = await dbColumns();
    const expected = new Map<string, { type: string; nullable: boolean }>();
    for (const m of models) {
      for (const f of m.fields.filter((x) => x.kind === 'scalar')) {
        expected.set(`${table(m)}.${column(f)}`, { type: expectedType(f), nullable: !f.isRequired });
      }
    }
    expect(Object.fromEntries([...actual].sort())).toEqual(Object.fromEntries([...expected].sort()));
  });

  it('has a foreign key for every relation, and no other', async () => {
    const rows = await h.db.query<{ from_table: string; from_cols: string[]; to_table: string; to_cols: string[] }>(`
      SELECT src.relname AS from_table, dst.relname AS to_table,
             array(SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid AND attnum = ANY(con.conkey) ORDER BY attnum)::text[] AS from_cols,
             array(SELECT attname FROM pg_attribute WHERE attrelid = con.confrelid AND attnum = ANY(con.confkey) ORDER BY attnum)::text[] AS to_cols
      FROM pg_constraint con JOIN pg_class src ON src.oid = con.conrelid JOIN pg_class dst ON dst.oid = con.confrelid
      WHERE con.contype = 'f'`);
    const actual = rows
      .map((r) => `${r.from_table}(${r.from_cols.join(',')}) -> ${r.to_table}(${r.to_cols.join(',')})`)
      .sort();
    const byName = new Map(models.map((m) => [m.name, m]));
    const expected: string[] = [];
    for (const m of models) {
      for (const f of m.fields.filter((x) => x.kind === 'object' && x.relationFromFields?.length)) {
        const target = byName.get(f.type)!;
        const fromCols = f.relationFromFields!.map((n) => column(m.fields.find((x) => x.name === n)!));
        const toCols = f.relationToFields!.map((n) => column(target.fields.find((x) => x.name === n)!));
        expected.push(`${table(m)}(${fromCols.join(',')}) -> ${table(target)}(${toCols.join(',')})`);
      }
    }
    expect(actual).toEqual(expected.sort());
  });

  it('has every named index and unique constraint of the schema, and primary keys on the id fields', async () => {
    const rows = await h.db.query<{ tbl: string; idx: string; uniq: boolean; primary: boolean; cols: string[] }>(`
      SELECT t.relname AS tbl, i.relname AS idx, ix.indisunique AS uniq, ix.indisprimary AS primary,
             array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS cols
      FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations' AND NOT t.relispartition`);
    const byName = new Map(models.map((m) => [m.name, m]));
    const describe = (tbl: string, kind: string, cols: string[]) => `${tbl} ${kind} (${cols.join(',')})`;
    const actual = rows
      .map((r) => describe(r.tbl, r.primary ? 'primary' : r.uniq ? `unique ${r.idx}` : `index ${r.idx}`, r.cols))
      .sort();
    const expected = indexes
      .map((ix) => {
        const m = byName.get(ix.model)!;
        const cols = ix.fields.map((f) => column(m.fields.find((x) => x.name === f.name)!));
        const kind = ix.type === 'id' ? 'primary' : ix.type === 'unique' ? `unique ${ix.dbName}` : `index ${ix.dbName}`;
        return describe(table(m), kind, cols);
      })
      .sort();
    expect(actual).toEqual(expected);
  });
});

describe('partitioning', () => {
  it('keeps executions partitioned by day, with today and the coming week made ahead', async () => {
    const [parent] = await h.db.query<{ kind: string; key: string }>(
      `SELECT c.relkind AS kind, pg_get_partkeydef(c.oid) AS key FROM pg_class c WHERE c.relname = 'executions'`,
    );
    expect(parent).toEqual({ kind: 'p', key: 'RANGE (created_at)' });
    const parts = await h.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'executions'::regclass ORDER BY 1`,
    );
    const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    expect(parts.map((p) => p.name)).toContain(`executions_p${today}`);
    expect(parts.map((p) => p.name)).toContain('executions_default');
    expect(parts.length).toBeGreaterThanOrEqual(8);
  });
});
