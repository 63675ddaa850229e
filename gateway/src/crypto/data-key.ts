import { randomBytes } from 'node:crypto';
import { DATA_KEY_LENGTH } from './blob-format.js';

/** A fresh key per document: erasing its envelopes then shreds exactly that document. */
export function newDataKey(): Buffer {
    return randomBytes(DATA_KEY_LENGTH);
}
