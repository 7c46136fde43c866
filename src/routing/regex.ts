import RE2 from 're2';

/**
 * Compiles a path as ingress-nginx does in regex mode: case-insensitive and anchored at
 * the start only. RE2 runs in linear time, so no pattern can stall the process.
 * Throws with RE2's message when the pattern is not valid RE2 syntax.
 */
export function compilePathRegex(path: string): RE2 {
  return new RE2(`^(?:${path})`, 'i');
}
