// "Did you mean …": the closest known names to a mistyped one.

/** The closest ids to a mistyped one: a shared substring first, then by edit distance. */
export function suggest(wanted: string, known: string[], n = 3): string[] {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0];
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = d[j];
        d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = tmp;
      }
    }
    return d[b.length];
  };
  return [...known].sort((a, b) => Number(!b.includes(wanted)) - Number(!a.includes(wanted)) || dist(wanted, a) - dist(wanted, b)).slice(0, n);
}
