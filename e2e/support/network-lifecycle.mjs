// Jest global setup/teardown helpers. Plain ESM (not TypeScript): Jest loads
// global hooks outside its module transform.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const instance = process.env.EHR_TEST_INSTANCE ?? 'test';
export const portBase = process.env.EHR_TEST_PORT_BASE ?? '17000';

export function network(...args) {
    execFileSync('bash', [path.join(root, 'network/network.sh'), '--instance', instance, '--port-base', portBase, ...args], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
    });
}

/** The instance's state directory, as network/lib/instance.sh places it. */
export function stateDir() {
    return path.join(stateRoot(), instance);
}

/** Where every instance's state lives (EHR_STATE_HOME, else the XDG state home), under the user's home. */
export function stateRoot() {
    return process.env.EHR_STATE_HOME ?? path.join(process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local/state'), 'ehr-consortium');
}
