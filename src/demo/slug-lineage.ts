import type { LineageStore, RegisterVersionInput } from '../lineage/store.js';

/**
 * The slug story, the revert heal's example: 1.1.0 is good; 1.2.0, an "optimization", narrows the
 * character class and drops digits; 1.3.0 then adds a feature with its own critical test (slugs
 * capped at 40 characters). A heal of 1.3.0 should undo 1.2.0 and keep the cap.
 */

export const SLUG_V1 = `function run(title) {
  return String(title).toLowerCase().replace(/[^a-z0-9]+/g, '-');
}`;

export const SLUG_V11 = `function run(title) {
  const slug = String(title)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug;
}`;

/** The bug: digits are no longer kept. */
export const SLUG_V12 = SLUG_V11.replace('[^a-z0-9]+', '[^a-z]+');

/** The feature: at most 40 characters, never ending on a dash. */
export const SLUG_V13 = SLUG_V12.replace('  return slug;', "  return slug.slice(0, 40).replace(/-+$/, '');");

export const LONG_TITLE = 'A very long title that goes on and on about slugs and more slugs';

export function slugStory(
  name: string,
  { culpritTest = false }: { culpritTest?: boolean } = {},
): RegisterVersionInput[] {
  const id = (v: string) => `${name}@${v}`;
  return [
    {
      name,
      version: '1.0.0',
      code: SLUG_V1,
      description: 'Slugify a title',
      category: 'text',
      tests: [{ name: 'slugs a title', input: 'Hello World', expect: 'hello-world', critical: true }],
    },
    {
      name,
      version: '1.1.0',
      parents: [id('1.0.0')],
      code: SLUG_V11,
      description: 'Slugify a title',
      category: 'text',
      mutation: { type: 'bug_fix', description: 'Trim dashes at both ends' },
      tests: [{ name: 'trims dashes', input: '  Hello, World!  ', expect: 'hello-world', critical: true }],
    },
    {
      name,
      version: '1.2.0',
      parents: [id('1.1.0')],
      code: SLUG_V12,
      description: 'Slugify a title',
      category: 'text',
      mutation: { type: 'optimization', description: 'Faster character class' },
      // A test that encodes the bug: the healthy ancestor fails it.
      tests: culpritTest
        ? [{ name: 'drops digits (as designed)', input: 'Route 66', expect: 'route', critical: true }]
        : [],
    },
    {
      name,
      version: '1.3.0',
      parents: [id('1.2.0')],
      code: SLUG_V13,
      description: 'Slugify a title',
      category: 'text',
      mutation: { type: 'feature_add', description: 'Cap slugs at 40 characters' },
      tests: [
        {
          name: 'caps long titles at 40 characters',
          input: LONG_TITLE,
          expect: 'a-very-long-title-that-goes-on-and-on-ab',
          critical: true,
        },
      ],
    },
  ];
}

export async function registerSlugStory(
  store: LineageStore,
  name: string,
  options: { culpritTest?: boolean } = {},
): Promise<void> {
  await store.registerMany(slugStory(name, options));
  await store.setRoute(`${name}@1.3.0`, 'newest');
}

/** What callers report on 1.3.0: digits are lost. */
export const SLUG_WRONG = [{ input: 'Top 10 Tips', observed: 'top-tips', expected: 'top-10-tips' }];
