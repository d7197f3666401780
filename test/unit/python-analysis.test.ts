import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { checkRuleGates, detectSecurityIssues } from '../../src/detection/static-analysis.js';
import { codePieces, normalizedTokens } from '../../src/detection/tokens.js';
import { PY_SLUG_V11, PY_SLUG_V12, PY_SLUG_V13 } from '../../src/demo/python-lineages.js';
import { analyzeOffline } from '../../src/healing/offline-analysis.js';
import { revertChange } from '../../src/healing/revert.js';
import { checkToolCode } from '../../src/detection/tool-code.js';
import { warmPython } from '../../src/sandbox/python.js';

// The analyses over Python code: Python's own ast and tokenize modules, run inside the sandbox's
// interpreter, feed the static checks, the rule gates, the offline analysis and the revert merge.

beforeAll(async () => {
  await warmPython();
}, 120_000);

describe('Python tokens', () => {
  it('splits code into pieces that join back exactly, comments and indentation kept', async () => {
    const code = 'import re\n\n# a comment\ndef run(s):\n    return re.sub(r"[^a-z]+", "-", s)  # tail\n';
    const pieces = codePieces(code, 'python');
    expect(pieces).not.toBeNull();
    expect(pieces!.join('')).toBe(code);
    expect(pieces).toContain('r"[^a-z]+"');
  });

  it('normalises names a version chose, so a rename or a reformat reads the same', async () => {
    const a = normalizedTokens('def run(s):\n    return s.split("@")[0]\n', 'python')!;
    const b = normalizedTokens('def run(address):\n    return address.split( "@" )[0]  # renamed\n', 'python')!;
    expect(a.text).toBe(b.text);
    expect(a.text).toContain('. split ( "@" )');
    expect(a.tokens[0]).toBe('def');
  });
});

describe('Python static analysis', () => {
  const finding = (code: string) => detectSecurityIssues(code, 'python');

  it.each([
    ['eval', 'def run(x):\n    return eval(x)\n', /`eval` runs code given as text/],
    ['exec', 'def run(x):\n    exec(x)\n    return 1\n', /`exec` runs code given as text/],
    ['__import__', 'def run(x):\n    return __import__("os").getcwd()\n', /`__import__` runs code/],
    ['import os', 'import os\n\ndef run(x):\n    return 1\n', /host module `os`/],
    [
      'from subprocess import run',
      'from subprocess import run as r\n\ndef run(x):\n    return 1\n',
      /host module `subprocess`/,
    ],
    ['import socket', 'def run(x):\n    import socket\n    return 1\n', /host module `socket`/],
    ['import ctypes', 'import ctypes\ndef run(x):\n    return 1\n', /host module `ctypes`/],
    ['import js', 'import js\ndef run(x):\n    return 1\n', /host module `js`/],
    ['open', 'def run(x):\n    return open("/etc/passwd").read()\n', /builtin `open`/],
    [
      'a dunder escape',
      'def run(x):\n    return ().__class__.__bases__[0].__subclasses__()\n',
      /dunder attribute `.__class__`/,
    ],
  ])('finds %s, critical', (_name, code, message) => {
    const { failure, findings } = finding(code);
    expect(failure).toMatchObject({ failureType: 'security_vulnerability', severity: 'critical' });
    expect(findings.map((f) => f.message).join('\n')).toMatch(message);
  });

  it('passes plain code using pure modules', async () => {
    expect(
      finding(
        'import re, json, math\n\ndef run(x):\n    return len(re.findall(r"\\w+", json.dumps(x))) + math.floor(1.5)\n',
      ),
    ).toEqual({ failure: null, findings: [] });
  });

  it('names the line and column of code that does not parse', async () => {
    const { failure, findings } = finding('def run(x)\n    return 1\n');
    expect(failure).toMatchObject({ failureType: 'static_analysis' });
    expect(findings[0]).toMatchObject({ check: 'parse_error', line: 1 });
    expect(() => checkToolCode('def run(x)\n    return 1\n', 'python')).toThrow(/does not parse at line 1/);
  });
});

describe('rule gates over Python', () => {
  it('applies a token rule over Python code, and leaves JavaScript selectors to JavaScript', async () => {
    const rules = [
      { ruleId: 'r1', description: 'no split on @', patternToAvoid: '\\. split \\( "@" \\)', patternKind: 'tokens' },
      {
        ruleId: 'r2',
        description: 'a JavaScript selector',
        patternToAvoid: 'CallExpression[callee.property.name="split"]',
        patternKind: 'ast',
      },
    ];
    const violations = checkRuleGates('def run(s):\n    return len(s.split("@")) == 2\n', rules, 'python');
    expect(violations.map((v) => [v.ruleId, v.line])).toEqual([['r1', 2]]);
  });
});

