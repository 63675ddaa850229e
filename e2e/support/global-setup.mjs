import { instance, network, portBase } from './network-lifecycle.mjs';

// One network instance per test run, shared by every suite (each suite uses fresh IDs).
export default async function globalSetup() {
    process.stderr.write(`\n[e2e] starting network instance '${instance}' (port base ${portBase})\n`);
    network('clean', '--yes');
    const started = Date.now();
    network('up');
    process.stderr.write(`[e2e] instance up in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}
