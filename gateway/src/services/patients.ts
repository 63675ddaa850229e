import { randomUUID } from 'node:crypto';
import type { Actor, Committed, Patient } from '../domain.js';
import type { ServiceContext } from './context.js';

export class PatientService {
    readonly #ctx: ServiceContext;

    constructor(ctx: ServiceContext) {
        this.#ctx = ctx;
    }

    /** Registers the pseudonym (or a fresh one) with this hospital as home. */
    register(actor: Actor, patientId: string = randomUUID()): Promise<Patient & Committed> {
        return this.#ctx.ledger.registerPatient(actor, patientId);
    }
}
