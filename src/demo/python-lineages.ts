import type { RegisterVersionInput } from '../lineage/store.js';
import { emailLineage } from './email-lineage.js';

/**
 * The email-validator story written in Python, version for version the same as emailLineage(): a
 * merge (2.0.0), an "Optimize for speed" that drops the regex for an '@' check (2.2.0, refused at
 * registration by the differential check), and a feature_add for internationalized addresses (2.3.0)
 * whose loosened domain part also lets a second '@' through, which callers then find. Only the root
 * names its language: every child keeps its parent's. The versions' tests, mutations and descriptions
 * are emailLineage()'s; only the code is Python.
 */
const PY_EMAIL_CODE: Record<string, string> = {
  '1.0.0': `import re

def run(input):
    return isinstance(input, str) and re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", input) is not None
`,
  '1.1.0': `import re

def run(input):
    s = str(input).strip()
    return re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", s) is not None
`,
  '1.0.1': `import re

def run(input):
    if input is None:
        return False
    return re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", str(input)) is not None
`,
  '2.0.0': `import re

EMAIL = re.compile(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}")

def run(input):
    if input is None:
        return False
    return EMAIL.fullmatch(str(input).strip()) is not None
`,
  '2.1.0': `import re

EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}", re.IGNORECASE)

def run(input):
    if input is None:
        return False
    return EMAIL.fullmatch(str(input).strip()) is not None
`,
  '2.2.0': `def run(input):
    # Optimized: skip regex for obvious cases
    if input is None:
        return False
    s = str(input).strip()
    if "@" not in s:
        return False
    return True
`,
  '2.3.0': `import re

# Internationalized: any letters, in any script, around the '@'
EMAIL = re.compile(r"[^\\s@]+@\\S+\\.\\S{2,}")

def run(input):
    if input is None:
        return False
    return EMAIL.fullmatch(str(input).strip()) is not None
`,
};

export function pythonEmailLineage(name: string): RegisterVersionInput[] {
  return emailLineage(name).map((v) => ({
    ...v,
    code: PY_EMAIL_CODE[v.version]!,
    ...(v.parents?.length ? {} : { language: 'python' as const }),
  }));
}

/** The slug story in Python (see slug-lineage.ts): 1.2.0 drops digits, 1.3.0 then caps slugs at 40. */
export const PY_SLUG_V1 = `import re

def run(title):
    return re.sub(r"[^a-z0-9]+", "-", str(title).lower())
`;

export const PY_SLUG_V11 = `import re

def run(title):
    slug = re.sub(r"[^a-z0-9]+", "-", str(title).lower())
    slug = slug.strip("-")
    return slug
`;

/** The bug: digits are no longer kept. */
export const PY_SLUG_V12 = PY_SLUG_V11.replace('[^a-z0-9]+', '[^a-z]+');

/** The feature: at most 40 characters, never ending on a dash. */
export const PY_SLUG_V13 = PY_SLUG_V12.replace('    return slug\n', '    return slug[:40].rstrip("-")\n');

export function pythonSlugLineage(name: string): RegisterVersionInput[] {
  const id = (v: string) => `${name}@${v}`;
  const text = { description: 'Slugify a title', category: 'text' };
  return [
    {
      name,
      version: '1.0.0',
      language: 'python',
      code: PY_SLUG_V1,
      ...text,
      tests: [{ name: 'slugs a title', input: 'Hello World', expect: 'hello-world', critical: true }],
    },
    {
      name,
      version: '1.1.0',
      parents: [id('1.0.0')],
      code: PY_SLUG_V11,
      ...text,
      mutation: { type: 'bug_fix', description: 'Trim dashes at both ends' },
      tests: [{ name: 'trims dashes', input: '  Hello, World!  ', expect: 'hello-world', critical: true }],
    },
    {
      name,
      version: '1.2.0',
      parents: [id('1.1.0')],
      code: PY_SLUG_V12,
      ...text,
      mutation: { type: 'optimization', description: 'Faster character class' },
    },
    {
      name,
      version: '1.3.0',
      parents: [id('1.2.0')],
      code: PY_SLUG_V13,
      ...text,
      mutation: { type: 'feature_add', description: 'Cap slugs at 40 characters' },
      tests: [
        {
          name: 'caps long titles at 40 characters',
          input: 'A very long title that goes on and on about slugs and more slugs',
          expect: 'a-very-long-title-that-goes-on-and-on-ab',
          critical: true,
        },
      ],
    },
  ];
}
