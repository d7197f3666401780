import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes that make heals findable in the Temporal UI (registered by `dise dev`). */
export const DISE_TOOL = defineSearchAttributeKey('DiseTool', SearchAttributeType.KEYWORD);
export const DISE_VERSION = defineSearchAttributeKey('DiseVersion', SearchAttributeType.KEYWORD);
export const DISE_HEAL_STEP = defineSearchAttributeKey('DiseHealStep', SearchAttributeType.KEYWORD);
export const DISE_HEAL_STATUS = defineSearchAttributeKey('DiseHealStatus', SearchAttributeType.KEYWORD);

/** A canary's judge verdict: not_enough_data | pass | fail, then promoted | refused | aborted. */
export const DISE_CANARY_VERDICT = defineSearchAttributeKey('DiseCanaryVerdict', SearchAttributeType.KEYWORD);

export const DISE_SEARCH_ATTRIBUTES = [
  DISE_TOOL,
  DISE_VERSION,
  DISE_HEAL_STEP,
  DISE_HEAL_STATUS,
  DISE_CANARY_VERDICT,
] as const;
