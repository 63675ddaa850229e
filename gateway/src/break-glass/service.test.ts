import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { DEFAULT_BREAK_GLASS_SETTINGS } from '@ehr/ledger-model';
import { ChaincodeRejectedError, FabricUnavailableError } from '../fabric/errors.js';
import { JustificationStore, justificationDigest } from './justification-store.js';
import type { BreakGlassLedger, EmergencyGrant, NewEmergencyGrant } from './ports.js';
import { BreakGlassService } from './service.js';

const clinician = { id: 'dr-1', role: 'clinician' as const };
const TEXT = 'Unconscious, no consent on file; medication list needed.';

describe('BreakGlassService', () => {
    let dir: string;
    let file: string;
    let declared: NewEmergencyGrant[];
    let failWith: Error | undefined;

    const ledger: BreakGlassLedger = {
        declare: async (_actor, grant) => {
            declared.push(grant);
            if (failWith) throw failWith;
            const emergency = { reasonCode: grant.reasonCode, declaredBy: 'dr-1', declaredRole: 'clinician' as const, justificationDigest: grant.justificationDigest };
            return { consentId: grant.consentId, patientId: grant.patientId, emergency, txId: 'tx1' } as EmergencyGrant & { txId: string };
        },
        review: async () =>
            declared.map((g) => ({
                consentId: g.consentId,
                patientId: g.patientId,
                emergency: { reasonCode: g.reasonCode, declaredBy: 'dr-1', declaredRole: 'clinician' as const, justificationDigest: g.justificationDigest },
                homeHospital: 'Hospital1MSP',
                accesses: [],
            })) as never,
        settings: async () => ({ settings: DEFAULT_BREAK_GLASS_SETTINGS, version: 0, approvedAt: null, approvedBy: [], digest: '', approvalsNeeded: 2, pending: [] }),
        approveSettings: async (_actor, settings) => ({ applied: false, digest: '', approvals: [], needed: 2, settings, txId: 'tx2' }),
    };
    const service = () => new BreakGlassService(ledger, new JustificationStore(file), pino({ level: 'silent' }));

    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), 'bg-'));
        file = path.join(dir, 'emergency-justifications.json');
        declared = [];
        failWith = undefined;
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    test('the ledger gets a salted commitment, never the text; the text is kept in a 0600 file and shown with the review', async () => {
        const grant = await service().declare(clinician, 'Hospital1MSP:p-1', { reasonCode: 'unconscious', justification: TEXT });
        expect(JSON.stringify(declared)).not.toContain('medication');
        expect(declared[0].justificationDigest).toMatch(/^[0-9a-f]{64}$/);
        expect(statSync(file).mode & 0o777).toBe(0o600);
        // A fresh service reads it back from the file (durable), and checks it against the ledger's digest.
        const [row] = await service().review(clinician);
        expect(row).toMatchObject({ consentId: grant.consentId, justification: TEXT, justificationVerified: true });
    });

    test('equal texts give different digests (the salt), and the digest binds the text', () => {
        expect(justificationDigest('c2FsdDE=', TEXT)).not.toBe(justificationDigest('c2FsdDI=', TEXT));
        const entry = { consentId: 'c', patientId: 'p', justification: TEXT, salt: 'c2FsdDE=', declaredBy: 'dr-1', declaredAt: new Date().toISOString() };
        expect(JustificationStore.matches(entry, justificationDigest('c2FsdDE=', TEXT))).toBe(true);
        expect(JustificationStore.matches({ ...entry, justification: `${TEXT}!` }, justificationDigest('c2FsdDE=', TEXT))).toBe(false);
    });

    test('a refused declaration leaves no justification; one of unknown outcome keeps it', async () => {
        failWith = new ChaincodeRejectedError('FORBIDDEN', 'break-glass access is disabled in this consortium');
        await expect(service().declare(clinician, 'Hospital1MSP:p-1', { reasonCode: 'unconscious', justification: TEXT })).rejects.toBe(failWith);
        expect(new JustificationStore(file).get(declared[0].consentId)).toBeUndefined();

        failWith = new FabricUnavailableError('the peer did not report the commit in time');
        await expect(service().declare(clinician, 'Hospital1MSP:p-1', { reasonCode: 'unconscious', justification: TEXT })).rejects.toBe(failWith);
        expect(new JustificationStore(file).get(declared[1].consentId)).toMatchObject({ justification: TEXT });
    });
});
