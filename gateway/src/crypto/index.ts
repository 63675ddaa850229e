export { type BlobHead, type BlobMetadata, type BlobTrailer, DATA_KEY_LENGTH, SEGMENT_SIZE } from './blob-format.js';
export { DecryptStream, decryptStream } from './decrypt-stream.js';
export { EncryptStream, encryptStream } from './encrypt-stream.js';
export { DecryptionError } from './errors.js';
export { type KeyPairPem, type WrapContext, generateEncryptionKeyPair, unwrapKey, wrapKey, wrapKeys } from './key-wrap.js';
export { Keyring } from './keyring.js';
export { newDataKey } from './data-key.js';
