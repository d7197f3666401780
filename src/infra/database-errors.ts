/**
 * What a failed database call means, in one line a user can act on. The driver's own errors (Prisma's
 * "Invalid `prisma.x()` invocation" with an excerpt of our source, pg's protocol errors) never reach
 * a user as they are.
 */
export type DatabaseFailureReason =
  'unreachable' | 'authentication' | 'missing_database' | 'transaction_expired' | 'conflict' | 'other';

export class DatabaseFailure extends Error {
  constructor(
    message: string,
    readonly reason: DatabaseFailureReason,
    readonly code: string | null,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseFailure';
  }
}

type DriverError = Error & {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  meta?: { driverAdapterError?: { cause?: AdapterCause } };
};
type AdapterCause = { kind?: string; host?: string; port?: number; originalCode?: string; database?: string };

/** Node's socket errors and PostgreSQL's connection-class SQLSTATEs: the server is not there, or went away. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'EPIPE',
  'P1001',
  'P1002',
  'P1017',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const AUTHENTICATION_CODES = new Set(['P1000', '28000', '28P01']);
const MISSING_DATABASE_CODES = new Set(['P1003', '3D000']);
const EXPIRED_CODES = new Set(['P2028']);
/** Unique violations, serialization failures and deadlocks: someone else changed the same rows. */
const CONFLICT_CODES = new Set(['P2002', 'P2034', '23505', '40001', '40P01']);
const ADAPTER_KINDS: Record<string, DatabaseFailureReason> = {
  DatabaseNotReachable: 'unreachable',
  SocketTimeout: 'unreachable',
  AuthenticationFailed: 'authentication',
  DatabaseDoesNotExist: 'missing_database',
  TransactionAlreadyClosed: 'transaction_expired',
  UniqueConstraintViolation: 'conflict',
  TransactionWriteConflict: 'conflict',
};

/** Is this an error raised by Prisma, its PostgreSQL adapter, pg or the socket under them? */
function isDriverError(err: unknown): err is DriverError {
  if (!(err instanceof Error)) return false;
  const e = err as DriverError & { severity?: unknown };
  return (
    e.name.startsWith('PrismaClient') ||
    e.name === 'DriverAdapterError' ||
    e.meta?.driverAdapterError !== undefined ||
    (typeof e.severity === 'string' && typeof e.code === 'string') ||
    (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code))
  );
}

function reasonOf(code: string | null, cause: AdapterCause | undefined): DatabaseFailureReason {
  const byKind = cause?.kind ? ADAPTER_KINDS[cause.kind] : undefined;
  if (byKind) return byKind;
  const codes = [code, cause?.originalCode].filter((c): c is string => typeof c === 'string');
  if (codes.some((c) => UNREACHABLE_CODES.has(c))) return 'unreachable';
  if (codes.some((c) => AUTHENTICATION_CODES.has(c))) return 'authentication';
  if (codes.some((c) => MISSING_DATABASE_CODES.has(c))) return 'missing_database';
  if (codes.some((c) => EXPIRED_CODES.has(c))) return 'transaction_expired';
  if (codes.some((c) => CONFLICT_CODES.has(c))) return 'conflict';
  return 'other';
}

/** The driver's reason without Prisma's call-site excerpt: its last line, shortened. */
function driverReason(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines.at(-1) ?? 'unknown database error';
  return last.length > 200 ? `${last.slice(0, 199)}…` : last;
}

/** The one-line explanation of a driver error, or null when `err` is not one. */
export function asDatabaseFailure(err: unknown): DatabaseFailure | null {
  if (err instanceof DatabaseFailure) return err;
  if (!isDriverError(err)) return null;
  const code = typeof err.code === 'string' ? err.code : null;
  const cause = err.meta?.driverAdapterError?.cause;
  const reason = reasonOf(code, cause);
  const host = cause?.host ?? (typeof err.address === 'string' ? err.address : undefined);
  const port = cause?.port ?? (typeof err.port === 'number' ? err.port : undefined);
  const where = host ? ` at ${host}${port ? `:${port}` : ''}` : '';
  const messages: Record<DatabaseFailureReason, string> = {
    unreachable: `cannot reach the database${where}: is PostgreSQL running? (DATABASE_URL names it; \`dise dev\` starts one)`,
    authentication: 'the database refused the user or password in DATABASE_URL',
    missing_database: `the database named in DATABASE_URL does not exist${cause?.database ? ` (${cause.database})` : ''}`,
    transaction_expired:
      'the database ended the transaction before the work finished, so none of it was written: run the command again',
    conflict: 'another change to the same rows came first, so none of this one was written: run the command again',
    other: `the database could not do it${code ? ` (${code})` : ''}: ${driverReason(err.message)}`,
  };
  return new DatabaseFailure(messages[reason], reason, code, { cause: err });
}
