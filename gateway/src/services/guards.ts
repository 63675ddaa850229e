import type { Actor, Category, Scope } from '../domain.js';
import { Forbidden, NotFound } from '../domain-errors.js';
import type { ServiceContext } from './context.js';

/**
 * A patient token acts only for the patient it names. The chaincode enforces this too; checking
 * here answers 403 without an endorsement round trip.
 */
export function assertActsFor(actor: Actor, patientId: string): void {
    if (actor.role === 'patient' && actor.id !== patientId) {
        throw new Forbidden('a patient may act only for themselves');
    }
}

/**
 * A patient acts through their home hospital only (DESIGN §9): any hospital's identity
 * provider can mint a token naming any patient, so a patient token is honoured only where
 * the ledger says the patient is at home. The answer is the same 404 whether the patient
 * is unknown or at home elsewhere, so it reveals nothing about other hospitals' patients.
 */
export async function assertPatientAtHome(ctx: ServiceContext, actor: Actor, patientId: string): Promise<void> {
    assertActsFor(actor, patientId);
    if (actor.role !== 'patient') return;
    const patient = await ctx.ledger.getPatient(actor, patientId);
    if (patient.homeHospital !== ctx.identity.mspId) {
        throw new NotFound(`no patient ${patientId} is registered at this hospital; patients act through their home hospital's portal`);
    }
}

export interface ScopeInput {
    categories?: Category[];
    recordIds?: string[];
}

/** REST scope (`{categories?, recordIds?}`, omitted = all) to the ledger's tagged form. */
export function toScope(input: ScopeInput | undefined): Scope {
    if (input?.categories) return { type: 'categories', categories: input.categories };
    if (input?.recordIds) return { type: 'recordIds', recordIds: input.recordIds };
    return { type: 'all' };
}
