import type { BreakGlassSettings, Category, EmergencyReason } from '@ehr/ledger-model';
import type { Actor, Committed, Consent } from '../domain.js';

/** An emergency grant as the ledger returns it. */
export type EmergencyGrant = Consent & { inForce?: boolean };

export interface EmergencyAccessRow {
    recordId: string;
    txId: string;
    accessor: string;
    actor: string;
    role?: string;
    purpose: string;
    at: string;
    basis: string;
    custodian: string | null;
}

/** A grant of the auditors' review list, with the accesses this hospital may see. */
export type EmergencyReviewRow = EmergencyGrant & { homeHospital: string; accesses: EmergencyAccessRow[] };

export interface NewEmergencyGrant {
    consentId: string;
    patientId: string;
    reasonCode: EmergencyReason;
    justificationDigest: string;
    categories?: Category[];
    durationMinutes?: number;
}

export interface BreakGlassSettingsState {
    settings: BreakGlassSettings;
    version: number;
    approvedAt: string | null;
    approvedBy: string[];
    digest: string;
    approvalsNeeded: number;
    pending: Array<{ digest: string; settings: BreakGlassSettings; hospitals: string[] }>;
}

export interface SettingsApproval {
    applied: boolean;
    digest: string;
    approvals: string[];
    needed: number;
    settings: BreakGlassSettings;
}

/** The EmergencyAccess contract, as this hospital's gateway identity calls it. */
export interface BreakGlassLedger {
    declare(actor: Actor, grant: NewEmergencyGrant): Promise<EmergencyGrant & Committed>;
    review(actor: Actor): Promise<EmergencyReviewRow[]>;
    settings(actor: Actor): Promise<BreakGlassSettingsState>;
    approveSettings(actor: Actor, settings: BreakGlassSettings): Promise<SettingsApproval & Committed>;
}
