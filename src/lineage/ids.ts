import { InvalidIdError, parseVersionId, type VersionRef } from '../shared/ids.js';
import { LineageError } from './errors.js';

/** Normalises an id in either spelling; refuses malformed ids with a typed error naming the field. */
export function normalizeVersionId(input: string, field = 'id'): VersionRef {
  try {
    return parseVersionId(input);
  } catch (err) {
    if (err instanceof InvalidIdError) {
      const code = err.field === 'name' ? 'INVALID_NAME' : err.field === 'version' ? 'INVALID_SEMVER' : 'INVALID_ID';
      throw new LineageError(code, `${field}: ${err.message}`, field, [input]);
    }
    throw err;
  }
}
