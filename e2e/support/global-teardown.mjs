import { instance, network } from './network-lifecycle.mjs';

export default async function globalTeardown() {
    if (process.env.EHR_KEEP_TEST_NETWORK === '1') {
        process.stderr.write(`[e2e] keeping instance '${instance}' (EHR_KEEP_TEST_NETWORK=1)\n`);
        return;
    }
    network('clean', '--yes');
}
