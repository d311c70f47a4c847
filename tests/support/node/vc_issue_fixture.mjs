// Issues test data for tests/interop with Digital Bazaar's libraries, shaped like govchain's:
// a did:web DID document (P-256 Multikey), a VC 2.0 credential signed with DataIntegrityProof /
// ecdsa-rdfc-2019 whose credentialStatus array holds a foreign GovchainLedgerStatus2026 entry
// plus revocation and suspension BitstringStatusListEntry, the two signed
// BitstringStatusListCredentials, and a govchain-like JSON-LD context for the credential's own
// terms (the VC 2.0 context has no @vocab: undefined terms fail ecdsa-rdfc-2019's safe mode).
// Files are laid out as the service serves them:
//
//   node vc_issue_fixture.mjs OUT_DIR BASE_URL [--revoked]
//   OUT_DIR/municipalities/05315000/did.json, OUT_DIR/status/05315000/{revocation,suspension}-1,
//   OUT_DIR/credentials/v1 (context), OUT_DIR/credential.json
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import {cryptosuite as ecdsaRdfc2019Cryptosuite} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import {createCredential, createList} from '@digitalbazaar/vc-bitstring-status-list';
import * as vc from '@digitalbazaar/vc';

const [outDir, baseUrl, ...flags] = process.argv.slice(2);
if(!outDir || !baseUrl) {
  process.stderr.write('usage: vc_issue_fixture.mjs OUT_DIR BASE_URL [--revoked]\n');
  process.exit(2);
}
const base = baseUrl.replace(/\/+$/, '');
const revoked = flags.includes('--revoked');
const AGS = '05315000';
const INDEX = {revocation: 94567, suspension: 23};

const contextUrl = `${base}/credentials/v1`;
const vocab = `${contextUrl}#`;
const govchainContext = {'@context': {'@protected': true,
  MunicipalPermitCredential: `${vocab}MunicipalPermitCredential`,
  GovchainLedgerStatus2026: `${vocab}GovchainLedgerStatus2026`,
  GovchainMerkleProof2026: `${vocab}GovchainMerkleProof2026`,
  permitNumber: `${vocab}permitNumber`}};
const loader = securityLoader();
loader.addDocuments({documents: multikeyContexts});
loader.addStatic(contextUrl, govchainContext);
const documentLoader = loader.build();

const did = `did:web:${encodeURIComponent(new URL(base).host)}:municipalities:${AGS}`;
const key = await EcdsaMultikey.generate({curve: 'P-256', controller: did, id: `${did}#key-1`});
const didDocument = {
  '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
  id: did,
  verificationMethod: [await key.export({publicKey: true, includeContext: false})],
  assertionMethod: [key.id]
};
const suite = new DataIntegrityProof({signer: key.signer(), cryptosuite: ecdsaRdfc2019Cryptosuite});
const now = new Date();
const iso = d => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

async function write(rel, json) {
  const file = path.join(outDir, ...rel.split('/'));
  await mkdir(path.dirname(file), {recursive: true});
  await writeFile(file, JSON.stringify(json, null, 2) + '\n');
}

const credentialStatus = [{id: 'urn:x', type: 'GovchainLedgerStatus2026'}];
for(const statusPurpose of ['revocation', 'suspension']) {
  const id = `${base}/status/${AGS}/${statusPurpose}-1`;
  const list = await createList({length: 131072});
  if(statusPurpose === 'revocation' && revoked) list.setStatus(INDEX.revocation, true);
  const slc = await createCredential({id, list, statusPurpose});
  Object.assign(slc, {issuer: did, validFrom: iso(now),
    validUntil: iso(new Date(now.getTime() + 10 * 60 * 1000))});
  await write(`status/${AGS}/${statusPurpose}-1`,
    await vc.issue({credential: slc, suite, documentLoader}));
  credentialStatus.push({id: `${id}#${INDEX[statusPurpose]}`, type: 'BitstringStatusListEntry',
    statusPurpose, statusListIndex: String(INDEX[statusPurpose]), statusListCredential: id});
}

const credential = {
  '@context': ['https://www.w3.org/ns/credentials/v2', contextUrl],
  id: `urn:uuid:${crypto.randomUUID()}`,
  type: ['VerifiableCredential', 'MunicipalPermitCredential'],
  issuer: did,
  validFrom: iso(now),
  credentialSubject: {id: 'did:example:applicant-1', permitNumber: 'B-2026-0042', name: 'Erika Muster'},
  credentialStatus
};
await write('credentials/v1', govchainContext);
await write(`municipalities/${AGS}/did.json`, didDocument);
await write('credential.json', await vc.issue({credential, suite, documentLoader}));
