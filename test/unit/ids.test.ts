import { describe, expect, it } from 'vitest';
import { compareSemver, InvalidIdError, looksLikeVersionId, parseVersionId } from '../../src/shared/ids.js';

describe('version ids', () => {
  it('parses the canonical name@semver form', () => {
    expect(parseVersionId('email_validator@2.2.0')).toEqual({
      id: 'email_validator@2.2.0',
      name: 'email_validator',
      version: '2.2.0',
      major: 2,
      minor: 2,
      patch: 0,
    });
  });

  it('accepts the legacy name_vX.Y.Z and normalises it', () => {
    expect(parseVersionId('email_validator_v2.2.0').id).toBe('email_validator@2.2.0');
    expect(parseVersionId('data_validator_v10.0.12')).toMatchObject({ name: 'data_validator', major: 10, patch: 12 });
  });

  it.each([
    ['Email@1.0.0', 'name'],
    ['9lives@1.0.0', 'name'],
    ['email@1.0', 'version'],
    ['email@01.0.0', 'version'],
    ['email@1.0.0-beta', 'version'],
    ['email', 'id'],
  ])('refuses %s naming the %s', (input, field) => {
    const err = (() => {
      try {
        parseVersionId(input);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidIdError);
    expect((err as InvalidIdError).field).toBe(field);
  });

  it('tells version ids from tool names', () => {
    expect(looksLikeVersionId('email_validator')).toBe(false);
    expect(looksLikeVersionId('email_validator@1.0.0')).toBe(true);
    expect(looksLikeVersionId('email_validator_v1.0.0')).toBe(true);
  });

  it('orders semver numerically, not as text', () => {
    expect(compareSemver(parseVersionId('a@1.10.0'), parseVersionId('a@1.9.9'))).toBeGreaterThan(0);
    expect(compareSemver(parseVersionId('a@2.0.0'), parseVersionId('a@2.0.0'))).toBe(0);
  });
});
