import RE2 from 're2';

/**
 * RE2.Set compiles within RE2's default memory budget; this many paths fit for typical
 * patterns, and a chunk that does not is split until it does.
 */
const CHUNK_SIZE = 1000;

interface Chunk {
  /** Undefined for a pattern RE2.Set could not take alone: tried with its own regex. */
  readonly set: InstanceType<typeof RE2.Set> | undefined;
  readonly start: number;
  readonly end: number;
}

/**
 * A host's regex paths, matched as ingress-nginx does (case-insensitive, anchored at the start,
 * first in order wins) but through RE2.Set automata, a thousand patterns at a time, instead of
 * one regex after another: the cost of a request grows with the number of chunks, not paths.
 * Depends only on the pattern sources, so one compiled set serves every table with the same paths.
 */
export class PatternSet {
  readonly patterns: readonly string[];
  private readonly chunks: readonly Chunk[];
  /** Single regexes, compiled on first use: for capture groups and for a chunk RE2.Set gave up on. */
  private readonly single: (RE2 | undefined)[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns;
    this.single = new Array(patterns.length);
    const chunks: Chunk[] = [];
    for (let start = 0; start < patterns.length; start += CHUNK_SIZE) this.compile(start, Math.min(start + CHUNK_SIZE, patterns.length), chunks);
    this.chunks = chunks;
  }

  /** The index of the first pattern that matches, or -1. */
  firstMatch(path: string): number {
    for (const chunk of this.chunks) {
      const hit = this.matchChunk(chunk, path);
      if (hit !== -1) return hit;
    }
    return -1;
  }

  /** The capture groups of pattern `index` on `path` (for rewrite-target's $1…$9). */
  groups(index: number, path: string): RegExpExecArray | null {
    return this.regex(index).exec(path);
  }

  private matchChunk(chunk: Chunk, path: string): number {
    if (chunk.set) {
      try {
        const hits = chunk.set.match(path);
        return hits.length > 0 ? chunk.start + hits[0]! : -1;
      } catch {
        // RE2.Set ran out of its DFA budget on this input: try the chunk's patterns one by one.
      }
    }
    for (let i = chunk.start; i < chunk.end; i++) if (this.regex(i).test(path)) return i;
    return -1;
  }

  private regex(index: number): RE2 {
    return (this.single[index] ??= new RE2(`^(?:${this.patterns[index]})`, 'i'));
  }

  private compile(start: number, end: number, into: Chunk[]): void {
    try {
      into.push({ set: new RE2.Set(this.patterns.slice(start, end), 'i', { anchor: 'start' }), start, end });
    } catch {
      if (end - start === 1) {
        into.push({ set: undefined, start, end });
        return;
      }
      const middle = start + Math.floor((end - start) / 2);
      this.compile(start, middle, into);
      this.compile(middle, end, into);
    }
  }
}