describe('offline analysis of a Python change', () => {
  it('learns a token rule from the changed regex that matches the culprit, not the good code', async () => {
    const good =
      'import re\n\nEMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}", re.IGNORECASE)\n\ndef run(input):\n    return EMAIL.fullmatch(str(input)) is not None\n';
    const bad =
      'import re\n\nEMAIL = re.compile(r"[^\\s@]+@\\S+\\.\\S{2,}")\n\ndef run(input):\n    return EMAIL.fullmatch(str(input)) is not None\n';
    const analysis = analyzeOffline({
      goodCode: good,
      badCode: bad,
      language: 'python',
      goodId: 'm@2.1.0',
      badId: 'm@2.3.0',
      mutation: 'Accept internationalized addresses',
      failure: 'accepts user@@domain.com',
      reproduced: true,
    });
    expect(analysis.patternKind).toBe('tokens');
    const gate = [{ ruleId: 'r', description: '', patternToAvoid: analysis.problematicPattern, patternKind: 'tokens' }];
    expect(checkRuleGates(bad, gate, 'python')).toHaveLength(1);
    expect(checkRuleGates(good, gate, 'python')).toEqual([]);
    expect(analysis.reason).toMatch(/changed r"\[a-z0-9\._%\+-\]\+@/);
  });

  it('learns a rule from an added call that replaced what the good code did', async () => {
    const good = 'import re\n\ndef run(s):\n    return re.fullmatch(r"[^@]+@[^@]+", s) is not None\n';
    const bad = 'def run(s):\n    return len(s.split("@")) >= 2\n';
    const analysis = analyzeOffline({
      goodCode: good,
      badCode: bad,
      language: 'python',
      goodId: 'v@1',
      badId: 'v@2',
      mutation: null,
      failure: 'accepts a@@b',
      reproduced: true,
    });
    expect(analysis.patternKind).toBe('tokens');
    expect(
      checkRuleGates(
        'def run(x):\n    parts = x.split("@")\n    return len(parts) == 2\n',
        [{ ruleId: 'r', description: '', patternToAvoid: analysis.problematicPattern, patternKind: 'tokens' }],
        'python',
      ),
    ).toHaveLength(1);
  });
});

describe('the revert merge on Python source', () => {
  it('undoes the culprit line and keeps the later feature line', async () => {
    const result = revertChange({
      culpritCode: PY_SLUG_V12,
      failedCode: PY_SLUG_V13,
      parentCode: PY_SLUG_V11,
      language: 'python',
    });
    expect(result).toMatchObject({ ok: true, granularity: 'line' });
    const code = (result as { code: string }).code;
    expect(code).toContain('[^a-z0-9]+');
    expect(code).toContain('slug[:40].rstrip("-")');
  });

  it('separates two changes on one line by Python tokens', async () => {
    const parent = 'def run(s):\n    return s.strip().lower()\n';
    const culprit = 'def run(s):\n    return s.lower()\n'; // drops strip()
    const later = 'def run(s):\n    return s.lower()[:40]\n'; // adds a cap on the same line
    const result = revertChange({ culpritCode: culprit, failedCode: later, parentCode: parent, language: 'python' });
    expect(result).toEqual({
      ok: true,
      code: 'def run(s):\n    return s.strip().lower()[:40]\n',
      granularity: 'token',
    });
  });
});

describe('Python static analysis and the tool parameter', () => {
  it('does not mistake the parameter `input` for the builtin, but finds input() called', async () => {
    expect(
      detectSecurityIssues('def run(input):\n    return isinstance(input, str) and len(input) > 2\n', 'python'),
    ).toEqual({ failure: null, findings: [] });
    expect(detectSecurityIssues('def run(x):\n    return input()\n', 'python').findings.map((f) => f.check)).toEqual([
      'host_builtin',
    ]);
  });
});

describe('the judge on Python code', () => {
  it('replays recorded inputs against a Python baseline and refuses a version that answers them differently', async () => {
    const { Sandbox } = await import('../../src/sandbox/sandbox.js');
    const { judgeVersion } = await import('../../src/judge/judge.js');
    const sandbox = new Sandbox(defaultConfig().sandbox);
    const baseline = {
      id: 'v@1.0.0',
      language: 'python' as const,
      code: 'def run(s):\n    return s.strip().lower()\n',
    };
    const changed = 'def run(s):\n    return s.lower()\n';
    const verdict = await judgeVersion(sandbox, {
      id: 'v@1.1.0',
      code: changed,
      language: 'python',
      suite: [],
      rules: [],
      baseline,
      replayInputs: ['Hello', ' Padded '],
    });
    expect(verdict.passed).toBe(false);
    expect(verdict.replayed).toBe(2);
    expect(verdict.failures).toEqual([
      expect.objectContaining({
        failureType: 'replay_mismatch',
        evidence: { baseline: 'v@1.0.0', mismatches: [{ input: ' Padded ', expected: 'padded', got: ' padded ' }] },
      }),
    ]);
    const same = await judgeVersion(sandbox, {
      id: 'v@1.1.1',
      code: baseline.code,
      language: 'python',
      suite: [],
      rules: [],
      baseline,
      replayInputs: ['Hello', ' Padded '],
    });
    expect(same.passed).toBe(true);
    sandbox.close();
  });
});

describe("Python static analysis of the ways past the sandbox's first layer", () => {
  it.each([
    ['vars by another name', 'def run(x):\n    g = vars\n    return len(g(x))\n', /builtin `vars`/],
    [
      'a dunder name in a format string',
      'def run(f):\n    return "{0.__globals__}".format(f)\n',
      /dunder name `__globals__` inside a string/,
    ],
    [
      'attrgetter of a dunder',
      'import operator\n\ndef run(f):\n    return operator.attrgetter("__class__")(f)\n',
      /`\.attrgetter` looks attributes up/,
    ],
    [
      'string.Formatter',
      'from string import Formatter\n\ndef run(f):\n    return Formatter().get_field("0.x", (f,), {})\n',
      /`Formatter` looks attributes up/,
    ],
  ])('finds %s, critical', (_name, code, message) => {
    const { failure, findings } = detectSecurityIssues(code, 'python');
    expect(failure).toMatchObject({ failureType: 'security_vulnerability', severity: 'critical' });
    expect(findings.map((f) => f.message).join('\n')).toMatch(message);
  });

  it('keeps the main guard and plain strings', async () => {
    expect(detectSecurityIssues('def run(x):\n    return "__main__" if x else "a_b"\n', 'python')).toEqual({
      failure: null,
      findings: [],
    });
  });

  it('runs none of the code static analysis refuses: the suite and the differential check are skipped', async () => {
    const { Sandbox } = await import('../../src/sandbox/sandbox.js');
    const { judgeVersion } = await import('../../src/judge/judge.js');
    const sandbox = new Sandbox(defaultConfig().sandbox);
    const code = 'def run(x):\n    g = vars\n    return 1\n';
    const verdict = await judgeVersion(sandbox, {
      id: 'v@1.0.0',
      code,
      language: 'python',
      suite: [{ id: 1, name: 't', input: 1, expected: 1, critical: true }],
      rules: [],
      baseline: null,
      replayInputs: [],
    });
    expect(verdict.passed).toBe(false);
    expect(verdict.testsRun).toBe(0);
    expect(verdict.skipped).toEqual(
      expect.arrayContaining([{ check: 'suite', why: 'static analysis refused the code: it is not run' }]),
    );
    sandbox.close();
  });
});

describe('Python tokens around characters outside the BMP', () => {
  it('maps tokenize columns (code points) to string offsets: pieces join back and a rule still matches after an emoji', async () => {
    const code = 'def run(s):\n    tag = "😀"; return s.split("@")[0] + tag\n';
    const pieces = codePieces(code, 'python');
    expect(pieces?.join('')).toBe(code);
    const rule = [
      { ruleId: 'r', description: 'no split on @', patternToAvoid: '\\. split \\( "@" \\)', patternKind: 'tokens' },
    ];
    expect(checkRuleGates(code, rule, 'python').map((v) => v.line)).toEqual([2]);
  });
});

describe('a token rule on code that does not tokenize', () => {
  it('fails closed: the rule is reported violated, not passed', async () => {
    const rule = [
      { ruleId: 'r', description: 'no split on @', patternToAvoid: '\\. split \\(', patternKind: 'tokens' },
    ];
    expect(checkRuleGates('def run(s)\n    return s\n', rule, 'python')).toEqual([
      expect.objectContaining({
        ruleId: 'r',
        line: 0,
        excerpt: '(the code could not be tokenized to check this rule)',
      }),
    ]);
  });
});
