/**
 * Version ids: `<name>@<semver>` (e.g. `email_validator@2.2.0`). The legacy spelling
 * `email_validator_v2.2.0` is accepted as input everywhere and normalised to the canonical form.
 * Pure functions: imported by workflows, activities, the CLI and the runtime alike.
 */

export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;
/** Plain MAJOR.MINOR.PATCH: tool versions carry no pre-release or build tags. */
export const SEMVER_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

export interface VersionRef extends SemVer {
  /** Canonical id, `<name>@<semver>`. */
  id: string;
  name: string;
  version: string;
}

/** Why a string is not a usable id; `field` names the part that is wrong. */
export class InvalidIdError extends Error {
  constructor(
    readonly input: string,
    readonly field: 'name' | 'version' | 'id',
    message: string,
  ) {
    super(message);
    this.name = 'InvalidIdError';
  }
}

export function parseSemver(version: string): SemVer | undefined {
  const m = SEMVER_PATTERN.exec(version);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function isValidToolName(name: string): boolean {
  return name.length <= 200 && TOOL_NAME_PATTERN.test(name);
}

export function formatVersionId(name: string, version: string): string {
  return `${name}@${version}`;
}

/** Returns undefined when the input is not shaped like a version id at all (e.g. a bare tool name). */
function splitId(input: string): { name: string; version: string } | undefined {
  const at = input.lastIndexOf('@');
  if (at > 0) return { name: input.slice(0, at), version: input.slice(at + 1) };
  const legacy = /^(.+)_v(\d+\.\d+\.\d+)$/.exec(input);
  if (legacy) return { name: legacy[1] as string, version: legacy[2] as string };
  return undefined;
}

/** Parses `name@X.Y.Z` or the legacy `name_vX.Y.Z` id spelling; throws InvalidIdError naming what is wrong. */
export function parseVersionId(input: string): VersionRef {
  const parts = splitId(input.trim());
  if (!parts) {
    throw new InvalidIdError(
      input,
      'id',
      `"${input}" is not a version id: expected <name>@<major.minor.patch>, e.g. email_validator@2.2.0`,
    );
  }
  return toVersionRef(parts.name, parts.version, input);
}

export function toVersionRef(name: string, version: string, input = `${name}@${version}`): VersionRef {
  if (!isValidToolName(name)) {
    throw new InvalidIdError(
      input,
      'name',
      `invalid tool name "${name}": use lowercase letters, digits and _ , starting with a letter`,
    );
  }
  const semver = parseSemver(version);
  if (!semver) {
    throw new InvalidIdError(
      input,
      'version',
      `invalid version "${version}": expected semver MAJOR.MINOR.PATCH, e.g. 2.0.1`,
    );
  }
  return { id: formatVersionId(name, version), name, version, ...semver };
}

/** True when the input names a version (either spelling) rather than a tool. */
export function looksLikeVersionId(input: string): boolean {
  return splitId(input.trim()) !== undefined;
}

export function compareSemver(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}
