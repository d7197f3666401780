/** Why a lineage operation was refused. Every refusal happens before anything is written. */
export type LineageErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_SEMVER'
  | 'INVALID_ID'
  | 'INVALID_CODE'
  | 'INVALID_INPUT'
  | 'DUPLICATE_VERSION'
  | 'UNKNOWN_VERSION'
  | 'UNKNOWN_PARENT'
  | 'UNUSABLE_PARENT'
  | 'CYCLE';

export class LineageError extends Error {
  constructor(
    readonly code: LineageErrorCode,
    message: string,
    /** The field of the input that is wrong, e.g. `parents[1]` or `code`. */
    readonly field?: string,
    /** Ids involved, for programmatic callers. */
    readonly ids: string[] = [],
  ) {
    super(message);
    this.name = 'LineageError';
  }
}
