import type { AccessRequest, Actor, Committed, Consent, Purpose } from '../domain.js';
import type { ServiceContext } from './context.js';
import { type ScopeInput, assertActsFor, assertPatientAtHome, toScope } from './guards.js';

/** Consents and the access requests that lead to them; the patient decides, through the home hospital. */
export class ConsentService {
    readonly #ctx: ServiceContext;

    constructor(ctx: ServiceContext) {
        this.#ctx = ctx;
    }

    grant(
        actor: Actor,
        patientId: string,
        body: { grantee: string; scope?: ScopeInput; purposes: Purpose[]; expiresAt?: string },
    ): Promise<Consent & Committed> {
        assertActsFor(actor, patientId);
        return this.#ctx.ledger.grantConsent(actor, {
            patientId,
            grantee: body.grantee,
            scope: toScope(body.scope),
            purposes: body.purposes,
            ...(body.expiresAt ? { expiresAt: body.expiresAt } : {}),
        });
    }

    /**
     * The chaincode answers only what this hospital may know (all consents at the home
     * hospital and at custodians, its own consents at a grantee, a 404 elsewhere), so a
     * clinician anywhere sees exactly that; checking the home here would reveal, by a 403,
     * that a patient exists.
     */
    async list(actor: Actor, patientId: string): Promise<Consent[]> {
        await assertPatientAtHome(this.#ctx, actor, patientId);
        return this.#ctx.ledger.listConsents(actor, patientId);
    }

    revoke(actor: Actor, consentId: string): Promise<Consent & Committed> {
        return this.#ctx.ledger.revokeConsent(actor, consentId);
    }

    request(actor: Actor, body: { patientId: string; purpose: Purpose; scope?: ScopeInput; reason: string }): Promise<AccessRequest & Committed> {
        return this.#ctx.ledger.createRequest(actor, {
            patientId: body.patientId,
            purpose: body.purpose,
            scope: toScope(body.scope),
            reason: body.reason,
        });
    }

    async listRequests(actor: Actor, patientId: string): Promise<AccessRequest[]> {
        await assertPatientAtHome(this.#ctx, actor, patientId);
        return this.#ctx.ledger.listRequests(actor, patientId);
    }

    decide(actor: Actor, requestId: string, decision: 'approve' | 'reject', expiresAt?: string): Promise<AccessRequest & Committed> {
        return this.#ctx.ledger.decideRequest(actor, requestId, decision, expiresAt ? { expiresAt } : undefined);
    }
}
