// Verifies one W3C Verifiable Credential with Digital Bazaar's reference libraries
// (DataIntegrityProof + ecdsa-rdfc-2019, Bitstring Status List), offline but for the service
// under test. Used by tests/support/vcjs.py.
//
//   stdin:  {"credential": {...}, "baseUrl": "http://127.0.0.1:PORT", "checkStatus": true}
//   stdout: {"verified": bool, "errors": [str], "statusResults": [{statusPurpose,
//            statusListCredential, statusListIndex, status}], "log": [str]}
// Exit 0 whenever verification ran (a failed verification is a result); 2 on a bad request.
//
// documentLoader: contexts from the libraries' static copies (security-document-loader,
// credentials-context, multikey-context); URLs under baseUrl by HTTP GET; did:web DIDs of
// baseUrl's host[:port] from <baseUrl>/<path>/did.json (a DID URL with #fragment gives the
// verification method plus the DID document's @context, as did-io resolvers do). Nothing else.
//
// Status, as read in @digitalbazaar/vc-bitstring-status-list 2.0.1 lib/index.js:
// - checkStatus keeps only the credentialStatus entries of type BitstringStatusListEntry (one
//   object or an array; other types such as GovchainLedgerStatus2026 are skipped silently, no
//   error) and checks ALL of them (every purpose) in parallel; it fails if there is none.
// - per entry: loads statusListCredential through the documentLoader, requires its
//   credentialSubject.statusPurpose to equal the entry's, verifies it with vc.verifyCredential
//   and the same suite (so validFrom/validUntil are enforced, 300 s clock skew, and its proof
//   must be by a key its issuer controls), requires the same issuer as the credential, type
//   BitstringStatusListCredential, credentialSubject.type BitstringStatusList and an
//   encodedList starting with "u" (multibase base64url of the gzipped bits).
// - its result is {verified, results: [{verified, credentialStatus, status}]}; `status` is the
//   bit. A set bit does NOT make vc.verifyCredential fail, so this script does: `verified` is
//   false when any status bit is set.
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as ecdsaRdfc2019Cryptosuite} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import {checkStatus as bitstringCheckStatus} from '@digitalbazaar/vc-bitstring-status-list';
import * as vc from '@digitalbazaar/vc';

const log = [];

function makeDocumentLoader(baseUrl) {
  const base = new URL(baseUrl);
  const prefix = base.href.replace(/\/+$/, '');
  const staticLoader = securityLoader();
  staticLoader.addDocuments({documents: multikeyContexts});
  const loadStatic = staticLoader.build();

  const cache = new Map(); // one GET per URL and run
  function get(url) {
    if(!cache.has(url)) cache.set(url, fetchJson(url));
    return cache.get(url);
  }

  async function fetchJson(url) {
    const res = await fetch(url, {headers: {Accept: 'application/ld+json, application/json'},
      signal: AbortSignal.timeout(15000)});
    if(!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    log.push(`GET ${url}: ${res.status}`);
    return JSON.parse(await res.text());
  }

  async function resolveDidWeb(didUrl) {
    const [did, fragment] = didUrl.split('#');
    const [, , host, ...path] = did.split(':');
    if(decodeURIComponent(host ?? '').toLowerCase() !== base.host.toLowerCase()) {
      throw new Error(`refusing to resolve ${did}: its host "${decodeURIComponent(host ?? '')}" ` +
        `is not the service's "${base.host}"`);
    }
    const segments = path.length ? path.map(decodeURIComponent) : ['.well-known'];
    if(segments.some(s => !s || s.includes('/') || s === '..')) throw new Error(`bad did:web ${did}`);
    const doc = await get(`${prefix}/${segments.join('/')}/did.json`);
    if(doc.id !== did) throw new Error(`DID document id "${doc.id}" is not "${did}"`);
    if(fragment === undefined) return doc;
    const embedded = ['assertionMethod', 'authentication', 'capabilityInvocation',
      'capabilityDelegation', 'keyAgreement'].flatMap(r => doc[r] ?? []).filter(m => m?.id);
    const method = [...(doc.verificationMethod ?? []), ...embedded]
      .find(m => m.id === didUrl || m.id === `#${fragment}`);
    if(!method) throw new Error(`verification method ${didUrl} not found in ${did}`);
    return {'@context': doc['@context'], ...method, id: didUrl};
  }

  return async function documentLoader(url) {
    if(staticLoader.documents.has(url)) {
      return loadStatic(url);
    }
    let document;
    if(url.startsWith('did:web:')) {
      document = await resolveDidWeb(url);
    } else if(url.startsWith(`${prefix}/`)) {
      document = await get(url);
    } else {
      throw new Error(`documentLoader refuses ${url}: neither a static context, ` +
        `a did:web of ${base.host} nor under ${prefix}`);
    }
    return {contextUrl: null, documentUrl: url, document};
  };
}

function messages(error, seen = new Set()) {
  if(!error || seen.has(error)) return [];
  seen.add(error);
  const own = error.message ? [String(error.message)] : (error.errors ? [] : [String(error)]);
  return [...own, ...(error.errors ?? []).flatMap(e => messages(e, seen)),
    ...messages(error.cause, seen), ...messages(error.details?.cause, seen)]; // jsonld errors
}

async function main() {
  let request;
  try {
    request = JSON.parse(await new Response(process.stdin).text());
    if(!request.credential || !request.baseUrl) throw new Error('needs "credential" and "baseUrl"');
  } catch(e) {
    process.stderr.write(`vc_verify: bad request: ${e.message}\n`);
    process.exit(2);
  }
  const {credential, baseUrl, checkStatus = true} = request;
  const suite = new DataIntegrityProof({cryptosuite: ecdsaRdfc2019Cryptosuite});
  const result = await vc.verifyCredential({
    credential, suite, documentLoader: makeDocumentLoader(baseUrl),
    checkStatus: checkStatus ? bitstringCheckStatus : async () => ({verified: true, results: []})
  });
  const errors = [...messages(result.error),
    ...(result.results ?? []).flatMap(r => messages(r.error)),
    ...messages(result.statusResult?.error)];
  const statusResults = (result.statusResult?.results ?? []).map(r => ({
    statusPurpose: r.credentialStatus.statusPurpose,
    statusListCredential: r.credentialStatus.statusListCredential,
    statusListIndex: r.credentialStatus.statusListIndex,
    status: r.status
  }));
  for(const s of statusResults.filter(s => s.status)) {
    errors.push(`credential status "${s.statusPurpose}" is set ` +
      `(index ${s.statusListIndex} of ${s.statusListCredential})`);
  }
  const verified = result.verified === true && !statusResults.some(s => s.status);
  process.stdout.write(JSON.stringify({verified, errors: [...new Set(errors)], statusResults, log}) +
    '\n');
}

await main();
