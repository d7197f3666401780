import { LINEAGE_EDGE_TYPES, ROUTABLE_HEALTH } from '../shared/lineage-types.js';

// The data layer's plain-text SQL pieces: no Prisma here, so the runtime's node-postgres path (and
// `dise call`'s start-up) can use them without loading Prisma's client.

/** `'a', 'b'`: a SQL list of fixed vocabulary, built only from the constants below (never from input). */
function literalList(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
}

const LINEAGE_EDGE_LIST = literalList(LINEAGE_EDGE_TYPES);
const ROUTABLE_HEALTH_LIST = literalList(ROUTABLE_HEALTH);

function column(alias: string | undefined, name: string): string {
  return alias ? `${alias}.${name}` : name;
}

/**
 * The SQL facts every statement on the lineage tables shares, as plain text for node-postgres and
 * `$queryRawUnsafe`; src/lineage/sql.ts wraps the same texts as Prisma.Sql fragments.
 */
export const sqlText = {
  /** `<alias>.relationship_type` is an ancestry edge (direct, merge or fork; never `regenerated`). */
  isLineageEdge: (alias?: string): string => `${column(alias, 'relationship_type')} IN (${LINEAGE_EDGE_LIST})`,
  /** `<alias>.health_status` lets callers be routed to the version. */
  isRoutable: (alias?: string): string => `${column(alias, 'health_status')} IN (${ROUTABLE_HEALTH_LIST})`,
  /** Newest first by semantic version: the order that decides "the newest version of a tool". */
  newestFirst: (alias?: string): string =>
    `${column(alias, 'major')} DESC, ${column(alias, 'minor')} DESC, ${column(alias, 'patch')} DESC`,
};

/**
 * PostgreSQL's jsonb cannot hold U+0000, which tool inputs and generated corpora can contain: stored
 * JSON has it replaced by U+2400 (␀, the symbol for null), so a write never fails on it.
 */
export function jsonbSafe<T>(value: T): T {
  if (typeof value === 'string') return textSafe(value);
  if (Array.isArray(value)) return value.map((v: unknown) => jsonbSafe(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [jsonbSafe(k), jsonbSafe(v)])) as T;
  }
  return value;
}

const NUL = String.fromCharCode(0);
const NUL_SYMBOL = '\u2400';

/** The same for text columns, which cannot hold U+0000 either. */
export function textSafe<T extends string | null | undefined>(text: T): T {
  return (typeof text === 'string' && text.includes(NUL) ? text.split(NUL).join(NUL_SYMBOL) : text) as T;
}

/** The same for JSON text: every `\u0000` escape (not an escaped backslash before `u0000`) becomes `\u2400`. */
export function jsonbSafeText(json: string): string {
  return json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\u2400') : json;
}
