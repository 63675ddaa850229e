import type { Actor, Category, Scope } from '../domain.js';
import { ForbiddenError } from '../http/problem.js';

/**
 * A patient token acts only for the patient it names. The chaincode enforces this too; checking
 * here answers 403 without an endorsement round trip.
 */
export function assertActsFor(actor: Actor, patientId: string): void {
    if (actor.role === 'patient' && actor.id !== patientId) {
        throw new ForbiddenError('a patient may act only for themselves');
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
