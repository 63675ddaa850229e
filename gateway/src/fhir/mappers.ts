/*
 * Our ledger's values as FHIR R4 resources (types from @types/fhir). Nothing here decides
 * anything: the services have already applied every rule; these only change the shape.
 */
import type { AuditEvent as FhirAuditEvent, Bundle, BundleEntry, BundleLink, Coding, Consent as FhirConsent, DocumentReference, FhirResource } from 'fhir/r4.js';
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventType, Consent } from '../domain.js';
import type { RecordView } from '../services/records.js';
import {
    ACT_REASON,
    ACTOR_SYSTEM,
    CID_SYSTEM,
    CONSENT_ID_SYSTEM,
    EVENT_TYPE_SYSTEM,
    RECORD_ID_SYSTEM,
    TX_ID_SYSTEM,
    categoryCoding,
    organization,
    patientIdentifier,
    purposeCoding,
} from './codes.js';

/** What only the storing request knows (it travels inside the encrypted blob, never on the ledger). */
export interface AttachmentFacts {
    contentType?: string;
    /** Bytes of the document. */
    size?: number;
    /** Base64 SHA-1 of the document (Attachment.hash in R4). */
    sha1?: string;
    title?: string;
}

export interface DocumentFacts {
    /** The transaction that created the record, when known. */
    txId?: string;
    /** Another record of the patient names this one in `supersedes`. */
    superseded?: boolean;
    attachment?: AttachmentFacts;
}

