import type { BreakGlassSettings } from '@ehr/ledger-model';
import type { BreakGlassLedger, BreakGlassSettingsState, EmergencyGrant, EmergencyReviewRow, NewEmergencyGrant, SettingsApproval } from '../break-glass/ports.js';
import type { Actor } from '../domain.js';
import type { FabricConnection } from './connection.js';
import { actorArg } from './fabric-ledger.js';
import { evaluate, submit } from './transactions.js';

/** The BreakGlassLedger port on Fabric: the EmergencyAccess contract over the hospital's one connection. */
export class FabricBreakGlassLedger implements BreakGlassLedger {
    readonly #conn: FabricConnection;

    constructor(conn: FabricConnection) {
        this.#conn = conn;
    }

    async declare(actor: Actor, grant: NewEmergencyGrant) {
        const { result, txId } = await submit<EmergencyGrant>(this.#conn.resilient, 'EmergencyAccess:DeclareEmergency', [
            grant.consentId,
            grant.patientId,
            grant.reasonCode,
            grant.justificationDigest,
            grant.categories ? JSON.stringify(grant.categories) : '',
            grant.durationMinutes === undefined ? '' : String(grant.durationMinutes),
            actorArg(actor),
        ]);
        return { ...result, txId };
    }

    review(_actor: Actor): Promise<EmergencyReviewRow[]> {
        return evaluate<EmergencyReviewRow[]>(this.#conn.resilient, 'EmergencyAccess:ListEmergencyGrants');
    }

    settings(_actor: Actor): Promise<BreakGlassSettingsState> {
        return evaluate<BreakGlassSettingsState>(this.#conn.resilient, 'EmergencyAccess:GetSettings');
    }

    async approveSettings(actor: Actor, settings: BreakGlassSettings) {
        const { result, txId } = await submit<SettingsApproval>(this.#conn.resilient, 'EmergencyAccess:ApproveSettings', [
            JSON.stringify(settings),
            actorArg(actor),
        ]);
        return { ...result, txId };
    }
}
