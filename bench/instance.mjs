// What both bench scripts need of their network instance: their options
// (instance name, port base, --keep, --help), network.sh against that instance,
// and tokens from its development IdP.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Parses the script's options over the common ones; `--help` prints the script's
 * leading comment (its first `helpLines` lines) and exits.
 */
export function benchOptions(scriptUrl, defaults, options, helpLines) {
    const { values } = parseArgs({
        options: {
            instance: { type: 'string', default: defaults.instance },
            'port-base': { type: 'string', default: defaults.portBase },
            keep: { type: 'boolean', default: false },
            help: { type: 'boolean', default: false },
            ...options,
        },
    });
    if (values.help) {
        process.stdout.write(readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n').slice(0, helpLines).join('\n') + '\n');
        process.exit(0);
    }
    return values;
}

/** network.sh for the instance in `opts`; answers its stdout (its progress goes to stderr). */
export function networkOf(opts) {
    return (...args) =>
        execFileSync('bash', [path.join(root, 'network/network.sh'), '--instance', opts.instance, '--port-base', opts['port-base'], ...args], {
            cwd: root,
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'inherit'],
            maxBuffer: 64 * 1024 * 1024,
        });
}
