import express from 'express';
import { SignJWT, generateKeyPair, type CryptoKey } from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { errorHandler } from '../http/error-handler.js';
import { requestId } from '../observability/request-id.js';
import { actorOf, authenticate, requireRole } from './middleware.js';
import { exportSPKI } from 'jose';
import { createTokenVerifier } from './token-verifier.js';

const AUDIENCE = 'ehr-gateway:Hospital1MSP';

describe('authenticate / requireRole', () => {
    let signingKey: CryptoKey;
    let app: express.Express;

    async function token(claims: Record<string, unknown>, options: { key?: CryptoKey; exp?: string | number; alg?: string; iss?: string; aud?: string } = {}) {
        const jwt = new SignJWT(claims)
            .setProtectedHeader({ alg: options.alg ?? 'ES256' })
            .setIssuedAt()
            .setIssuer(options.iss ?? 'hospital1-idp')
            .setAudience(options.aud ?? AUDIENCE);
        if (options.exp !== undefined) jwt.setExpirationTime(options.exp);
        else jwt.setExpirationTime('5m');
        return jwt.sign(options.key ?? signingKey);
    }

    beforeAll(async () => {
        const pair = await generateKeyPair('ES256', { extractable: true });
        signingKey = pair.privateKey;
        const verify = createTokenVerifier({
            publicKey: await exportSPKI(pair.publicKey),
            algorithms: ['ES256'],
            issuer: 'hospital1-idp',
            audience: AUDIENCE,
            maxTokenLifetimeSeconds: 3600,
            clockToleranceSeconds: 5,
        });
        app = express();
        app.use(requestId());
        app.get('/who', authenticate(verify), (_req, res) => {
            res.json(actorOf(res));
        });
        app.get('/clinical', authenticate(verify), requireRole('clinician', 'admin'), (_req, res) => {
            res.json({ ok: true });
        });
        app.use(errorHandler({ logger: pino({ level: 'silent' }), retryAfterSeconds: 1 }));
    });

    it('accepts a valid token and exposes the actor', async () => {
        const res = await request(app).get('/who').set('Authorization', `Bearer ${await token({ sub: 'dr-1', role: 'clinician' })}`);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: 'dr-1', role: 'clinician' });
    });

    it('says how to send a token when there is none', async () => {
        const res = await request(app).get('/who');
        expect(res.body.detail).toMatch(/^missing bearer token: send "Authorization: Bearer <JWT>"/);
    });

    it.each([
        ['no header', undefined],
        ['a non-bearer scheme', 'Basic dXNlcjpwYXNz'],
        ['garbage', 'Bearer not-a-jwt'],
    ])('answers 401 problem+json for %s', async (_name, header) => {
        const req = request(app).get('/who');
        const res = await (header ? req.set('Authorization', header) : req);
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized', type: expect.any(String), detail: expect.any(String), requestId: expect.any(String) });
    });

    it('answers 401 for an expired token', async () => {
        const expired = await token({ sub: 'dr-1', role: 'clinician' }, { exp: Math.floor(Date.now() / 1000) - 3600 });
        const res = await request(app).get('/who').set('Authorization', `Bearer ${expired}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(/^token expired: get a fresh one/);
    });

    it('answers 401 for a token signed by another key', async () => {
        const other = await generateKeyPair('ES256');
        const forged = await token({ sub: 'dr-1', role: 'admin' }, { key: other.privateKey });
        const res = await request(app).get('/who').set('Authorization', `Bearer ${forged}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(/^token signature invalid: not signed by this gateway's identity provider; this gateway accepts tokens of issuer hospital1-idp, audience ehr-gateway:Hospital1MSP/);
    });

    it("answers 401 naming the hospital a token was issued for when it is sent to another hospital's gateway", async () => {
        const other = await generateKeyPair('ES256');
        const elsewhere = await new SignJWT({ sub: 'dr-1', role: 'clinician' })
            .setProtectedHeader({ alg: 'ES256' })
            .setIssuedAt()
            .setIssuer('ehr-dev-idp:test:hospital2')
            .setAudience('ehr-gateway:Hospital2MSP')
            .setExpirationTime('5m')
            .sign(other.privateKey);
        const res = await request(app).get('/who').set('Authorization', `Bearer ${elsewhere}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toContain('issued by ehr-dev-idp:test:hospital2 for ehr-gateway:Hospital2MSP, not for this gateway');
        expect(res.body.detail).toContain('this gateway accepts tokens of issuer hospital1-idp');
        expect(res.body.detail).not.toMatch(/signature invalid/);
    });

    it('never echoes unverified claims that are not short plain strings', async () => {
        const other = await generateKeyPair('ES256');
        const hostile = await new SignJWT({ sub: 'dr-1', role: 'clinician' })
            .setProtectedHeader({ alg: 'ES256' })
            .setIssuer('<script>alert(1)</script>\n' + 'x'.repeat(300))
            .setExpirationTime('5m')
            .sign(other.privateKey);
        const res = await request(app).get('/who').set('Authorization', `Bearer ${hostile}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).not.toContain('script');
    });

    it('answers 401 for a token without exp, with an unknown role, or from another issuer', async () => {
        const noExp = await new SignJWT({ sub: 'dr-1', role: 'clinician' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('hospital1-idp').setAudience(AUDIENCE).sign(signingKey);
        const badRole = await token({ sub: 'dr-1', role: 'superuser' });
        const otherIssuer = await token({ sub: 'dr-1', role: 'clinician' }, { iss: 'elsewhere' });
        for (const jwt of [noExp, badRole, otherIssuer]) {
            const res = await request(app).get('/who').set('Authorization', `Bearer ${jwt}`);
            expect(res.status).toBe(401);
        }
    });

    it.each([
        ['an e-mail address as sub', { sub: 'alice@hospital1.example', role: 'clinician' }],
        ['a sub with spaces', { sub: 'Dr Alice Smith', role: 'clinician' }],
        ["a patient's sub that is not a patientId", { sub: 'pat:1', role: 'patient' }],
    ])('answers 401 for %s, which could not be recorded as the actor', async (_name, claims) => {
        const res = await request(app).get('/who').set('Authorization', `Bearer ${await token(claims)}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(/^token claims invalid: sub /);
    });

    it('answers 401 for a token that lives longer than the maximum, however fresh', async () => {
        const now = Math.floor(Date.now() / 1000);
        const long = await new SignJWT({ sub: 'dr-1', role: 'clinician' })
            .setProtectedHeader({ alg: 'ES256' })
            .setIssuer('hospital1-idp')
            .setAudience(AUDIENCE)
            .setIssuedAt(now)
            .setExpirationTime(now + 3600 + 6)
            .sign(signingKey);
        const res = await request(app).get('/who').set('Authorization', `Bearer ${long}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toBe(
            'token lifetime too long: exp - iat is 3606 s, and this gateway accepts at most 3600 s (auth.maxTokenLifetimeSeconds); get a shorter-lived token from the identity provider',
        );
        // The maximum plus the clock tolerance passes.
        const limit = await new SignJWT({ sub: 'dr-1', role: 'clinician' })
            .setProtectedHeader({ alg: 'ES256' })
            .setIssuer('hospital1-idp')
            .setAudience(AUDIENCE)
            .setIssuedAt(now)
            .setExpirationTime(now + 3600 + 5)
            .sign(signingKey);
        expect((await request(app).get('/who').set('Authorization', `Bearer ${limit}`)).status).toBe(200);
    });

    it('answers 401 naming the claim for a token without iat or exp', async () => {
        const noIat = await new SignJWT({ sub: 'dr-1', role: 'clinician' })
            .setProtectedHeader({ alg: 'ES256' })
            .setIssuer('hospital1-idp')
            .setAudience(AUDIENCE)
            .setExpirationTime('5m')
            .sign(signingKey);
        const res = await request(app).get('/who').set('Authorization', `Bearer ${noIat}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(/^token lacks the iat claim: this gateway needs exp, iat and sub \(its lifetime, exp - iat, may be at most 3600 s\)/);
        const noExp = await new SignJWT({ sub: 'dr-1', role: 'clinician' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('hospital1-idp').setAudience(AUDIENCE).setIssuedAt().sign(signingKey);
        const res2 = await request(app).get('/who').set('Authorization', `Bearer ${noExp}`);
        expect(res2.status).toBe(401);
        expect(res2.body.detail).toMatch(/^token lacks the exp claim/);
    });

    it('answers 401 for a token of the right issuer minted for another audience', async () => {
        const res = await request(app).get('/who').set('Authorization', `Bearer ${await token({ sub: 'dr-1', role: 'clinician' }, { aud: 'ehr-gateway:Hospital2MSP' })}`);
        expect(res.status).toBe(401);
        expect(res.body.detail).toContain('for ehr-gateway:Hospital2MSP, not for this gateway');
    });

    it('names the rule of each refusal for the denial log', async () => {
        const { InvalidTokenError } = await import('./token-verifier.js');
        const verify = createTokenVerifier({
            publicKey: await exportSPKI((await generateKeyPair('ES256', { extractable: true })).publicKey),
            algorithms: ['ES256'],
            issuer: 'hospital1-idp',
            audience: AUDIENCE,
            maxTokenLifetimeSeconds: 3600,
        });
        const rule = (jwt: string) => verify(jwt).then(() => 'accepted', (err: unknown) => (err instanceof InvalidTokenError ? err.rule : 'other'));
        expect(await rule(await token({ sub: 'dr-1', role: 'clinician' }))).toBe('token.signature');
        expect(await rule('eyJhbGciOiJub25lIn0.e30.x')).toBe('token.algorithm');
    });

    it('answers 401 for an unsigned (alg none) token', async () => {
        const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
        const body = Buffer.from(JSON.stringify({ sub: 'x', role: 'admin', exp: 9999999999 })).toString('base64url');
        const res = await request(app).get('/who').set('Authorization', `Bearer ${header}.${body}.x`);
        expect(res.status).toBe(401);
    });

    it('answers 403 for a role not allowed', async () => {
        const res = await request(app).get('/clinical').set('Authorization', `Bearer ${await token({ sub: 'p-1', role: 'patient' })}`);
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ status: 403, title: 'Forbidden', allowedRoles: ['clinician', 'admin'] });
        expect(res.body.detail).toContain('allowed: clinician, admin');
        const ok = await request(app).get('/clinical').set('Authorization', `Bearer ${await token({ sub: 'a-1', role: 'admin' })}`);
        expect(ok.status).toBe(200);
    });
});
