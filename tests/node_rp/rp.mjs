// A department's relying party built on panva's openid-client 6, driven by the Python tests
// (tests/e2e/test_fapi2_openid_client.py). It knows the gateway only by its discovery URL.
//
// Usage: node rp.mjs '<json config>'
//   config: { issuer, client_id, private_jwk, redirect_uri, scenario, forms_api }
// Protocol on stdio, one JSON document per line:
//   -> {"authorize": "<url>"}        the test plays the resident's browser with it...
//   <- "<callback url>"               ...and answers with where the browser was sent;
//   -> {"result": {...}}              what happened, for the test to assert on.
// Scenarios: "fapi2" (PAR + DPoP + private_key_jwt), "fapi2-jar" (the same with a signed
// request object pushed), "plain-refused" (a plain request from a PAR-only client),
// "unsigned-jar" (an alg=none request object pushed), "secret-defaults" (a client with a
// secret and every default of the library: RFC 8414 discovery, client_secret_post, the code
// flow, a refresh and its ID token, the end-session URL; config: client_secret).

import * as readline from 'node:readline';
import * as client from 'openid-client';

const config = JSON.parse(process.argv[2]);
const lines = readline.createInterface({ input: process.stdin });
const pending = [];
lines.on('line', (line) => pending.shift()?.(line));
const nextLine = () => new Promise((resolve) => pending.push(resolve));
const emit = (message) => process.stdout.write(JSON.stringify(message) + '\n');

// Every request the library makes, as it made it, so a proof can be replayed by hand.
const seen = [];
let step = 'discovery';
const recordingFetch = async (url, options) => {
  seen.push({ url: String(url), method: options.method, headers: Object.fromEntries(new Headers(options.headers)) });
  return fetch(url, options);
};

async function importPrivate(jwk) {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  return { key: await crypto.subtle.importKey('jwk', jwk, algorithm, false, ['sign']), kid: jwk.kid };
}

async function refusal(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text.slice(0, 400);
  }
  return { status: response.status, www_authenticate: response.headers.get('www-authenticate'), body };
}

function describe(error) {
  return {
    name: error?.name,
    code: error?.code,
    error: error?.error,
    error_description: error?.error_description,
    message: String(error?.message ?? error),
  };
}

// Issue 15's friction list with openid-client's defaults: nothing configured beyond the
// issuer, the client id and its secret.
async function secretDefaults() {
  const oauth2 = await client.discovery(new URL(config.issuer), config.client_id, config.client_secret, undefined, {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
    [client.customFetch]: recordingFetch,
  });
  const rp = await client.discovery(new URL(config.issuer), config.client_id, config.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: recordingFetch,
  });
  const verifier = client.randomPKCECodeVerifier();
  const parameters = {
    redirect_uri: config.redirect_uri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  emit({ authorize: client.buildAuthorizationUrl(rp, parameters).href });
  const callback = await nextLine();
  step = 'code exchange';
  const tokens = await client.authorizationCodeGrant(rp, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: parameters.state,
    expectedNonce: parameters.nonce,
    idTokenExpected: true,
  });
  const tokenRequest = seen.filter((r) => r.url === rp.serverMetadata().token_endpoint).at(-1);
  step = 'refresh';
  const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token);
  step = 'client credentials';
  const department = await client.clientCredentialsGrant(rp, { scope: 'ledger:department' });
  return {
    oauth2_metadata: { url: seen[0].url, issuer: oauth2.serverMetadata().issuer },
    token_request_authorization: tokenRequest?.headers?.authorization ?? null,
    id_token_claims: tokens.claims(),
    refreshed_id_token_claims: refreshed.claims() ?? null,
    end_session: client.buildEndSessionUrl(rp, {
      id_token_hint: refreshed.id_token,
      post_logout_redirect_uri: config.post_logout_redirect_uri,
    }).href,
    department_token_type: department.token_type,
  };
}

