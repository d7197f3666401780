import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/cli/errors.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { asDatabaseFailure } from '../../src/infra/database-errors.js';

// The driver's errors as Prisma 7 and pg raise them, and the one line a user reads instead.

const prismaError = (code: string, message: string, meta?: Record<string, unknown>) =>
  new Prisma.PrismaClientKnownRequestError(message, { code, clientVersion: '7', meta });
const pgError = (code: string, message: string) =>
  Object.assign(new pg.DatabaseError(message, 0, 'error'), { code, severity: 'FATAL' });
const EXCERPT =
  'Invalid `prisma.toolLineage.update()` invocation in\n/src/lineage/graph.ts:12:3\n\n→ 12 await prisma…\n\n';

describe('database failures, said plainly', () => {
  it.each([
    [
      'an unreachable server (adapter)',
      prismaError('P1001', `${EXCERPT}Can't reach database server`, {
        driverAdapterError: { cause: { kind: 'DatabaseNotReachable', host: 'db.local', port: 5432 } },
      }),
      'unreachable',
      /^cannot reach the database at db\.local:5432/,
    ],
    [
      'an expired transaction',
      prismaError(
        'P2028',
        `${EXCERPT}Transaction API error: A query cannot be executed on an expired transaction. The timeout for this transaction was 60000 ms`,
      ),
      'transaction_expired',
      /none of it was written: run the command again$/,
    ],
    [
      'a unique violation',
      prismaError('P2002', `${EXCERPT}Unique constraint failed`),
      'conflict',
      /another change to the same rows came first/,
    ],
    [
      'a restarted server (pg)',
      pgError('57P01', 'terminating connection due to administrator command'),
      'unreachable',
      /^cannot reach the database/,
    ],
    [
      'a refused socket',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 5 }),
      'unreachable',
      /at 127\.0\.0\.1:5/,
    ],
    [
      'wrong credentials (pg)',
      pgError('28P01', 'password authentication failed'),
      'authentication',
      /user or password/,
    ],
    [
      'anything else',
      prismaError('P2010', `${EXCERPT}Raw query failed. Code: 42703. Message: column "x" does not exist`),
      'other',
      /^the database could not do it \(P2010\): Raw query failed/,
    ],
  ])('%s', (_name, err, reason, message) => {
    const failure = asDatabaseFailure(err)!;
    expect(failure.reason).toBe(reason);
    expect(failure.message).toMatch(message);
    const line = describeError(err, false);
    expect(line).not.toMatch(/Invalid `|invocation|graph\.ts/);
    expect(line.split('\n')).toHaveLength(1);
  });

  it('leaves other errors alone, and shows the driver’s stack only with --verbose', () => {
    expect(asDatabaseFailure(new Error('a tool failed'))).toBeNull();
    expect(describeError(new Error('a tool failed'), false)).toBe('error: a tool failed');
    const verbose = describeError(prismaError('P2028', `${EXCERPT}expired`), true);
    expect(verbose.split('\n')[0]).toMatch(/^error: the database ended the transaction/);
    expect(verbose).toMatch(/PrismaClientKnownRequestError/);
  });
});
