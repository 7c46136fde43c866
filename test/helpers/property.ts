/**
 * fast-check settings shared by the property tests: a bounded number of runs and a fixed seed,
 * so a failure reproduces; fast-check prints the seed and the shrunk counterexample with it.
 * Set PORTICO_FC_SEED to explore other inputs.
 */
export function propertyRuns(numRuns: number): { seed: number; numRuns: number } {
  return { seed: Number(process.env['PORTICO_FC_SEED'] ?? 20261202), numRuns };
}
