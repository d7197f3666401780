import { merge } from 'node-diff3';
import { codePieces } from '../detection/tokens.js';
import type { ToolLanguage } from '../shared/language.js';

/** The outcome of undoing one version's change on top of a later version's code. */
export type RevertResult =
  { ok: true; code: string; granularity: 'line' | 'token' } | { ok: false; conflicts: number; reason: string };

function mergePieces(
  ours: string[],
  base: string[],
  theirs: string[],
): { ok: true; text: string[] } | { ok: false; conflicts: number } {
  const out = merge(ours, base, theirs);
  if (out.conflict) return { ok: false, conflicts: out.result.filter((l) => l.startsWith('<<<<<<<')).length || 1 };
  return { ok: true, text: out.result };
}

/**
 * `git revert` for tool code: a three-way merge that undoes `culprit`'s change on top of `failed`
 * (base = the culprit, ours = the failed version, theirs = the culprit's parent), so the changes made
 * after the culprit survive. Lines first, as git does; when two changes meet on one line, the same
 * merge over tokens (whitespace and comments kept) separates them. A change after the culprit that
 * touches the very tokens the culprit changed is a conflict: nothing is guessed.
 */
export function revertChange(args: {
  culpritCode: string;
  failedCode: string;
  parentCode: string;
  language: ToolLanguage;
}): RevertResult {
  const { culpritCode, failedCode, parentCode, language } = args;
  const byLine = mergePieces(failedCode.split('\n'), culpritCode.split('\n'), parentCode.split('\n'));
  if (byLine.ok) return { ok: true, code: byLine.text.join('\n'), granularity: 'line' };
  const [ours, base, theirs] = [
    codePieces(failedCode, language),
    codePieces(culpritCode, language),
    codePieces(parentCode, language),
  ];
  if (!ours || !base || !theirs)
    return {
      ok: false,
      conflicts: byLine.conflicts,
      reason: 'the code does not tokenize, and the line merge conflicts',
    };
  const byToken = mergePieces(ours, base, theirs);
  if (byToken.ok) return { ok: true, code: byToken.text.join(''), granularity: 'token' };
  return {
    ok: false,
    conflicts: byToken.conflicts,
    reason: `${byToken.conflicts} conflicting change(s): a later version changed the same code the culprit changed`,
  };
}
