import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { DecryptionError } from './errors.js';
import { type WrapContext, unwrapKey } from './key-wrap.js';

/**
 * A hospital's encryption private keys, parsed once: the current key, then the
 * earlier ones it keeps after each rotation, newest first. Envelopes wrapped
 * to any of them open; a wrong key fails authentication (the KEK binds the
 * recipient's public key), so the next one is tried.
 */
export class Keyring {
    readonly #keys: readonly KeyObject[];

    /** PKCS#8 PEMs: the current key first. */
    constructor(currentPem: string, previousPems: readonly string[] = []) {
        this.#keys = [currentPem, ...previousPems].map((pem) => createPrivateKey(pem));
    }

    /** SPKI PEMs of the earlier keys: the keys the ledger may still name for this hospital. */
    previousPublicKeys(): string[] {
        return this.#keys.slice(1).map((k) => createPublicKey(k).export({ type: 'spki', format: 'pem' }).toString());
    }

    unwrap(envelope: string, context: WrapContext): Buffer {
        let last: unknown;
        for (const key of this.#keys) {
            try {
                return unwrapKey(envelope, key, context);
            } catch (err) {
                if (!(err instanceof DecryptionError)) throw err;
                last = err;
            }
        }
        throw last;
    }
}
