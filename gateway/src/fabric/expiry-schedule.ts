import { z } from 'zod';
import { readStateFile, writeStateFile } from './state-file.js';

const expirySchema = z.object({
    consentId: z.string().min(1),
    patientId: z.string().min(1),
    expiresAt: z.iso.datetime({ offset: true }),
});
export type Expiry = z.infer<typeof expirySchema>;

/**
 * The consents granted to this hospital that carry an expiry. No event marks
 * the moment a consent lapses, so the grantee keeps its own list, in a file so
 * that a restart still purges on time.
 */
export class ExpirySchedule {
    readonly #path: string;
    readonly #entries: Map<string, Expiry>;

    constructor(path: string) {
        this.#path = path;
        this.#entries = new Map(load(path).map((e) => [e.consentId, e]));
    }

    add(expiry: Expiry): void {
        this.#entries.set(expiry.consentId, expirySchema.parse(expiry));
        this.#save();
    }

    remove(consentId: string): void {
        if (this.#entries.delete(consentId)) this.#save();
    }

    due(now: Date): Expiry[] {
        return [...this.#entries.values()].filter((e) => Date.parse(e.expiresAt) <= now.getTime());
    }

    /** Written whole and renamed into place, so a crash leaves the old or the new list, never half of one. */
    #save(): void {
        writeStateFile(this.#path, [...this.#entries.values()]);
    }
}

function load(path: string): Expiry[] {
    return readStateFile(path, z.array(expirySchema), 'a list of consent expiries') ?? [];
}
