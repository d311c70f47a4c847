// A test wallet for govchain's SD-JWT VCs, built from the libraries real wallets use (Credo /
// the OpenWallet Foundation stack): @openid4vc/openid4vci, @openid4vc/openid4vp and
// @openid4vc/oauth2 0.4.6 for the protocols, @sd-jwt/sd-jwt-vc, @sd-jwt/jwt-status-list and
// @sd-jwt/crypto-nodejs 0.19.0 for the credential. Keys are P-256, signatures ES256, both from
// Node's WebCrypto. Used by tests/support/wallet.py.
//
//   node wallet.mjs receive|verify|present|status   (JSON request on stdin, one JSON on stdout)
//
// receive  {offer: "openid-credential-offer://?credential_offer=...", txCode?: "123456",
//           credentialConfigurationId?, holderPrivateJwk?}
//   -> {credential, credentialConfigurationId, holderPrivateJwk, holderPublicJwk, issuerMetadata:
//       {credentialIssuer, authorizationServers, originalDraftVersion}, accessTokenResponse,
//       nonce, proofJwt, credentialResponse, log}
//   or {error: {stage: "token"|"nonce"|"credential"|..., status, body}, log} when the server
//   answered an HTTP error (e.g. invalid_grant for a wrong PIN).
// verify   {credential, baseUrl, checkStatus?: true, typeMetadata?: true, skewSeconds?: 0,
//           keyBinding?: {nonce, aud}}
//   -> {verified, claims, header, status: 0|1|2|...|null, statusList, vctMetadata, kb, errors, log}
// present  {request: "openid4vp://?...", credential, holderPrivateJwk, claims?: [[path...]...],
//           send?: true}
//   -> {submitted: true, status, ok, response, presentation, vpToken, disclosedPaths,
//       disclosedKeys, clientId, responseUri, version, log}
//   with send=false: {submitted: false, presentation, vpToken, body (the form-encoded POST body),
//       fields ({vp_token, state}), responseUri, ...} so a test can post or replay it itself.
// status   {credential, baseUrl, skewSeconds?} -> {status, idx, uri, statusList, errors, log}
//
// Exit 0 whenever the wallet ran (refusals and failed verifications are results), 2 on a bad
// request, 1 when a library rejected what the server sent (message on stderr).
//
// Library behaviour this script relies on or works around (read in node_modules, 0.4.6 / 0.19.0):
// - @openid4vc/* accept only https:// URLs (zHttpsUrl) unless setGlobalConfig({allowInsecureUrls:
//   true}); it is switched on here, and the fetch below refuses http:// except to loopback hosts.
// - resolveCredentialOffer decodes the credential_offer parameter twice (URLSearchParams, then
//   decodeURIComponent): a '%' in the offer JSON makes it fail.
// - The token request is form-encoded: grant_type, pre-authorized_code, tx_code, resource (=
//   credential_issuer) and user_pin (a copy of tx_code, for draft-11 issuers); no client
//   authentication (clientAuthenticationAnonymous; the AS should advertise
//   pre-authorized_grant_anonymous_access_supported).
// - The credential request is {credential_configuration_id, proofs: {jwt: [jwt]}} when the
//   issuer metadata reads as OpenID4VCI 1.0 (some configuration has credential_metadata) or
//   draft 15 (a dc+sd-jwt configuration); older metadata would make it send format + vct.
// - @sd-jwt/sd-jwt-vc 0.19.0 does not check the JWT typ, iss, vct or cnf, and has no issuer key
//   discovery: its verifier callback gets only (signingInput, signature), so the key is looked
//   up here (JWT VC Issuer Metadata at <origin>/.well-known/jwt-vc-issuer<iss path>, key by kid).
//   Its iat/nbf/exp checks use skewSeconds, 0 by default: an iat a second ahead fails.
// - @sd-jwt/jwt-status-list 0.19.0 checks neither typ nor sub of the status list token; both are
//   checked here. The library's fetcher demands Content-Type application/statuslist+jwt.
import {createHash, randomBytes, webcrypto} from 'node:crypto';
import {Openid4vciClient, Openid4vciRetrieveCredentialsError, setGlobalConfig} from '@openid4vc/openid4vci';
import {Openid4vpClient} from '@openid4vc/openid4vp';
import {clientAuthenticationAnonymous, InvalidFetchResponseError, Oauth2ClientErrorResponseError}
  from '@openid4vc/oauth2';
