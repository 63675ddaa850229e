/*
 * What the endpoint supports, in one table: the router mounts exactly these interactions and
 * accepts exactly these search parameters, and GET /metadata describes the same table.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';
import type { PageLimits } from '../api/pagination.js';
import { CATEGORIES, type Role } from '../domain.js';
import { PURPOSE_HELP } from './codes.js';

export type Interaction = 'read' | 'search-type' | 'create' | 'update';

export interface SearchParam {
    name: string;
    type: 'token' | 'date' | 'reference' | 'number';
    documentation: string;
}

export interface ResourceSupport {
    type: 'DocumentReference' | 'Binary' | 'Consent' | 'AuditEvent' | 'Observation';
    profile?: string;
    documentation: string;
    interactions: Partial<Record<Interaction, Role[]>>;
    searchParams: SearchParam[];
    operations?: { name: string; definition: string; roles: Role[]; documentation: string }[];
}

/** Result parameters every search takes (FHIR's own and our paging cursor, not listed per resource). */
export const RESULT_PARAMS = ['_count', '_cursor', '_format'] as const;
/** Vitals chunks one Observation search reads at most (newest first): each is a blob fetch and an access entry. */
export const MAX_VITALS_CHUNKS = 60;

const patientParams: SearchParam[] = [
    { name: 'patient.identifier', type: 'token', documentation: 'urn:ehr:patient-id|<patient ID> (our patient IDs hold a colon, so they are identifiers, never Patient ids)' },
    { name: 'patient', type: 'reference', documentation: 'the same as patient.identifier: urn:ehr:patient-id|<patient ID>' },
];

export const RESOURCES: ResourceSupport[] = [
    {
        type: 'DocumentReference',
        profile: 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.DocumentReference',
        documentation:
            'IHE MHD Document Responder (ITI-67). Searches list the documents this hospital may see, with the same need-to-know as REST; contentType, size and hash travel inside the encrypted blob (never on the ledger), so only the ITI-65 response carries them.',
        interactions: { read: ['clinician', 'patient', 'auditor'], 'search-type': ['clinician', 'patient'] },
        searchParams: [
            ...patientParams,
            { name: 'category', type: 'token', documentation: `urn:ehr:category|<${CATEGORIES.join('|')}>; comma-separated values are ORed` },
            { name: 'date', type: 'date', documentation: 'the record creation time, with prefixes eq, ne, gt, lt, ge, le; repeat for a range' },
            { name: 'status', type: 'token', documentation: 'current | superseded | entered-in-error (erased)' },
        ],
    },
    {
        type: 'Binary',
        documentation: `IHE MHD Retrieve Document (ITI-68): the document's bytes with their own Content-Type, streamed; the access is committed on the ledger before the first byte. Purpose of use: header X-Purpose-Of-Use or query _security with ${PURPOSE_HELP}; default TREAT (treatment).`,
        interactions: { read: ['clinician', 'patient'] },
        searchParams: [],
    },
    {
        type: 'Consent',
        documentation:
            'Patient consents. Created and revoked only by the patient at the home hospital (a patient token). provision.actor = the grantee Organization (urn:ehr:msp-id), provision.purpose = PurposeOfUse codes, provision.class (or provision.securityLabel) = categories (urn:ehr:category), provision.data = DocumentReference references, provision.period.end = expiry. Revocation: PUT with status inactive, or POST Consent/{id}/$revoke. Break-glass (emergency) grants carry meta.security v3-ActReason BTG and provision.purpose ETREAT.',
        interactions: { read: ['patient', 'clinician'], 'search-type': ['patient', 'clinician'], create: ['patient'], update: ['patient'] },
        searchParams: [...patientParams, { name: 'status', type: 'token', documentation: 'active | inactive' }],
        operations: [{ name: 'revoke', definition: 'urn:ehr:OperationDefinition/Consent-revoke', roles: ['patient'], documentation: 'POST Consent/{id}/$revoke: revokes the consent (status becomes inactive)' }],
    },
    {
        type: 'AuditEvent',
        profile: 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead',
        documentation: 'The ledger history (records, consents, each disclosure) as AuditEvents in the shape of IHE BALP; auditor role only.',
        interactions: { 'search-type': ['auditor'] },
        searchParams: [
            { name: 'entity', type: 'reference', documentation: 'DocumentReference/<record ID>: every event on the record' },
            ...patientParams,
        ],
    },
    {
        type: 'Observation',
        profile: 'http://hl7.org/fhir/StructureDefinition/vitalsigns',
        documentation: `Vital signs: one Observation per sample of the patient's vitals records (REST POST /api/v1/patients/{patientId}/vitals), newest chunks first, at most ${MAX_VITALS_CHUNKS} chunks per search. Each chunk read is a read of that record: the access rule and the purpose (X-Purpose-Of-Use or _security) apply and the access is committed before the bundle is sent.`,
        interactions: { 'search-type': ['clinician', 'patient'] },
        searchParams: [
            ...patientParams,
            { name: 'code', type: 'token', documentation: 'http://loinc.org|8867-4 (heart rate), 59408-5 (SpO2), ...; or the sample code (heart-rate, spo2, ecg-ii, ...); comma-separated values are ORed' },
            { name: 'date', type: 'date', documentation: "the sample's time, with prefixes eq, ne, gt, lt, ge, le; repeat for a range" },
        ],
    },
];

