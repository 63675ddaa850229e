import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { instance, network, stateDir, stateRoot } from './network-lifecycle.mjs';

export default async function globalTeardown() {
    if (process.env.EHR_KEEP_TEST_NETWORK === '1') {
        process.stderr.write(`[e2e] keeping instance '${instance}' (EHR_KEEP_TEST_NETWORK=1)\n`);
        return;
    }
    // The components' logs outlive the instance, so a failure seen once can be read
    // afterwards (they hold IDs and codes, never PHI or secrets).
    const logs = path.join(stateDir(), 'logs');
    if (existsSync(logs)) {
        // Under the user's own state root, not a shared /tmp path another local user could
        // have created first (and so read what is copied into it); '_' is never an instance name.
        const kept = path.join(process.env.EHR_TEST_LOGS_DIR ?? path.join(stateRoot(), '_test-logs'), `${instance}-${new Date().toISOString().replace(/[:.]/g, '')}`);
        mkdirSync(path.dirname(kept), { recursive: true, mode: 0o700 });
        cpSync(logs, kept, { recursive: true });
        process.stderr.write(`[e2e] the instance's logs are kept in ${kept}\n`);
    }
    network('clean', '--yes');
}