import {SDJwtVcInstance} from '@sd-jwt/sd-jwt-vc';
import {getListFromStatusListJWT} from '@sd-jwt/jwt-status-list';
import {ES256, digest} from '@sd-jwt/crypto-nodejs';

const {subtle} = webcrypto;
const log = [];

setGlobalConfig({allowInsecureUrls: true});

class BadRequest extends Error {}

// ---------------------------------------------------------------- helpers

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function assertAllowedUrl(url) {
  const u = new URL(url);
  if(u.protocol === 'https:') return;
  if(u.protocol === 'http:' && (LOOPBACK.has(u.hostname) || u.hostname.startsWith('127.'))) return;
  throw new Error(`wallet refuses ${url}: only https:// or http:// on a loopback address`);
}

const realFetch = globalThis.fetch;
// Every request of the libraries goes through this (passed as their fetch callback; the sd-jwt
// libraries use the global fetch, replaced below): loopback/https only, logged, 15 s timeout.
async function walletFetch(input, init = {}) {
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  assertAllowedUrl(url);
  const method = (init.method ?? 'GET').toUpperCase();
  const response = await realFetch(input, {signal: AbortSignal.timeout(15000), ...init});
  const type = response.headers.get('content-type');
  log.push(`${method} ${url} -> ${response.status}${type ? ` (${type})` : ''}`);
  return response;
}
globalThis.fetch = walletFetch;

const b64uJson = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
function decodeCompactJwt(jwt) {
  const [h, p, s] = String(jwt).split('.');
  if(s === undefined) throw new Error('not a compact JWT');
  return {header: b64uJson(h), payload: b64uJson(p), signature: s};
}
const publicPart = ({kty, crv, x, y}) => ({kty, crv, x, y});
const sha = (alg) => {
  const name = {'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512'}[alg];
  if(!name) throw new Error(`unsupported hash ${alg}`);
  return name;
};
const hashCallback = (data, alg) => new Uint8Array(createHash(sha(alg)).update(data).digest());
const generateRandom = (n) => new Uint8Array(randomBytes(n));

async function newHolderKey() {
  const pair = await subtle.generateKey({name: 'ECDSA', namedCurve: 'P-256'}, true,
    ['sign', 'verify']);
  const {kty, crv, x, y, d} = await subtle.exportKey('jwk', pair.privateKey);
  return {kty, crv, x, y, d};
}

