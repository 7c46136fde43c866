import RE2 from 're2';
import { compileGroup, PatternSet, type PatternGroup } from '../table/pattern-set.ts';

/**
 * Regex paths (ingress-nginx's regex mode) are compiled by RE2, which runs in linear time,
 * so no pattern can stall the process. Compiling is the expensive part of a build with many
 * of them, so its results are kept between builds: a table rebuilt for an unrelated change
 * reuses what it compiled before. Memoisation only: a build gives the same table with or
 * without a cache.
 */
export class RegexCache {
  private problems = new Map<string, string | undefined>();
  private sets = new Map<string, PatternSet>();
  private groups = new Map<string, PatternGroup>();
  private usedProblems = new Map<string, string | undefined>();
  private usedSets = new Map<string, PatternSet>();
  private usedGroups = new Map<string, PatternGroup>();

  /**
   * Why a path cannot be a regex path, or undefined. It must be valid RE2 on its own, so that
   * wrapped as `^(?:…)` it stays one anchored pattern: `/api)|(/admin` would otherwise escape
   * the anchor and match `/public/admin`.
   */
  problem(path: string): string | undefined {
    if (this.usedProblems.has(path)) return this.usedProblems.get(path);
    const problem = this.problems.has(path) ? this.problems.get(path) : regexPathProblem(path);
    this.usedProblems.set(path, problem);
    return problem;
  }

  /** The compiled matcher for a host's regex paths, in match order; of its groups, only changed ones are compiled. */
  patternSet(patterns: readonly string[]): PatternSet {
    const key = JSON.stringify(patterns);
    let set = this.usedSets.get(key) ?? this.sets.get(key);
    set ??= new PatternSet(patterns, (members) => this.group(members));
    this.usedSets.set(key, set);
    return set;
  }

  private group(patterns: readonly string[]): PatternGroup {
    const key = JSON.stringify(patterns);
    const group = this.usedGroups.get(key) ?? this.groups.get(key) ?? compileGroup(patterns);
    this.usedGroups.set(key, group);
    return group;
  }

  /** Called at the end of a build: what it did not use is forgotten. */
  sweep(): void {
    this.problems = this.usedProblems;
    this.sets = this.usedSets;
    this.groups = this.usedGroups;
    this.usedProblems = new Map();
    this.usedSets = new Map();
    this.usedGroups = new Map();
  }
}

function regexPathProblem(path: string): string | undefined {
  try {
    new RE2(path, 'i');
  } catch (err) {
    return `is not a valid RE2 regular expression (${(err as Error).message})`;
  }
  // Valid on its own, the pattern is one group once wrapped, unless a \Q quote runs to its end.
  if (!path.includes('\\Q')) return undefined;
  try {
    new RE2(`^(?:${path})`, 'i');
  } catch (err) {
    return `is not one self-contained regular expression (${(err as Error).message})`;
  }
  return undefined;
}
