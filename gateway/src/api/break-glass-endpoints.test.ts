import { EMERGENCY_REASONS } from '@ehr/ledger-model';
import { DeclareEmergencyBody } from './break-glass-endpoints.js';
import { openApiDocument } from './openapi.js';

type Schema = Record<string, unknown>;

describe('break-glass in the OpenAPI document', () => {
    const doc = openApiDocument() as unknown as { paths: Record<string, Record<string, Schema>>; components: { schemas: Record<string, Schema> } };

    test('the declaration, the review list and the setting are documented with their problems', () => {
        const declare = doc.paths['/api/v1/patients/{patientId}/emergency-access'].post;
        expect(Object.keys(declare.responses as Schema)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '404', '409', '503']));
        expect(doc.paths['/api/v1/audit/emergency-access'].get).toBeDefined();
        expect(doc.paths['/api/v1/admin/break-glass-settings'].get).toBeDefined();
        expect(Object.keys(doc.paths['/api/v1/admin/break-glass-settings/approvals'].post.responses as Schema)).toEqual(expect.arrayContaining(['200', '400', '409']));
        expect(doc.components.schemas.EmergencyReason.enum).toEqual([...EMERGENCY_REASONS]);
        expect(doc.components.schemas.Consent.properties).toHaveProperty('emergency');
    });

    test('a declaration needs a known reason code and a justification, and takes nothing else', () => {
        const ok = { reasonCode: 'unconscious', justification: 'Found unconscious, no consent on file.' };
        expect(DeclareEmergencyBody.safeParse(ok).success).toBe(true);
        expect(DeclareEmergencyBody.safeParse({ ...ok, reasonCode: 'bored' }).success).toBe(false);
        expect(DeclareEmergencyBody.safeParse({ reasonCode: 'unconscious' }).success).toBe(false);
        expect(DeclareEmergencyBody.safeParse({ ...ok, justification: '          ' }).success).toBe(false);
        expect(DeclareEmergencyBody.safeParse({ ...ok, durationMinutes: 1.5 }).success).toBe(false);
        expect(DeclareEmergencyBody.safeParse({ ...ok, patientName: 'x' }).success).toBe(false);
    });
});
