// Jest global setup/teardown helpers. Plain ESM (not TypeScript): Jest loads
// global hooks outside its module transform.
import { execFileSync } from 'node:child_process';
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