/** Who may submit an ITI-65 transaction. */
export const TRANSACTION_ROLES: Role[] = ['clinician'];

export function capabilityStatement(options: { baseUrl?: string; mspId: string; date: string; paging: PageLimits }): CapabilityStatement {
    const resource = RESOURCES.map(
        (r): CapabilityStatementRestResource => ({
            type: r.type,
            ...(r.profile ? { supportedProfile: [r.profile] } : {}),
            documentation: `${r.documentation} Roles: ${Object.entries(r.interactions)
                .map(([i, roles]) => `${i}: ${roles.join(', ')}`)
                .join('; ')}.`,
            interaction: Object.keys(r.interactions).map((code) => ({ code: code as Interaction })),
            ...(r.interactions.update ? { updateCreate: false } : {}),
            ...(r.searchParams.length ? { searchParam: r.searchParams.map((p) => ({ name: p.name, type: p.type, documentation: p.documentation })) } : {}),
            ...(r.operations ? { operation: r.operations.map((o) => ({ name: o.name, definition: o.definition, documentation: o.documentation })) } : {}),
        }),
    );
    return {
        resourceType: 'CapabilityStatement',
        status: 'active',
        date: options.date,
        publisher: options.mspId,
        kind: 'instance',
        software: { name: 'ehr-gateway FHIR facade' },
        implementation: { description: `FHIR R4 endpoint of ${options.mspId}'s EHR gateway`, ...(options.baseUrl ? { url: options.baseUrl } : {}) },
        fhirVersion: '4.0.1',
        format: ['application/fhir+json', 'json'],
        implementationGuide: ['https://profiles.ihe.net/ITI/MHD/ImplementationGuide/ihe.iti.mhd', 'https://profiles.ihe.net/ITI/BALP/ImplementationGuide/ihe.iti.balp'],
        rest: [
            {
                mode: 'server',
                documentation: `Searches take ${RESULT_PARAMS.join(', ')} (_count default ${options.paging.defaultLimit}, at most ${options.paging.maxLimit}; _cursor is opaque: follow Bundle.link next, present until the last page); unknown parameters are ignored unless the request says Prefer: handling=strict (then 400).`,
                security: {
                    cors: false,
                    service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth', display: 'OAuth' }] }],
                    description: "Bearer JWT from the hospital's identity provider on every interaction but this one; claims sub and role (clinician, patient, auditor, admin, researcher).",
                },
                resource,
                interaction: [{ code: 'transaction', documentation: `IHE MHD Provide Document Bundle (ITI-65): one DocumentReference with its Binary (or inline attachment data), optionally a SubmissionSet List. Roles: ${TRANSACTION_ROLES.join(', ')}.` }],
            },
        ],
    };
}
