import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { readStateFile, writeStateFile } from '../fabric/state-file.js';

const entrySchema = z.object({
    consentId: z.string(),
    patientId: z.string(),
    justification: z.string(),
    /** base64: mixed into the commitment so the digest on the ledger cannot be guessed from likely texts. */
    salt: z.string(),
    declaredBy: z.string(),
    declaredAt: z.iso.datetime({ offset: true }),
});
export type JustificationEntry = z.infer<typeof entrySchema>;

/** The commitment the ledger keeps: SHA-256 over the salt and the UTF-8 text. */
export function justificationDigest(salt: string, justification: string): string {
    return createHash('sha256').update(Buffer.from(salt, 'base64')).update(justification, 'utf8').digest('hex');
}

export const newSalt = () => randomBytes(32).toString('base64');

/**
 * The justifications of this hospital's break-glass declarations: free text that may carry
 * clinical detail, so never on the ledger, in events or in logs. One JSON file under the
 * instance state dir, mode 0600, written whole and fsynced (state-file.ts).
 */
export class JustificationStore {
    readonly #path: string;
    readonly #entries = new Map<string, JustificationEntry>();

    constructor(path: string) {
        this.#path = path;
        for (const e of readStateFile(path, z.array(entrySchema), 'a list of break-glass justifications') ?? []) this.#entries.set(e.consentId, e);
    }

    /** Kept before the ledger is asked, so a grant that commits never lacks its justification. */
    put(entry: JustificationEntry): void {
        this.#entries.set(entry.consentId, entrySchema.parse(entry));
        this.#save();
    }

    /** Dropped again when the ledger refused the declaration. */
    remove(consentId: string): void {
        if (this.#entries.delete(consentId)) this.#save();
    }

    get(consentId: string): JustificationEntry | undefined {
        return this.#entries.get(consentId);
    }

    /** Whether the stored text is the one the ledger's digest commits to. */
    static matches(entry: JustificationEntry, digest: string): boolean {
        const ours = Buffer.from(justificationDigest(entry.salt, entry.justification), 'hex');
        const theirs = Buffer.from(digest, 'hex');
        return ours.length === theirs.length && timingSafeEqual(ours, theirs);
    }

    #save(): void {
        writeStateFile(this.#path, [...this.#entries.values()], { sync: true });
    }
}
