import type { Health } from '../../shared/lineage-types.js';

/** ANSI colour only when writing to a terminal and NO_COLOR is unset. */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, gray: 90, bold: 1 } as const;
export type Color = keyof typeof CODES;

export function paint(text: string, color: Color, enabled: boolean): string {
  return enabled ? `\u001b[${CODES[color]}m${text}\u001b[0m` : text;
}

export const HEALTH_LABEL: Record<Health, { mark: string; label: string; color: Color }> = {
  healthy: { mark: '✓', label: 'Healthy', color: 'green' },
  regenerated: { mark: '✓', label: 'Regenerated', color: 'green' },
  degraded: { mark: '⚠', label: 'DEGRADED', color: 'yellow' },
  failed: { mark: '✗', label: 'FAILED', color: 'red' },
  pruned: { mark: '❌', label: 'PRUNED', color: 'red' },
  canary: { mark: '◐', label: 'CANARY', color: 'blue' },
  held: { mark: '⏸', label: 'HELD', color: 'yellow' },
};

export function healthBadge(health: Health, color: boolean): string {
  const h = HEALTH_LABEL[health];
  return paint(`${h.mark} ${h.label}`, h.color, color);
}

/** `2025-01-22 14:23:15` (UTC), the style of every timestamp the CLI prints. */
export function stamp(isoString: string | null): string {
  if (!isoString) return '-';
  return isoString
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')
    .replace(/Z$/, '');
}

export function titleCase(s: string): string {
  return s.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}
