// Mints a dev ES256 JWT for a hospital gateway with Node's crypto only (no
// npm dependencies). The claims are checked against the ledger model the
// gateways check them against, from its build (npm run build makes it).
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    key: { type: 'string' },
    sub: { type: 'string' },
    role: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    // The gateways' auth.maxTokenLifetimeSeconds (default 3600): they refuse a token living longer.
    'max-ttl': { type: 'string', default: process.env.EHR_MAX_TOKEN_LIFETIME_SECONDS || '3600' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
  },
});
const fail = (msg) => {
  process.stderr.write(`token: ${msg}\n`);
  process.exit(2);
};
let model;
try {
  model = createRequire(import.meta.url)('../../ledger-model/dist/index.js');
} catch {
  fail('the ledger model is not built; run: npm run build');
}
const { ACTOR_ID, ACTOR_ROLES: roles, PATIENT_ID } = model;
if (!values.key || !values.sub || !values.role) fail('--key, --sub and --role are required');
if (!roles.includes(values.role)) fail(`role must be one of ${roles.join(', ')}`);
// The gateways refuse a sub the ledger cannot record as the actor.
if (!ACTOR_ID.pattern.test(values.sub)) fail(`sub must be a pseudonym: ${ACTOR_ID.description}`);
if (values.role === 'patient' && !PATIENT_ID.pattern.test(values.sub)) fail(`a patient's sub is their patientId: ${PATIENT_ID.description}`);
const maxTtl = Number(values['max-ttl']);
if (!Number.isInteger(maxTtl) || maxTtl <= 0 || maxTtl > 86400) fail('--max-ttl must be 1..86400 seconds');
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl must be a positive number of seconds');
if (ttl > maxTtl) {
  fail(
    `--ttl ${ttl} is longer than the gateways accept: tokens live at most ${maxTtl} s (the gateway setting auth.maxTokenLifetimeSeconds); ` +
      `mint one of at most ${maxTtl} s and get a fresh one when it expires`,
  );
}

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
