import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Copies an instance's component logs beside the user's state root before the instance
 * is removed, so a failure seen once can be read afterwards (the logs hold IDs and
 * codes, never PHI or secrets). Under the user's own state root, not a shared /tmp path
 * another local user could have created first; '_' is never an instance name.
 * Returns where they went, or undefined when the instance had none.
 */
export function keepLogs(stateRoot, instance) {
    const logs = path.join(stateRoot, instance, 'logs');
    if (!existsSync(logs)) return undefined;
    const kept = path.join(process.env.EHR_TEST_LOGS_DIR ?? path.join(stateRoot, '_test-logs'), `${instance}-${new Date().toISOString().replace(/[:.]/g, '')}`);
    mkdirSync(path.dirname(kept), { recursive: true, mode: 0o700 });
    cpSync(logs, kept, { recursive: true });
    return kept;
}
