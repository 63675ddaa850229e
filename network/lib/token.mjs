// Mints a dev ES256 JWT for a hospital gateway. Node's crypto only, so the
// admin scripts work before `npm install`.
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    key: { type: 'string' },
    sub: { type: 'string' },
    role: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
  },
});
const roles = ['clinician', 'patient', 'auditor', 'admin'];
const fail = (msg) => {
  process.stderr.write(`token: ${msg}\n`);
  process.exit(2);
};
if (!values.key || !values.sub || !values.role) fail('--key, --sub and --role are required');
if (!roles.includes(values.role)) fail(`role must be one of ${roles.join(', ')}`);
// The gateways refuse a sub the ledger cannot record as the actor; these
// mirror ACTOR_ID and PATIENT_ID in ledger-model/src/formats.ts (this script
// runs before npm install, so it cannot import them).
if (!/^[A-Za-z0-9._:|-]{1,128}$/.test(values.sub)) fail('sub must be a pseudonym: 1-128 characters of A-Z a-z 0-9 . _ : | -');
if (values.role === 'patient' && !/^[A-Za-z0-9._-]{3,64}$/.test(values.sub)) {
  fail("a patient's sub is their patientId: 3-64 characters of A-Z a-z 0-9 . _ -");
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0 || ttl > 86400 * 30) fail('--ttl must be 1..2592000 seconds');

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const header = { alg: 'ES256', typ: 'JWT' };
const payload = {
  sub: values.sub,
  role: values.role,
  iat: now,
  exp: now + ttl,
  jti: randomUUID(),
  ...(values.issuer ? { iss: values.issuer } : {}),
  ...(values.audience ? { aud: values.audience } : {}),
};
const input = `${b64(header)}.${b64(payload)}`;
const key = createPrivateKey(readFileSync(values.key));
const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
process.stdout.write(`${input}.${signature.toString('base64url')}\n`);