async function signCompact(privateJwk, header, payload) {
  const key = await subtle.importKey('jwk', {...privateJwk, key_ops: undefined, ext: undefined},
    {name: 'ECDSA', namedCurve: 'P-256'}, false, ['sign']);
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.` +
    Buffer.from(JSON.stringify(payload)).toString('base64url');
  const sig = await subtle.sign({name: 'ECDSA', hash: 'SHA-256'}, key, Buffer.from(input));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

async function readResponseBody(response) {
  const text = await response.clone().text();
  try { return JSON.parse(text); } catch { return text; }
}

function messages(error, seen = new Set()) {
  if(!error || seen.has(error)) return [];
  seen.add(error);
  return [String(error.message ?? error), ...messages(error.cause, seen)];
}

// ---------------------------------------------------------------- receive (OpenID4VCI)

async function receive(request) {
  if(typeof request.offer !== 'string') throw new BadRequest('needs "offer" (a credential offer URI)');
  const holderPrivateJwk = request.holderPrivateJwk ?? await newHolderKey();
  const holderPublicJwk = publicPart(holderPrivateJwk);

  const client = new Openid4vciClient({callbacks: {
    fetch: walletFetch,
    hash: hashCallback,
    generateRandom,
    clientAuthentication: clientAuthenticationAnonymous(),
    signJwt: async (signer, {header, payload}) => {
      if(signer.method !== 'jwk' || signer.alg !== 'ES256') {
        throw new Error(`wallet signs only ES256 with method jwk, not ${signer.method}/${signer.alg}`);
      }
      return {jwt: await signCompact(holderPrivateJwk, header, payload), signerJwk: signer.publicJwk};
    }
  }});

  let stage = 'offer';
  try {
    const credentialOffer = await client.resolveCredentialOffer(request.offer);
    stage = 'metadata';
    const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
    const as = issuerMetadata.authorizationServers[0];
    if(as && as['pre-authorized_grant_anonymous_access_supported'] !== true) {
      log.push('note: authorization server metadata lacks ' +
        '"pre-authorized_grant_anonymous_access_supported": true; token request sent anonymously anyway');
    }
    const credentialConfigurationId = request.credentialConfigurationId ??
      credentialOffer.credential_configuration_ids[0];
    if(!credentialOffer.credential_configuration_ids.includes(credentialConfigurationId)) {
      throw new BadRequest(`offer has no credential configuration ${credentialConfigurationId}`);
    }

    stage = 'token';
    const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer, issuerMetadata, txCode: request.txCode ?? undefined
    });

    stage = 'nonce';
    let nonce;
    if(issuerMetadata.credentialIssuer.nonce_endpoint) {
      ({c_nonce: nonce} = await client.requestNonce({issuerMetadata}));
    } else {
      nonce = accessTokenResponse.c_nonce;
      log.push('note: issuer has no nonce_endpoint; using c_nonce of the token response');
    }

    stage = 'proof';
    const {jwt: proofJwt} = await client.createCredentialRequestJwtProof({
      issuerMetadata, credentialConfigurationId, nonce, issuedAt: new Date(),
      signer: {method: 'jwk', alg: 'ES256', publicJwk: holderPublicJwk}
    });

    stage = 'credential';
    const {credentialResponse} = await client.retrieveCredentials({
      issuerMetadata, credentialConfigurationId, accessToken: accessTokenResponse.access_token,
      proofs: {jwt: [proofJwt]}
    });
    const first = credentialResponse.credentials?.[0] ?? credentialResponse.credential;
    const credential = typeof first === 'object' && first !== null && 'credential' in first ?
      first.credential : first;
    if(typeof credential !== 'string') {
      throw new Error(`credential response holds no SD-JWT string: ${JSON.stringify(credentialResponse)}`);
    }
    return {
      credential, credentialConfigurationId, holderPrivateJwk, holderPublicJwk,
      issuerMetadata: {
        credentialIssuer: issuerMetadata.credentialIssuer,
        authorizationServers: issuerMetadata.authorizationServers,
        originalDraftVersion: issuerMetadata.originalDraftVersion
      },
      accessTokenResponse, nonce, proofJwt, credentialResponse, log
    };
  } catch(error) {
    const httpError = await httpErrorOf(error);
    if(httpError) return {error: {stage, ...httpError, message: error.message}, log};
    throw error;
  }
}

// An HTTP error answered by the server, as {status, body}; undefined for client-side failures.
async function httpErrorOf(error) {
  if(error instanceof Oauth2ClientErrorResponseError) {
    return {status: error.response.status, body: await readResponseBody(error.response)};
  }
  if(error instanceof Openid4vciRetrieveCredentialsError) {
    const response = error.response?.response;
    if(response && !response.ok) return {status: response.status, body: await readResponseBody(response)};
    return undefined; // a 2xx the library could not parse: a client-side rejection
  }
  if(error instanceof InvalidFetchResponseError && error.response && !error.response.ok) {
    return {status: error.response.status, body: await readResponseBody(error.response)};
  }
  return undefined;
}

// ---------------------------------------------------------------- issuer keys, status, verify

// JWT VC Issuer Metadata (SD-JWT VC): <origin>/.well-known/jwt-vc-issuer<path of iss>, with
// {issuer: iss, jwks | jwks_uri}. Only issuers under baseUrl are resolved.
function makeKeyResolver(baseUrl) {
  const prefix = baseUrl.replace(/\/+$/, '');
  const cache = new Map();
  async function getJson(url) {
    const res = await walletFetch(url, {headers: {Accept: 'application/json'}});
    if(!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return res.json();
  }
  async function issuerJwks(iss) {
    if(typeof iss !== 'string' || !(iss === prefix || iss.startsWith(`${prefix}/`))) {
      throw new Error(`issuer ${JSON.stringify(iss)} is not under ${prefix}`);
    }
    if(!cache.has(iss)) {
      cache.set(iss, (async () => {
        const u = new URL(iss);
        const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
        const url = `${u.origin}/.well-known/jwt-vc-issuer${path}`;
        const metadata = await getJson(url);
        if(metadata.issuer !== iss) {
          throw new Error(`JWT VC issuer metadata at ${url} has issuer ${JSON.stringify(metadata.issuer)}, not ${iss}`);
        }
        if(metadata.jwks && metadata.jwks_uri) throw new Error(`${url} has both jwks and jwks_uri`);
        const jwks = metadata.jwks ?? (metadata.jwks_uri ? await getJson(metadata.jwks_uri) : undefined);
        if(!Array.isArray(jwks?.keys)) throw new Error(`${url} has no jwks (or jwks_uri) with keys`);
        return jwks;
      })());
    }
    return cache.get(iss);
  }
  async function key(iss, kid) {
    const {keys} = await issuerJwks(iss);
    const candidates = kid === undefined ? keys : keys.filter(k => k.kid === kid);
    if(candidates.length !== 1) {
      throw new Error(kid === undefined ?
        `JWT has no kid and issuer ${iss} has ${keys.length} keys` :
        `issuer ${iss} has ${candidates.length} keys with kid ${JSON.stringify(kid)}`);
    }
    return candidates[0];
  }
  return {key, issuerJwks};
}

// A @sd-jwt verifier (signingInput, signature) => boolean for JWTs of `iss`: the key is chosen by
// the kid in the header that is part of the signing input.
function issuerVerifier(keys, iss, used) {
  return async (signingInput, signature) => {
    const header = b64uJson(signingInput.split('.')[0]);
    if(header.alg !== 'ES256') throw new Error(`alg ${header.alg} is not ES256`);
    const jwk = await keys.key(iss, header.kid);
    used?.push({kid: header.kid, typ: header.typ});
    return (await ES256.getVerifier(publicPart(jwk)))(signingInput, signature);
  };
}

function newInstance(extra = {}) {
  return new WalletSdJwtVc({hasher: digest, hashAlg: 'sha-256', ...extra});
}

// SDJwtVcInstance whose status step (the library's verifyStatus: statusListFetcher, Jwt.verify of
// the token with statusVerifier incl. iat/nbf/exp, getListFromStatusListJWT, statusValidator)
// records its failure instead of aborting verify(), so signature, key binding and status are
// reported separately.
class WalletSdJwtVc extends SDJwtVcInstance {
  async verifyStatus(result, options) {
    const state = this.userConfig.statusState;
    if(!state) return super.verifyStatus(result, options);
    if(!state.check) return;
    try {
      await super.verifyStatus(result, options);
    } catch(error) {
      state.errors.push(...messages(error));
    }
  }
}

// Config for reading the status of a credential of `iss` with the library's code path, plus the
// state it fills: {check, token, status, errors}. The fetcher is the library's own (Accept and
// Content-Type application/statuslist+jwt, 10 s timeout), limited to allowed URLs; the status
// list token is verified with the issuer's key (by kid); the validator records the status.
function statusTools(keys, iss, check = true) {
  const state = {check, token: null, status: null, errors: []};
  const config = {
    statusState: state,
    statusListFetcher: async (uri) => {
      assertAllowedUrl(uri);
      state.token = await SDJwtVcInstance.prototype.statusListFetcher.call(null, uri);
      return state.token;
    },
    statusVerifier: issuerVerifier(keys, iss),
    statusValidator: async (value) => { state.status = value; }
  };
  return {state, config};
}

// The checks @sd-jwt/jwt-status-list leaves out (typ, sub, iat), and the summary.
function statusSummary(payload, state) {
  const ref = payload.status?.status_list;
  const out = {status: state.status, idx: ref?.idx ?? null, uri: ref?.uri ?? null,
    statusList: null, errors: [...state.errors]};
  if(!ref) {
    out.errors.push('credential has no status.status_list');
    return out;
  }
  if(state.token) {
    try {
      const {header, payload: sl} = decodeCompactJwt(state.token);
      out.statusList = {header, payload: {...sl, status_list: {...sl.status_list,
        lst: `${String(sl.status_list?.lst).slice(0, 40)}...`}}};
      if(header.typ !== 'statuslist+jwt') out.errors.push(`status list token typ is ${header.typ}, not statuslist+jwt`);
      if(sl.sub !== ref.uri) out.errors.push(`status list token sub ${sl.sub} is not its uri ${ref.uri}`);
      if(!sl.iat) out.errors.push('status list token has no iat');
      if(out.status === null) { // its signature or times failed: still tell what the list says
        try { out.status = getListFromStatusListJWT(state.token).getStatus(ref.idx); } catch {}
      }
    } catch(error) {
      out.errors.push(`status list token: ${error.message}`);
    }
  }
  if(out.status !== null && out.status !== 0) {
    out.errors.push(`status of index ${out.idx} in ${out.uri} is ${out.status}`);
  }
  return out;
}

async function verify(request) {
  const {credential, baseUrl, checkStatus = true, typeMetadata = true, skewSeconds = 0,
    keyBinding} = request;
  if(typeof credential !== 'string' || typeof baseUrl !== 'string') {
    throw new BadRequest('needs "credential" (SD-JWT string) and "baseUrl"');
  }
  const errors = [];
  const {header, payload} = decodeCompactJwt(credential.split('~')[0]);
  if(header.typ !== 'dc+sd-jwt') errors.push(`JWT typ is ${header.typ}, not dc+sd-jwt`);
  if(header.alg !== 'ES256') errors.push(`JWT alg is ${header.alg}, not ES256`);
  for(const claim of ['iss', 'vct', 'cnf']) {
    if(payload[claim] === undefined) errors.push(`issuer JWT has no ${claim}`);
  }
  if(payload._sd_alg !== undefined && payload._sd_alg !== 'sha-256') {
    errors.push(`_sd_alg is ${payload._sd_alg}`);
  }
  const keys = makeKeyResolver(baseUrl);
  const used = [];
  const {state, config} = statusTools(keys, payload.iss, checkStatus);
  const instance = newInstance({
    ...config,
    verifier: issuerVerifier(keys, payload.iss, used),
    kbVerifier: async (signingInput, signature, claims) => {
      const jwk = claims?.cnf?.jwk;
      if(!jwk) throw new Error('credential has no cnf.jwk to check the key binding JWT with');
      return (await ES256.getVerifier(publicPart(jwk)))(signingInput, signature);
    }
  });
  let result;
  try {
    // SDJwtInstance.verify: issuer signature (verifier), iat/nbf/exp (skewSeconds), disclosure
    // digests; with keyBindingNonce the KB-JWT (typ kb+jwt, iat, aud, nonce, sd_hash, signed by
    // cnf.jwk, nonce equal). Then SDJwtVcInstance's status step (see WalletSdJwtVc).
    result = await instance.verify(credential,
      {skewSeconds, ...(keyBinding ? {keyBindingNonce: keyBinding.nonce} : {})});
  } catch(error) {
    errors.push(...messages(error));
  }
  let kb = null;
  if(result?.kb) {
    kb = {header: result.kb.header, payload: result.kb.payload};
    if(keyBinding?.aud !== undefined && kb.payload.aud !== keyBinding.aud) {
      errors.push(`KB-JWT aud is ${kb.payload.aud}, not ${keyBinding.aud}`);
    }
  }
  let statusResult = null;
  if(checkStatus) {
    statusResult = statusSummary(payload, state);
    errors.push(...statusResult.errors);
  }
  let vctMetadata = null;
  if(typeMetadata && payload.vct) {
    try {
      const fetcher = newInstance({
        vctFetcher: async (uri, integrity) => {
          assertAllowedUrl(uri);
          return SDJwtVcInstance.prototype.fetchWithIntegrity.call(fetcher, uri, integrity);
        }
      });
      vctMetadata = await fetcher.getVct(credential);
      const vct = vctMetadata?.mergedTypeMetadata?.vct;
      if(vct !== payload.vct) errors.push(`type metadata at ${payload.vct} has vct ${vct}`);
    } catch(error) {
      errors.push(`type metadata: ${messages(error).join(': ')}`);
    }
  }
  let claims = result?.payload ?? null;
  if(!claims) {
    try { claims = await newInstance().getClaims(credential); } catch {}
  }
  return {
    verified: errors.length === 0 && result !== undefined,
    claims, header, status: statusResult?.status ?? null, statusList: statusResult,
    vctMetadata, kb, keysUsed: used, errors: [...new Set(errors)], log
  };
}

async function status(request) {
  const {credential, baseUrl, skewSeconds = 0} = request;
  if(typeof credential !== 'string' || typeof baseUrl !== 'string') {
    throw new BadRequest('needs "credential" (SD-JWT string) and "baseUrl"');
  }
  const {payload} = decodeCompactJwt(credential.split('~')[0]);
  const {state, config} = statusTools(makeKeyResolver(baseUrl), payload.iss);
  if(payload.status?.status_list) {
    await newInstance(config).verifyStatus({payload}, {skewSeconds});
  }
  return {...statusSummary(payload, state), log};
}

// ---------------------------------------------------------------- present (OpenID4VP + DCQL)

// Resolves a DCQL claims path pointer (OpenID4VP 1.0 section 7: string = object key, null = every
// array element, non-negative integer = array index) against `claims`; returns the concrete paths
// or [] when the claim is absent. With `values`, only paths whose value is one of them.
function resolveClaimPath(claims, path, values) {
  let current = [[[], claims]];
  for(const component of path) {
    const next = [];
    for(const [at, value] of current) {
      if(typeof component === 'string') {
        if(value && typeof value === 'object' && !Array.isArray(value) && component in value) {
          next.push([[...at, component], value[component]]);
        }
      } else if(component === null) {
        if(Array.isArray(value)) value.forEach((v, i) => next.push([[...at, i], v]));
      } else if(Number.isInteger(component) && component >= 0) {
        if(Array.isArray(value) && component < value.length) next.push([[...at, component], value[component]]);
      } else {
        throw new Error(`bad claims path component ${JSON.stringify(component)}`);
      }
    }
    current = next;
  }
  if(values) current = current.filter(([, v]) => values.some(x => x === v));
  return current.map(([at]) => at);
}

// The claims to disclose for one DCQL credential query: all `claims` or, with `claim_sets`,
// the first set that the credential satisfies. Returns the concrete paths, or throws.
function selectClaims(query, claims) {
  const queries = query.claims ?? [];
  const resolved = new Map(queries.map((q, i) => [q.id ?? `#${i}`,
    {query: q, paths: resolveClaimPath(claims, q.path, q.values)}]));
  const sets = query.claim_sets ?? [[...resolved.keys()]];
  for(const set of sets) {
    const entries = set.map(id => resolved.get(id));
    if(entries.some(e => !e)) throw new Error(`claim_sets names unknown claim id in ${JSON.stringify(set)}`);
    if(entries.every(e => e.paths.length > 0)) return entries.flatMap(e => e.paths);
  }
  const missing = [...resolved.values()].filter(e => e.paths.length === 0).map(e => e.query.path);
  throw new Error(`credential lacks requested claims ${JSON.stringify(missing)}`);
}

