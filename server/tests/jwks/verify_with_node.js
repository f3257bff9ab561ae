// Verifies JWTs against a JSON Web Key Set with Node.js's own crypto (OpenSSL), an
// implementation independent of the server's key code: the test `jwks.rs` runs it.
//
// Input on stdin: {"jwks": {"keys": [...]}, "tokens": ["<jwt>", ...]}.
// Output on stdout: one JSON array, for each token {"kid", "alg", "valid"}: whether the
// key of the set named by the token's `kid` accepts its signature with the key's `alg`.
// A token whose header names no known kid, or another alg than its key's, is invalid.

'use strict';

const crypto = require('node:crypto');

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function verify(jwks, token) {
  const [headerPart, payloadPart, signaturePart] = token.split('.');
  const header = decodePart(headerPart);
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  if (!jwk || jwk.alg !== header.alg || jwk.use !== 'sig') {
    return { kid: header.kid ?? null, alg: header.alg, valid: false };
  }
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
  const signature = Buffer.from(signaturePart, 'base64url');
  let valid;
  switch (jwk.alg) {
    case 'EdDSA':
      valid = crypto.verify(null, data, key, signature);
      break;
    case 'ES256':
      valid = crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      break;
    case 'RS256':
      valid = crypto.verify('sha256', data, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, signature);
      break;
    default:
      valid = false;
  }
  // The payload must be JSON too.
  decodePart(payloadPart);
  return { kid: header.kid, alg: header.alg, valid };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
});
process.stdin.on('end', () => {
  const { jwks, tokens } = JSON.parse(input);
  process.stdout.write(JSON.stringify(tokens.map((token) => verify(jwks, token))));
});
