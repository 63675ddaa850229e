import { keepLogs } from './keep-logs.mjs';
import { instance, network, stateRoot } from './network-lifecycle.mjs';

export default async function globalTeardown() {
    if (process.env.EHR_KEEP_TEST_NETWORK === '1') {
        process.stderr.write(`[e2e] keeping instance '${instance}' (EHR_KEEP_TEST_NETWORK=1)\n`);
        return;
    }
    const kept = keepLogs(stateRoot(), instance);
    if (kept) process.stderr.write(`[e2e] the instance's logs are kept in ${kept}\n`);
    network('clean', '--yes');
}