// A presentation frame for @sd-jwt that discloses each path with all of its selectively
// disclosable ancestors (the nesting does that) and everything below it (all presentable keys
// under the path, so that requesting ["auflagen"] also reveals its array elements).
function presentationFrame(paths, presentableKeys) {
  const wanted = paths.map(p => p.map(String).join('.'));
  const selected = presentableKeys.filter(k => wanted.some(w =>
    k === w || k.startsWith(`${w}.`) || w.startsWith(`${k}.`)));
  const frame = {};
  for(const key of selected) {
    let node = frame;
    const parts = key.split('.');
    parts.forEach((part, i) => {
      if(i === parts.length - 1) {
        if(node[part] === undefined) node[part] = true;
      } else {
        if(typeof node[part] !== 'object') node[part] = {};
        node = node[part];
      }
    });
  }
  return {frame, selected};
}

async function present(request) {
  const {request: requestUri, credential, holderPrivateJwk, send = true} = request;
  if(typeof requestUri !== 'string' || typeof credential !== 'string' || !holderPrivateJwk?.d) {
    throw new BadRequest('needs "request" (openid4vp URI), "credential" and "holderPrivateJwk"');
  }
  const client = new Openid4vpClient({callbacks: {
    fetch: walletFetch,
    hash: hashCallback,
    generateRandom,
    verifyJwt: async () => { throw new Error('this wallet accepts only unsigned requests'); }
  }});
  const parsed = client.parseOpenid4vpAuthorizationRequest({authorizationRequest: requestUri});
  log.push(`request parsed as ${parsed.type} (provided as ${parsed.provided})`);
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: parsed.params
  });
  const authorizationRequestPayload = resolved.authorizationRequestPayload;
  // A request that fails the library's strict schema (zOpenid4vpAuthorizationRequest: nonce,
  // response_type, https URLs) still passes through its loose JAR schema when it has neither
  // request nor request_uri, so the required parameters are checked here.
  for(const [name, ok] of [['response_type', authorizationRequestPayload.response_type === 'vp_token'],
    ['nonce', typeof authorizationRequestPayload.nonce === 'string' && authorizationRequestPayload.nonce !== ''],
    ['client_id', typeof authorizationRequestPayload.client_id === 'string'],
    ['response_uri', typeof authorizationRequestPayload.response_uri === 'string'],
    ['dcql_query', typeof authorizationRequestPayload.dcql_query === 'object']]) {
    if(!ok) throw new Error(`request parameter ${name} is missing or invalid: ` +
      JSON.stringify(authorizationRequestPayload[name]));
  }
  const clientId = resolved.client.effective;
  log.push(`client_id prefix ${resolved.client.prefix}, openid4vp version ${resolved.version}`);
  if(!resolved.dcql) throw new Error('request has no dcql_query (presentation_definition is not supported)');
  if(authorizationRequestPayload.response_mode !== 'direct_post') {
    throw new Error(`response_mode ${authorizationRequestPayload.response_mode} is not supported (only direct_post)`);
  }

  const sdjwt = newInstance({
    kbSignAlg: 'ES256',
    kbSigner: await ES256.getSigner({...holderPrivateJwk})
  });
  const allClaims = await sdjwt.getClaims(credential);
  const credentialQueries = resolved.dcql.query.credentials ?? [];
  const query = credentialQueries.find(q =>
    (q.format === 'dc+sd-jwt' || q.format === 'vc+sd-jwt') &&
    (!q.meta?.vct_values || q.meta.vct_values.includes(allClaims.vct)));
  if(!query) {
    throw new Error(`no DCQL credential query matches a dc+sd-jwt with vct ${allClaims.vct}: ` +
      JSON.stringify(credentialQueries.map(q => ({id: q.id, format: q.format, meta: q.meta}))));
  }
  const paths = request.claims ? request.claims.flatMap(p => resolveClaimPath(allClaims, p)) :
    selectClaims(query, allClaims);
  const {frame, selected} = presentationFrame(paths, await sdjwt.presentableKeys(credential));
  const presentation = await sdjwt.present(credential, frame, {kb: {payload: {
    iat: Math.floor(Date.now() / 1000),
    aud: clientId,
    nonce: authorizationRequestPayload.nonce
  }}});
  const vpToken = {[query.id]: [presentation]};
  const {authorizationResponsePayload} = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload,
    authorizationResponsePayload: {vp_token: vpToken}
  });
  const common = {
    presentation, vpToken, disclosedPaths: paths, disclosedKeys: selected, clientId,
    responseUri: authorizationRequestPayload.response_uri, version: resolved.version,
    queryId: query.id
  };
  if(!send) {
    const fields = Object.fromEntries(Object.entries(authorizationResponsePayload)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]));
    return {submitted: false, ...common, fields, body: new URLSearchParams(fields).toString(), log};
  }
  const {response} = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload, authorizationResponsePayload
  });
  return {submitted: true, status: response.status, ok: response.ok,
    response: await readResponseBody(response), ...common, log};
}

// ---------------------------------------------------------------- main

const commands = {receive, verify, present, status};

async function main() {
  const command = commands[process.argv[2]];
  let request;
  try {
    if(!command) throw new BadRequest(`usage: wallet.mjs ${Object.keys(commands).join('|')} < request.json`);
    request = JSON.parse(await new Response(process.stdin).text());
    if(!request || typeof request !== 'object') throw new BadRequest('request is not a JSON object');
  } catch(error) {
    process.stderr.write(`wallet: bad request: ${error.message}\n`);
    process.exit(2);
  }
  try {
    const result = await command(request);
    process.stdout.write(JSON.stringify(result) + '\n');
  } catch(error) {
    if(error instanceof BadRequest) {
      process.stderr.write(`wallet: bad request: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`wallet ${process.argv[2]}: ${error.stack ?? error}\n` +
      (log.length ? `log:\n  ${log.join('\n  ')}\n` : ''));
    process.exit(1);
  }
}

await main();
