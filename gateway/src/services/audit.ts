import { unrecordedActor } from '@ehr/ledger-model';
import type { Actor, AuditEvent } from '../domain.js';
import type { ServiceContext } from './context.js';
import { assertPatientAtHome } from './guards.js';

export class AuditService {
    readonly #ctx: ServiceContext;

    constructor(ctx: ServiceContext) {
        this.#ctx = ctx;
    }

    record(actor: Actor, recordId: string): Promise<AuditEvent[]> {
        return this.#ctx.ledger.auditRecord(actor, recordId).then(oldestFirst);
    }

    async patient(actor: Actor, patientId: string): Promise<AuditEvent[]> {
        await assertPatientAtHome(this.#ctx, actor, patientId);
        return oldestFirst(await this.#ctx.ledger.auditPatient(actor, patientId));
    }
}

/**
 * Oldest first, and never an empty actor: the chaincode names one for every entry; an entry
 * from an older chaincode that has none says it was not recorded, and through which hospital.
 */
export function oldestFirst(events: AuditEvent[]): AuditEvent[] {
    return [...events]
        .map((e) => (e.actor ? e : { ...e, actor: unrecordedActor(e.hospital || 'unknown-hospital') }))
        .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}