/** A record as an MHD DocumentReference; `base` is the endpoint's absolute base URL. */
export function documentReference(record: RecordView, base: string, facts: DocumentFacts = {}): DocumentReference {
    const a = facts.attachment ?? {};
    const status: DocumentReference['status'] = record.status === 'erased' ? 'entered-in-error' : facts.superseded ? 'superseded' : 'current';
    return {
        resourceType: 'DocumentReference',
        id: record.recordId,
        masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${record.recordId}` },
        identifier: [
            { use: 'official', system: RECORD_ID_SYSTEM, value: record.recordId },
            ...(facts.txId ? [{ use: 'secondary' as const, system: TX_ID_SYSTEM, value: facts.txId }] : []),
            { use: 'secondary', system: CID_SYSTEM, value: record.cid },
        ],
        status,
        ...(record.status === 'erased' ? { description: 'erased (crypto-shredded): the keys are destroyed and the blob unpinned' } : a.title ? { description: a.title } : {}),
        category: [{ coding: [categoryCoding(record.category)] }],
        subject: patientIdentifier(record.patientId),
        date: record.createdAt,
        author: [{ identifier: { system: ACTOR_SYSTEM, value: record.createdBy } }],
        custodian: organization(record.custodian),
        ...(record.supersedes ? { relatesTo: [{ code: 'replaces' as const, target: { reference: `DocumentReference/${record.supersedes}` } }] } : {}),
        content: [
            {
                attachment: {
                    ...(a.contentType ? { contentType: a.contentType } : {}),
                    url: `${base}/Binary/${record.recordId}`,
                    ...(a.size !== undefined ? { size: a.size } : {}),
                    ...(a.sha1 ? { hash: a.sha1 } : {}),
                    ...(a.title ? { title: a.title } : {}),
                    creation: record.createdAt,
                },
            },
        ],
    };
}

const CONSENT_SCOPE = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] };
const CONSENT_CATEGORY = { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] };
const OPT_IN = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN', display: 'opt-in' }] };
/** Security label of a break-glass grant (its provision's purpose is ETREAT, emergency treatment). */
const BREAK_THE_GLASS = { system: ACT_REASON, code: 'BTG', display: 'break the glass' };
const RECIPIENT = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] };

/** A consent as a FHIR Consent: permit, actor = the grantee, purpose, class (categories), data (records), period (expiry). */
export function consentResource(consent: Consent, txId?: string): FhirConsent {
    const scope = consent.scope;
    return {
        resourceType: 'Consent',
        id: consent.consentId,
        identifier: [
            { use: 'official', system: CONSENT_ID_SYSTEM, value: consent.consentId },
            ...(txId ? [{ use: 'secondary' as const, system: TX_ID_SYSTEM, value: txId }] : []),
        ],
        status: consent.status === 'active' ? 'active' : 'inactive',
        scope: CONSENT_SCOPE,
        category: [CONSENT_CATEGORY],
        patient: patientIdentifier(consent.patientId),
        dateTime: consent.grantedAt,
        policyRule: OPT_IN,
        provision: {
            type: 'permit',
            period: { start: consent.grantedAt, ...(consent.expiresAt ? { end: consent.expiresAt } : {}) },
            actor: [{ role: RECIPIENT, reference: organization(consent.grantee) }],
            purpose: consent.purposes.map(purposeCoding),
            ...(scope.type === 'categories' ? { class: scope.categories.map(categoryCoding) } : {}),
            ...(scope.type === 'recordIds' ? { data: scope.recordIds.map((id) => ({ meaning: 'instance' as const, reference: { reference: `DocumentReference/${id}` } })) } : {}),
        },
        ...(consent.revokedAt || consent.emergency
            ? { meta: { ...(consent.revokedAt ? { lastUpdated: consent.revokedAt } : {}), ...(consent.emergency ? { security: [BREAK_THE_GLASS] } : {}) } }
            : {}),
    };
}

/** Our event types as REST interactions and DICOM/FHIR action codes. */
const EVENT: Record<AuditEventType, { interaction: string; action: FhirAuditEvent['action'] }> = {
    PatientRegistered: { interaction: 'create', action: 'C' },
    RecordCreated: { interaction: 'create', action: 'C' },
    RecordAccessed: { interaction: 'read', action: 'R' },
    RecordErased: { interaction: 'delete', action: 'D' },
    ConsentGranted: { interaction: 'create', action: 'C' },
    ConsentRevoked: { interaction: 'update', action: 'U' },
    AccessRequested: { interaction: 'create', action: 'C' },
    RequestDecided: { interaction: 'update', action: 'U' },
    EnvelopeDelivered: { interaction: 'create', action: 'C' },
    EnvelopePurged: { interaction: 'delete', action: 'D' },
};

/**
 * A ledger history entry as an AuditEvent in the shape of IHE BALP (Basic Audit Log Patterns):
 * type `rest` with the interaction as subtype, the user and the hospital as agents, the
 * patient and the record (or consent) as entities, and the ledger transaction as an entity
 * too (txId, block). Every entry is a committed transaction, so the outcome is success (0).
 */
export function auditEvent(event: AuditEvent, observer: string): FhirAuditEvent {
    const kind = EVENT[event.type];
    const purpose = event.purpose ? [{ coding: [purposeCoding(event.purpose)] }] : undefined;
    const id = createHash('sha256').update(`${event.txId}|${event.type}|${event.recordId ?? ''}|${event.consentId ?? ''}|${event.requestId ?? ''}`).digest('hex');
    const entity: NonNullable<FhirAuditEvent['entity']> = [
        {
            what: patientIdentifier(event.patientId),
            type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
            role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
        },
    ];
    if (event.recordId) {
        entity.push({
            what: { reference: `DocumentReference/${event.recordId}`, identifier: { system: RECORD_ID_SYSTEM, value: event.recordId } },
            type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
            role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
        });
    }
    if (event.consentId) {
        entity.push({
            what: { reference: `Consent/${event.consentId}`, identifier: { system: CONSENT_ID_SYSTEM, value: event.consentId } },
            type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
            role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
        });
    }
    const detail = [
        { type: 'txId', valueString: event.txId },
        ...(event.blockNumber !== null ? [{ type: 'blockNumber', valueString: String(event.blockNumber) }] : []),
        ...(event.basis ? [{ type: 'basis', valueString: event.basis }] : []),
        ...(event.requestId ? [{ type: 'requestId', valueString: event.requestId }] : []),
    ];
    entity.push({
        what: { identifier: { system: TX_ID_SYSTEM, value: event.txId }, display: 'ledger transaction' },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '20', display: 'Job' },
        detail,
    });
    const userRole: Coding[] = event.actorRole ? [{ system: 'urn:ehr:role', code: event.actorRole }] : [];
    return {
        resourceType: 'AuditEvent',
        id,
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
        subtype: [
            { system: 'http://hl7.org/fhir/restful-interaction', code: kind.interaction },
            { system: EVENT_TYPE_SYSTEM, code: event.type },
        ],
        action: kind.action,
        recorded: event.timestamp,
        outcome: '0',
        ...(purpose ? { purposeOfEvent: purpose } : {}),
        agent: [
            {
                type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110153', display: 'Source Role ID' }] },
                ...(userRole.length ? { role: [{ coding: userRole }] } : {}),
                who: { identifier: { system: ACTOR_SYSTEM, value: event.actor } },
                requestor: true,
                ...(purpose ? { purposeOfUse: purpose } : {}),
            },
            {
                type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'custodian', display: 'custodian' }] },
                who: organization(event.hospital),
                requestor: false,
            },
        ],
        source: {
            observer: organization(observer),
            type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
        },
        entity,
    };
}

/** A searchset Bundle of one page: the links and total come from the paging (paging.ts). */
export function searchset<T extends FhirResource>(page: T[], base: string, paging: { total: number; links: BundleLink[] }): Bundle<T> {
    return {
        resourceType: 'Bundle',
        id: randomUUID(),
        meta: { lastUpdated: new Date().toISOString() },
        type: 'searchset',
        total: paging.total,
        link: paging.links,
        entry: page.map((resource): BundleEntry<T> => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
    };
}
