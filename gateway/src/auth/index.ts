export { actorOf, authenticate, maybeActorOf, requireRole } from './middleware.js';
export { InvalidTokenError, type TokenVerifier, type TokenVerifierOptions, createTokenVerifier } from './token-verifier.js';
export { RATE_CLASSES, type RateClass, type RateLimit, type RateLimits, actorKey, createRateLimiters } from './rate-limit.js';
