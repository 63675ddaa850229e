import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from './instance.js';

/** Absolute path of a pinned binary from the project's toolchain cache. */
export function toolPath(dirFunction: 'kubo_dir' | 'ipfs_cluster_dir' | 'fabric_dir', binary: string): string {
  const dir = execFileSync(
    'bash',
    ['-c', `source network/lib/common.sh; source network/lib/toolchain.sh; ${dirFunction}`],
    { cwd: projectRoot, encoding: 'utf8' },
  ).trim();
  return path.join(dir, 'bin', binary);
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
