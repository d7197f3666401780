/** Output formats of `dise lineage`. */
export const LINEAGE_FORMATS = ['text', 'mermaid', 'dot'] as const;
