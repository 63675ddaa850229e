import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { z } from 'zod';

/**
 * The gateway's small state files (custody journal, consent expiries, custody status):
 * JSON written whole to a temporary file and renamed into place, so a crash leaves
 * the old or the new content, never half of it; mode 0600 (they name patients' IDs).
 */
export function writeStateFile(path: string, value: unknown, options: { sync?: boolean } = {}): void {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
        writeSync(fd, JSON.stringify(value));
        // A journal that tells what is still to do must survive a power loss, not only a crash.
        if (options.sync) fsyncSync(fd);
    } finally {
        closeSync(fd);
    }
    renameSync(tmp, path);
}

/**
 * Reads a state file written by writeStateFile: undefined when there is none yet; an
 * error naming the file when it is not what `schema` describes (never silently empty,
 * which would drop the work it records).
 */
export function readStateFile<S extends z.ZodType>(path: string, schema: S, what: string): z.infer<S> | undefined {
    let text: string;
    try {
        text = readFileSync(path, 'utf8');
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
    }
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (err) {
        throw new Error(`${path} is not valid JSON`, { cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new Error(`${path} is not ${what}: ${parsed.error.message}`);
    return parsed.data;
}
