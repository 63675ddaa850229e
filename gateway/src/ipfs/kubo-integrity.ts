/** How Kubo reports a block that does not hash to its CID (Datastore.HashOnRead, repo/verify). */
const CORRUPTION_MESSAGE = /different hash than requested|hash mismatch|was corrupt/i;

/** Kubo failed a read because a local block does not match its CID. */
export class KuboCorruptBlockError extends Error {
    constructor(message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = 'KuboCorruptBlockError';
    }
}

export function isCorruptionMessage(message: string): boolean {
    return CORRUPTION_MESSAGE.test(message);
}

/** What `repo/verify?drop=true` did. */
export interface DropReport {
    /** Corrupt blocks removed from the repo. */
    dropped: number;
    /** Corrupt blocks that could not be removed. */
    failed: number;
}

/**
 * Reads the NDJSON of `repo/verify?drop=true`: `{"Msg": "block <cid> was corrupt (...), removed"}`
 * per dropped block, progress lines with an empty Msg, and a summary line.
 */
export function parseRepoVerify(body: string): DropReport {
    let dropped = 0;
    let failed = 0;
    for (const line of body.split('\n')) {
        if (!line.trim()) continue;
        let msg = '';
        try {
            msg = String((JSON.parse(line) as { Msg?: unknown }).Msg ?? '');
        } catch {
            continue;
        }
        if (!/^block \S+ was corrupt/.test(msg)) continue;
        if (/,\s*removed\s*$/.test(msg)) dropped++;
        else failed++;
    }
    return { dropped, failed };
}
