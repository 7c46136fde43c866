import RE2 from 're2';

/**
 * RE2.Set compiles within RE2's default memory budget; about this many paths fit for typical
 * patterns, and a group that does not is split until it does.
 */
const PATTERNS_PER_SET = 1000;

type CompiledSet = InstanceType<typeof RE2.Set>;

/** Some of a host's patterns, in match order, compiled together. */
export interface PatternGroup {
  readonly patterns: readonly string[];
  /** Undefined for a pattern RE2.Set could not take alone: it is tried with its own regex. */
  readonly sets: readonly { readonly set: CompiledSet | undefined; readonly start: number; readonly end: number }[];
}

/** Compiles a group's patterns into as few RE2 sets as fit. Depends on the patterns only, so it can be memoised. */
export function compileGroup(patterns: readonly string[]): PatternGroup {
  const sets: { set: CompiledSet | undefined; start: number; end: number }[] = [];
  const compile = (start: number, end: number): void => {
    try {
      sets.push({ set: new RE2.Set(patterns.slice(start, end), 'i', { anchor: 'start' }), start, end });
    } catch {
      if (end - start === 1) {
        sets.push({ set: undefined, start, end });
        return;
      }
      const middle = start + Math.floor((end - start) / 2);
      compile(start, middle);
      compile(middle, end);
    }
  };
  if (patterns.length > 0) compile(0, patterns.length);
  return { patterns, sets };
}

/**
 * A host's regex paths, matched as ingress-nginx does (case-insensitive, anchored at the start,
 * first in order wins) through RE2.Set automata instead of one regex after another.
 *
 * Patterns are spread over groups of about a thousand by a hash of their text, not by their
 * position, so adding or changing one path changes one group: with `compile` memoised (see
 * RegexCache), a rebuild compiles that group again and reuses the others. A request asks every
 * group and takes the earliest match in order.
 */
export class PatternSet {
  readonly patterns: readonly string[];
  private readonly members: readonly { readonly group: PatternGroup; readonly order: readonly number[] }[];
  /** Single regexes, compiled on first use: for capture groups and for a group RE2.Set gave up on. */
  private readonly single: (RE2 | undefined)[];

  constructor(patterns: readonly string[], compile: (patterns: readonly string[]) => PatternGroup = compileGroup) {
    this.patterns = patterns;
    this.single = new Array(patterns.length);
    // A power of two, so the spread only changes when the number of paths doubles or halves.
    let groupCount = 1;
    while (groupCount * PATTERNS_PER_SET < patterns.length) groupCount *= 2;
    const members: number[][] = Array.from({ length: groupCount }, () => []);
    patterns.forEach((p, i) => members[hash(p) % groupCount]!.push(i));
    this.members = members.filter((m) => m.length > 0).map((order) => ({ group: compile(order.map((i) => patterns[i]!)), order }));
  }

  /** The index of the first pattern that matches, or -1. */
  firstMatch(path: string): number {
    let first = -1;
    for (const { group, order } of this.members) {
      const local = this.firstInGroup(group, order, path);
      if (local !== -1 && (first === -1 || order[local]! < first)) first = order[local]!;
    }
    return first;
  }

  /** The capture groups of pattern `index` on `path` (for rewrite-target's $1…$9). */
  groups(index: number, path: string): RegExpExecArray | null {
    return this.regex(this.patterns[index]!, index).exec(path);
  }

  /** The first pattern of a group that matches, by its index in the group (`order` maps those to ours). */
  private firstInGroup(group: PatternGroup, order: readonly number[], path: string): number {
    for (const { set, start, end } of group.sets) {
      if (set) {
        try {
          const hits = set.match(path);
          if (hits.length > 0) return start + hits[0]!;
          continue;
        } catch {
          // RE2.Set ran out of its DFA budget on this input: try these patterns one by one.
        }
      }
      for (let i = start; i < end; i++) if (this.regex(group.patterns[i]!, order[i]!).test(path)) return i;
    }
    return -1;
  }

  private regex(pattern: string, index: number): RE2 {
    return (this.single[index] ??= new RE2(`^(?:${pattern})`, 'i'));
  }
}

/** FNV-1a over UTF-16 code units: cheap, and stable between runs. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