async function main() {
  if (config.scenario === 'secret-defaults') {
    return secretDefaults();
  }
  const signingKey = await importPrivate(config.private_jwk);
  const rp = await client.discovery(
    new URL(config.issuer),
    config.client_id,
    { id_token_signed_response_alg: 'ES256', redirect_uris: [config.redirect_uri] },
    client.PrivateKeyJwt(signingKey),
    { execute: [client.allowInsecureRequests], [client.customFetch]: recordingFetch },
  );
  const metadata = rp.serverMetadata();
  const verifier = client.randomPKCECodeVerifier();
  const parameters = {
    redirect_uri: config.redirect_uri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: client.randomState(),
    nonce: client.randomNonce(),
  };

  if (config.scenario === 'plain-refused') {
    const url = client.buildAuthorizationUrl(rp, parameters);
    const response = await fetch(url, { redirect: 'manual' });
    return { discovered_par_endpoint: metadata.pushed_authorization_request_endpoint, plain: await refusal(response) };
  }

  if (config.scenario === 'unsigned-jar') {
    const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...parameters, response_type: 'code', client_id: config.client_id, iss: config.client_id, aud: config.issuer, exp: now + 60 };
    const unsigned = `${b64({ alg: 'none', typ: 'oauth-authz-req+jwt' })}.${b64(claims)}.`;
    try {
      await client.buildAuthorizationUrlWithPAR(rp, { client_id: config.client_id, request: unsigned });
      return { pushed: 'accepted' };
    } catch (error) {
      return { pushed: describe(error) };
    }
  }

  const dpopKeys = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(rp, dpopKeys);
  let pushedParameters = parameters;
  if (config.scenario === 'fapi2-jar') {
    const jar = await client.buildAuthorizationUrlWithJAR(rp, parameters, signingKey);
    pushedParameters = jar.searchParams;
  }
  step = 'PAR';
  const authorizationUrl = await client.buildAuthorizationUrlWithPAR(rp, pushedParameters, { DPoP });
  emit({ authorize: authorizationUrl.href });
  const callback = await nextLine();

  step = 'code exchange';
  const tokens = await client.authorizationCodeGrant(
    rp,
    new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: parameters.state, expectedNonce: parameters.nonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  const claims = tokens.claims();
  step = 'userinfo';
  const userinfo = await client.fetchUserInfo(rp, tokens.access_token, claims.sub, { DPoP });
  const userinfoRequest = seen.filter((r) => r.url === metadata.userinfo_endpoint).at(-1);

  // The same token as a plain bearer token: refused (RFC 9449 §7.2).
  const asBearer = await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  // The userinfo request replayed exactly as openid-client sent it: its proof was used up.
  const replayed = await fetch(metadata.userinfo_endpoint, { headers: userinfoRequest.headers });

  step = 'refresh';
  const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token, undefined, { DPoP });
  const refreshedClaims = refreshed.claims();
  const userinfoAfterRefresh = await client.fetchUserInfo(rp, refreshed.access_token, claims.sub, { DPoP });

  // A department back-end token for the forms hub's API, DPoP-bound too.
  step = 'client credentials';
  const department = await client.clientCredentialsGrant(rp, { scope: 'forms:department' }, { DPoP });
  const queueUrl = new URL(config.forms_api);
  step = 'forms hub';
  const queue = await client.fetchProtectedResource(rp, department.access_token, queueUrl, 'GET', undefined, undefined, { DPoP });
  const queueAsBearer = await fetch(queueUrl, { headers: { authorization: `Bearer ${department.access_token}` } });

  return {
    discovery: {
      par: metadata.pushed_authorization_request_endpoint,
      dpop_algs: metadata.dpop_signing_alg_values_supported,
      request_parameter_supported: metadata.request_parameter_supported,
    },
    request_uri: authorizationUrl.searchParams.get('request_uri'),
    authorize_query_keys: [...authorizationUrl.searchParams.keys()].sort(),
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    id_token_claims: { sub: claims.sub, aud: claims.aud, nonce_ok: claims.nonce === parameters.nonce },
    userinfo,
    userinfo_proof_sent: Boolean(userinfoRequest?.headers?.dpop),
    userinfo_scheme: (userinfoRequest?.headers?.authorization ?? '').split(' ')[0],
    as_bearer: await refusal(asBearer),
    replayed_proof: await refusal(replayed),
    refreshed: { token_type: refreshed.token_type, rotated: refreshed.refresh_token !== tokens.refresh_token },
    refreshed_id_token: refreshedClaims
      ? { sub: refreshedClaims.sub, aud: refreshedClaims.aud, auth_time: refreshedClaims.auth_time, nonce: refreshedClaims.nonce ?? null }
      : null,
    id_token_auth_time: claims.auth_time,
    userinfo_after_refresh: userinfoAfterRefresh,
    department: { token_type: department.token_type, access_token: department.access_token },
    forms_queue: { status: queue.status, body: await queue.json() },
    forms_queue_as_bearer: await refusal(queueAsBearer),
  };
}

main().then(
  (result) => {
    emit({ result });
    process.exit(0);
  },
  (error) => {
    emit({ step, failure: describe(error), requests: seen.map((r) => `${r.method} ${r.url}`), cause: error?.cause ? describe(error.cause) : undefined });
    process.exit(1);
  },
);
