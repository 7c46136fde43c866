/**
 * Hashes for endpoint choice that every Portico process computes alike (no per-process seed):
 * consistent hashing and affinity cookies must pin the same endpoint on every replica and worker.
 */

/** FNV-1a over UTF-16 code units, then a murmur3 finaliser so that near keys spread. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return finalise(h);
}

/** murmur3's finaliser: every input bit moves about half the output bits. */
export function finalise(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 16 hex digits from two differently salted hashes: short, stable, and collision-free in practice for one backend's endpoints. */
export function token(text: string): string {
  return hash32(text).toString(16).padStart(8, '0') + hash32(`\u0001${text}`).toString(16).padStart(8, '0');
}

/**
 * Rendezvous (highest random weight) hashing: the candidate whose hash with the key is highest.
 * Adding or removing one of n candidates moves only about 1/n of the keys.
 */
export function rendezvous<T extends { readonly key: string }>(key: string, candidates: readonly T[]): T | undefined {
  let best: T | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    const score = hash32(`${key}\u0000${c.key}`);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}
