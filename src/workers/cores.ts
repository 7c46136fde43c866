import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * `--workers auto`: the cores this process may run on (CPU affinity), capped by the
 * container's CPU quota (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`), rounded up: a pod
 * limited to 1.5 CPUs gets 2 workers, one with 500m gets 1.
 */
export function availableCores(readFile: (path: string) => string | undefined = readQuietly): number {
  const cores = availableParallelism();
  const quota = cgroupQuota(readFile);
  return Math.max(1, quota === undefined ? cores : Math.min(cores, Math.ceil(quota)));
}

/** CPUs the cgroup may use, or undefined when unlimited or unknown. */
function cgroupQuota(readFile: (path: string) => string | undefined): number | undefined {
  const v2 = readFile('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 && v2[0] !== 'max') {
    const [quota, period] = v2.map(Number);
    if (quota! > 0 && period! > 0) return quota! / period!;
  }
  const quota = Number(readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'));
  const period = Number(readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
  return quota > 0 && period > 0 ? quota / period : undefined;
}

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
