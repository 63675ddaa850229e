/* Break-glass emergency access (DESIGN §9): the declaration, the auditors' review list and the consortium-wide setting. */
import { BREAK_GLASS_ROLES, CATEGORIES, EMERGENCY_REASONS, MAX_BREAK_GLASS_MINUTES } from '@ehr/ledger-model';
import { endpoint } from './endpoint.js';
import * as s from './schemas.js';
import { z } from './zod.js';

export const EmergencyReason = z.enum(EMERGENCY_REASONS).openapi('EmergencyReason', {
    description: 'Why the glass is broken: a code, stored in clear on the ledger (free text goes into `justification`, which stays at this gateway)',
    example: 'unconscious',
});
const Minutes = z.number().int().min(1).max(MAX_BREAK_GLASS_MINUTES);

export const DeclareEmergencyBody = z
    .strictObject({
        reasonCode: EmergencyReason,
        justification: z
            .string()
            .trim()
            .min(10)
            .max(2000)
            .openapi({ description: "Why, in the clinician's words. Kept at this hospital's gateway only (0600 file); the ledger gets a salted SHA-256 commitment." }),
        categories: z.array(s.Category).min(1).max(CATEGORIES.length).optional().openapi({ description: "Default: every category the consortium's setting opens to break-glass" }),
        durationMinutes: Minutes.optional().openapi({ description: "Default: the setting's defaultDurationMinutes; at most its maxDurationMinutes" }),
    })
    .openapi('DeclareEmergencyBody');

export const EmergencyGrant = s.Consent.extend({ inForce: z.boolean().optional() }).openapi('EmergencyGrant');

export const EmergencyAccessEntry = z
    .object({
        recordId: s.RecordId,
        txId: s.TxId,
        accessor: s.MspId,
        actor: z.string(),
        role: z.string().optional(),
        purpose: s.Purpose,
        at: s.Timestamp,
        basis: z.string().openapi({ example: 'breakglass:6c1e9a47-2f3b-4d5c-8e7a-9b0c1d2e3f40' }),
        custodian: s.MspId.nullable(),
    })
    .openapi('EmergencyAccessEntry');

export const EmergencyReviewItem = EmergencyGrant.extend({
    homeHospital: s.MspId,
    accesses: z.array(EmergencyAccessEntry),
    justification: z
        .string()
        .optional()
        .openapi({ description: "Only at the declaring hospital's gateway, from its local store (checked against the ledger's digest)" }),
    justificationVerified: z.boolean().optional(),
}).openapi('EmergencyReviewItem');
export const EmergencyReviewList = z.array(EmergencyReviewItem).openapi('EmergencyReviewList');

export const BreakGlassSettings = z
    .strictObject({
        enabled: z.boolean(),
        allowedRoles: z.array(z.enum(BREAK_GLASS_ROLES)).min(1).max(BREAK_GLASS_ROLES.length),
        defaultDurationMinutes: Minutes,
        maxDurationMinutes: Minutes,
        categories: z.array(s.Category).min(1).max(CATEGORIES.length),
    })
    .refine((v) => v.defaultDurationMinutes <= v.maxDurationMinutes, { message: 'defaultDurationMinutes must not exceed maxDurationMinutes', path: ['defaultDurationMinutes'] })
    .openapi('BreakGlassSettings');

export const BreakGlassSettingsState = z
    .object({
        settings: BreakGlassSettings,
        version: z.number().int().openapi({ description: '0 while the defaults apply' }),
        approvedAt: s.Timestamp.nullable(),
        approvedBy: z.array(s.MspId),
        digest: z.string(),
        approvalsNeeded: z.number().int().openapi({ description: 'A MAJORITY of the registered hospitals' }),
        pending: z.array(z.object({ digest: z.string(), settings: BreakGlassSettings, hospitals: z.array(s.MspId) })),
    })
    .openapi('BreakGlassSettingsState');

export const BreakGlassApproval = z
    .object({
        applied: z.boolean(),
        digest: z.string(),
        approvals: z.array(s.MspId),
        needed: z.number().int(),
        settings: BreakGlassSettings,
        txId: s.TxId,
    })
    .openapi('BreakGlassApproval');

const json = (description: string, schema: z.ZodType) => ({ description, schema });

export const declareEmergencyAccess = endpoint({
    operationId: 'declareEmergencyAccess',
    method: 'post',
    path: '/api/v1/patients/{patientId}/emergency-access',
    summary: "Break the glass: emergency access to another hospital's patient without consent",
    description:
        'Records an emergency grant to this hospital on the ledger (purpose `emergency`, scope and duration bounded by the consortium setting); ' +
        "custodians deliver the patient's key envelopes at once. Read content with `X-Purpose-Of-Use: emergency`; every read is logged with basis " +
        '`breakglass:<consentId>`. The patient sees the grant in their consents and ends it with DELETE /api/v1/consents/{consentId}; it lapses by itself.',
    tags: ['emergency access'],
    roles: ['clinician', 'admin'],
    request: { params: s.PatientParams, body: DeclareEmergencyBody },
    responses: { 201: json('Declared', EmergencyGrant) },
    problems: [400, 404, 409, 503],
});

export const listEmergencyAccess = endpoint({
    operationId: 'listEmergencyAccess',
    method: 'get',
    path: '/api/v1/audit/emergency-access',
    summary: 'Review list: emergency grants this hospital declared, of its patients, or that read its records, each with its accesses',
    tags: ['audit', 'emergency access'],
    roles: ['auditor'],
    request: {},
    responses: { 200: json('Emergency grants', EmergencyReviewList) },
    problems: [503],
});

export const getBreakGlassSettings = endpoint({
    operationId: 'getBreakGlassSettings',
    method: 'get',
    path: '/api/v1/admin/break-glass-settings',
    summary: 'The consortium-wide break-glass setting in force and the approvals pending',
    tags: ['emergency access'],
    roles: ['admin', 'auditor'],
    request: {},
    responses: { 200: json('Setting', BreakGlassSettingsState) },
    problems: [503],
});

export const approveBreakGlassSettings = endpoint({
    operationId: 'approveBreakGlassSettings',
    method: 'post',
    path: '/api/v1/admin/break-glass-settings/approvals',
    summary: "This hospital's admin approves a complete setting; it applies once a MAJORITY of hospitals approved the same value",
    tags: ['emergency access'],
    roles: ['admin'],
    request: { body: BreakGlassSettings },
    responses: { 200: json('Approval recorded (and applied when `applied`)', BreakGlassApproval) },
    problems: [400, 409, 503],
});

export const BREAK_GLASS_ENDPOINTS = [declareEmergencyAccess, listEmergencyAccess, getBreakGlassSettings, approveBreakGlassSettings] as const;
