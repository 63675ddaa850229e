import { inPatientNamespace, patientNamespace } from '@ehr/ledger-model';
import { randomUUID } from 'node:crypto';
import type { Actor, Committed, Patient } from '../domain.js';
import { Invalid } from '../domain-errors.js';
import type { ServiceContext } from './context.js';

export class PatientService {
    readonly #ctx: ServiceContext;

    constructor(ctx: ServiceContext) {
        this.#ctx = ctx;
    }

    /**
     * Registers the pseudonym with this hospital as home. IDs live in the home
     * hospital's namespace (`<MSP ID>:<local>`, DESIGN §9); without one the gateway
     * issues an unguessable ID in it. The chaincode enforces the namespace too; the
     * check here answers 400 without an endorsement round trip.
     */
    register(actor: Actor, patientId?: string): Promise<Patient & Committed> {
        const ns = patientNamespace(this.#ctx.identity.mspId);
        const id = patientId ?? `${ns}${randomUUID()}`;
        if (!inPatientNamespace(id, this.#ctx.identity.mspId)) {
            throw new Invalid(
                `patient IDs registered at this hospital start with '${ns}' (its namespace), e.g. '${ns}pat-001'; or omit patientId to have one issued`,
            );
        }
        return this.#ctx.ledger.registerPatient(actor, id);
    }
}
