// Hospital encryption keys: P-256 SPKI only, stored as normalised PEM so every
// endorser writes identical bytes whatever encoding the caller used.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { invalid } from './errors';

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\r?\n?$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function p256PublicKey(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) {
    throw invalid('publicKey must be a P-256 SPKI public key (PEM or base64 DER)');
  }
  let key: KeyObject;
  try {
    if (PEM.test(v)) key = createPublicKey({ key: v, format: 'pem' });
    else if (BASE64.test(v)) key = createPublicKey({ key: Buffer.from(v, 'base64'), format: 'der', type: 'spki' });
    else throw new Error('not PEM or base64');
  } catch {
    throw invalid('publicKey must be a P-256 SPKI public key (PEM or base64 DER)');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw invalid('publicKey must be on curve P-256');
  }
  return key.export({ format: 'pem', type: 'spki' }).toString();
}
