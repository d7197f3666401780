import type { Connection } from '@temporalio/client';
import { DISE_SEARCH_ATTRIBUTES } from '../shared/search-attributes.js';

/** INDEXED_VALUE_TYPE_KEYWORD in temporal.api.enums.v1. */
const KEYWORD = 2;

/**
 * Registers dise's search attributes (DiseTool, DiseVersion, DiseHealStep, DiseHealStatus) on a
 * namespace; attributes that exist already are fine. Needs operator rights on self-hosted clusters;
 * on Temporal Cloud, create them in the namespace settings instead.
 */
export async function registerSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<void> {
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(DISE_SEARCH_ATTRIBUTES.map((key) => [key.name, KEYWORD])),
    });
  } catch (err) {
    if (/already exists/i.test((err as Error).message)) return;
    throw err;
  }
}
