export { actorOf, authenticate, requireRole } from './middleware.js';
export { InvalidTokenError, type TokenVerifier, type TokenVerifierOptions, createTokenVerifier } from './token-verifier.js';
