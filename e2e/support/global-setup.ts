import { network, testInstance } from './instance.js';

// One network instance per test run, shared by every suite (each suite uses fresh IDs).
export default async function globalSetup(): Promise<void> {
  process.stderr.write(`\n[e2e] starting network instance '${testInstance.name}' (port base ${testInstance.portBase})\n`);
  await network('clean');
  const started = Date.now();
  await network('up');
  process.stderr.write(`[e2e] instance up in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}
