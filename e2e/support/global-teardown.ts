import { network, testInstance } from './instance.js';

export default async function globalTeardown(): Promise<void> {
  if (process.env.EHR_KEEP_TEST_NETWORK === '1') {
    process.stderr.write(`[e2e] keeping instance '${testInstance.name}' (EHR_KEEP_TEST_NETWORK=1)\n`);
    return;
  }
  await network('clean');
}
