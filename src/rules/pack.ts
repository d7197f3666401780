import { sign, verify, type KeyObject } from 'node:crypto';
import YAML from 'yaml';
import { z } from 'zod';
import type { AstGrepRule } from './ast-grep.js';
import { checkRuleGates } from '../detection/static-analysis.js';
import { warmPythonFor } from '../sandbox/python.js';
import { canonicalJson, documentDigest, KIND_OF_ENGINE, ruleDocumentSchema, type RuleDocument } from './document.js';
import { keyIdOf, type InstallationIdentity } from './keys.js';

/**
 * A pack: the rule documents and a manifest naming each by id and SHA-256, signed (Ed25519) by the
 * installation that wrote it. The signature covers the manifest's canonical JSON; the manifest's
 * digests cover the documents. A pack is accepted whole or not at all.
 */
export const PACK_FORMAT = 'dise-rule-pack/1';

const manifestSchema = z.object({
  installation: z.string().min(1),
  key: z.string().regex(/^[0-9a-f]{32}$/),
  created: z.iso.datetime(),
  rules: z.array(z.object({ id: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
export type PackManifest = z.infer<typeof manifestSchema>;

const packSchema = z.object({
  format: z.literal(PACK_FORMAT),
  manifest: manifestSchema,
  signature: z.string().min(1),
  rules: z.array(z.unknown()),
});
export interface RulePack {
  format: typeof PACK_FORMAT;
  manifest: PackManifest;
  signature: string;
  rules: RuleDocument[];
}

/** Why a pack was refused; nothing of it is imported. */
export class PackRefusedError extends Error {
  constructor(
    readonly reason: 'malformed' | 'unknown_key' | 'tampered' | 'bad_example',
    message: string,
  ) {
    super(message);
    this.name = 'PackRefusedError';
  }
}

export function buildPack(rules: RuleDocument[], identity: InstallationIdentity, now: Date = new Date()): RulePack {
  const manifest: PackManifest = {
    installation: identity.installationId,
    key: identity.keyId,
    created: now.toISOString(),
    rules: rules.map((r) => ({ id: r.id, sha256: documentDigest(r) })),
  };
  const signature = sign(null, Buffer.from(canonicalJson(manifest)), identity.privateKey).toString('base64');
  return { format: PACK_FORMAT, manifest, signature, rules };
}

/**
 * Checks a pack against the trusted keys: known key, valid signature, every document listed with
 * its digest and nothing else, every document well formed. Throws PackRefusedError otherwise.
 */
export function verifyPack(raw: unknown, trusted: (keyId: string) => KeyObject | undefined): RulePack {
  const parsed = packSchema.safeParse(raw);
  if (!parsed.success)
    throw new PackRefusedError(
      'malformed',
      `not a rule pack (${PACK_FORMAT}): ${parsed.error.issues[0]?.message ?? ''}`,
    );
  const pack = parsed.data;
  const key = trusted(pack.manifest.key);
  if (!key)
    throw new PackRefusedError(
      'unknown_key',
      `the pack is signed by key ${pack.manifest.key} (installation ${pack.manifest.installation}), which is not trusted here: run \`dise rules trust <its public key>\` if you trust it`,
    );
  if (keyIdOf(key) !== pack.manifest.key)
    throw new PackRefusedError('unknown_key', 'the trusted key does not match its id');
  const signed = verify(null, Buffer.from(canonicalJson(pack.manifest)), key, Buffer.from(pack.signature, 'base64'));
  if (!signed)
    throw new PackRefusedError(
      'tampered',
      "the pack's signature does not verify: its manifest was changed after signing",
    );
  if (pack.rules.length !== pack.manifest.rules.length)
    throw new PackRefusedError(
      'tampered',
      `the manifest lists ${pack.manifest.rules.length} rule(s), the pack holds ${pack.rules.length}`,
    );
  const docs: RuleDocument[] = [];
  pack.rules.forEach((raw, i) => {
    const entry = pack.manifest.rules[i]!;
    const doc = ruleDocumentSchema.safeParse(raw);
    if (!doc.success)
      throw new PackRefusedError(
        'tampered',
        `rule ${i + 1} is not a rule document: ${doc.error.issues[0]?.message ?? ''}`,
      );
    if (doc.data.id !== entry.id || documentDigest(doc.data) !== entry.sha256)
      throw new PackRefusedError(
        'tampered',
        `rule ${doc.data.id} does not match its SHA-256 in the signed manifest: it was changed after signing`,
      );
    docs.push(doc.data);
  });
  return { ...pack, rules: docs };
}

export interface SelfCheck {
  ok: boolean;
  /** Why not, in words. */
  problem?: string;
}

/** A rule's pattern against its own examples: it must match the invalid code and not the valid code. */
export async function selfCheck(doc: RuleDocument): Promise<SelfCheck> {
  const pattern = doc.pattern;
  // A semantic rule is advice in words: there is no pattern to hold against its examples.
  if (pattern === null) return { ok: true };
  await warmPythonFor(doc.language);
  const rule = {
    ruleId: doc.id,
    description: doc.advice,
    patternToAvoid: pattern.source,
    patternKind: KIND_OF_ENGINE[pattern.engine],
  };
  const invalid = checkRuleGates(doc.evidence.invalid, [rule], doc.language);
  if (!invalid.length)
    return { ok: false, problem: `its ${pattern.engine} pattern does not match its own invalid example` };
  if (invalid[0]!.line === 0)
    return { ok: false, problem: 'its invalid example cannot be checked (it does not tokenize)' };
  if (doc.evidence.valid !== null && checkRuleGates(doc.evidence.valid, [rule], doc.language).length)
    return { ok: false, problem: `its ${pattern.engine} pattern matches its own valid example` };
  if (doc.astGrep !== null) {
    // Tools outside dise read the ast-grep rule: it must say what the pattern says on the examples.
    const { astGrepMatch } = await import('./ast-grep.js');
    const parsed = YAML.parse(doc.astGrep) as { rule?: AstGrepRule; language?: string } | null;
    if (!parsed?.rule || parsed.language !== doc.language)
      return { ok: false, problem: 'its ast-grep rule is not a rule for its language' };
    if (astGrepMatch(doc.evidence.invalid, doc.language, parsed.rule) === null)
      return { ok: false, problem: 'its ast-grep rule does not match its own invalid example' };
    if (doc.evidence.valid !== null && astGrepMatch(doc.evidence.valid, doc.language, parsed.rule) !== null)
      return { ok: false, problem: 'its ast-grep rule matches its own valid example' };
  }
  return { ok: true };
}
