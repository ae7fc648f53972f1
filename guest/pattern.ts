// Case-id patterns, shared by the expectation table (host) and the case filter (guest):
// `*` matches any run of characters, `{a,b}` either alternative.

/** Expand {a,b} alternatives: "x{,@mid}.y" → ["x.y", "x@mid.y"]. */
export function expandBraces(p: string): string[] {
  const m = /\{([^{}]*)\}/.exec(p);
  if (!m) return [p];
  return m[1].split(',').flatMap((alt) => expandBraces(p.slice(0, m.index) + alt + p.slice(m.index + m[0].length)));
}

const compiled = new Map<string, RegExp>();

/** The anchored RegExp of a pattern, compiled once per pattern: the reports match every case of
 * a run against every pattern of the expectation table and the coverage map, and compiling on
 * each test took most of a one-kernel report's 1.4 s. */
export function patternRegex(p: string): RegExp {
  const known = compiled.get(p);
  if (known) return known;
  const re = compile(p);
  compiled.set(p, re);
  return re;
}

function compile(p: string): RegExp {
  const body = expandBraces(p)
    .map((alt) =>
      alt
        .split('*')
        .map((s) => s.replace(/[.+?^$()|[\]\\]/g, '\\$&'))
        .join('.*'),
    )
    .join('|');
  return new RegExp(`^(?:${body})$`);
}

/** A predicate over case ids: true when any pattern matches (or there are none). */
export function caseFilter(patterns: string[]): (id: string) => boolean {
  const res = patterns.map(patternRegex);
  return (id) => res.length === 0 || res.some((r) => r.test(id));
}
