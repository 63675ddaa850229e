import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Copies an instance's component logs beside the user's state root before the instance
 * is removed, so a failure seen once can be read afterwards (the logs hold IDs and
 * codes, never PHI or secrets). Under the user's own state root, not a shared /tmp path
 * another local user could have created first; '_' is never an instance name.
 * Returns where they went, or undefined when the instance had none.
 * `keptRoot` (default: _test-logs under stateRoot) and `label` (default: the instance)
 * serve instances whose state root is itself removed, e.g. one per simulated host.
 */
export function keepLogs(stateRoot, instance, { keptRoot, label } = {}) {
    const logs = path.join(stateRoot, instance, 'logs');
    if (!existsSync(logs)) return undefined;
    const root = process.env.EHR_TEST_LOGS_DIR ?? keptRoot ?? path.join(stateRoot, '_test-logs');
    const kept = path.join(root, `${label ?? instance}-${new Date().toISOString().replace(/[:.]/g, '')}`);
    mkdirSync(path.dirname(kept), { recursive: true, mode: 0o700 });
    cpSync(logs, kept, { recursive: true });
    return kept;
}
