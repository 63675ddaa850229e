import { randomUUID } from 'node:crypto';
import type { BreakGlassSettings, Category, EmergencyReason } from '@ehr/ledger-model';
import type { Actor } from '../domain.js';
import { classifyDependencyError } from '../domain-errors.js';
import type { Logger } from 'pino';
import { JustificationStore, justificationDigest, newSalt } from './justification-store.js';
import type { BreakGlassLedger } from './ports.js';

export interface DeclareEmergency {
    reasonCode: EmergencyReason;
    justification: string;
    categories?: Category[];
    durationMinutes?: number;
}

/**
 * Break-glass at this hospital: a clinician declares an emergency for another hospital's
 * patient; the ledger (EmergencyAccess contract) judges the setting, the patient and the
 * bounds, and records the grant; the justification stays here.
 */
export class BreakGlassService {
    readonly #ledger: BreakGlassLedger;
    readonly #store: JustificationStore;
    readonly #logger: Logger;

    constructor(ledger: BreakGlassLedger, store: JustificationStore, logger: Logger) {
        this.#ledger = ledger;
        this.#store = store;
        this.#logger = logger;
    }

    async declare(actor: Actor, patientId: string, body: DeclareEmergency) {
        const consentId = randomUUID();
        const salt = newSalt();
        this.#store.put({ consentId, patientId, justification: body.justification, salt, declaredBy: actor.id, declaredAt: new Date().toISOString() });
        try {
            return await this.#ledger.declare(actor, {
                consentId,
                patientId,
                reasonCode: body.reasonCode,
                justificationDigest: justificationDigest(salt, body.justification),
                ...(body.categories ? { categories: body.categories } : {}),
                ...(body.durationMinutes === undefined ? {} : { durationMinutes: body.durationMinutes }),
            });
        } catch (err) {
            // Refused: nothing is on the ledger, so nothing stays here either. Otherwise the
            // outcome may be unknown (it may yet commit): the justification is kept.
            if (classifyDependencyError(err)?.kind === 'refused') this.#store.remove(consentId);
            else this.#logger.warn({ consentId }, 'break-glass declaration outcome unknown; its justification is kept');
            throw err;
        }
    }

    /** The review list, with the justifications of this hospital's own declarations. */
    async review(actor: Actor) {
        const rows = await this.#ledger.review(actor);
        return rows.map((row) => {
            const entry = this.#store.get(row.consentId);
            if (!entry || !row.emergency) return row;
            return { ...row, justification: entry.justification, justificationVerified: JustificationStore.matches(entry, row.emergency.justificationDigest) };
        });
    }

    settings(actor: Actor) {
        return this.#ledger.settings(actor);
    }

    approveSettings(actor: Actor, settings: BreakGlassSettings) {
        return this.#ledger.approveSettings(actor, settings);
    }
}
