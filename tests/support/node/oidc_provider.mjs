// A test identity provider for govchain's staff sign-in: panva's oidc-provider (pinned in
// package.json) with one confidential client, PKCE required, claims in the ID token, and a tiny
// login interaction without password: the form at /interaction/:uid names an account, which is
// signed in at once (no consent page; the grant is made on the way).
//
//   node oidc_provider.mjs '{"port": 4711, "clientId": "govchain", "clientSecret": "…",
//                           "redirectUris": ["https://…/login/oidc/callback"],
//                           "postLogoutRedirectUris": ["https://…/login?logged_out=1"]}'
//
// Prints "ready <issuer>" once it listens. Accounts: meier (clerk of 05334002), land (registrar),
// fremd (a clerk govchain does not know), ohne (no role claim), koeln (clerk, claims AGS 05315000).
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;

const ACCOUNTS = {
  meier: { preferred_username: 'meier', name: 'Erika Meier', govchain_role: 'clerk',
           govchain_ags: '05334002' },
  land: { preferred_username: 'land', name: 'Landesregistratur', govchain_role: 'registrar' },
  fremd: { preferred_username: 'fremd', name: 'Fremde Person', govchain_role: 'clerk',
           govchain_ags: '05334002' },
  ohne: { preferred_username: 'ohne', name: 'Ohne Rolle' },
  koeln: { preferred_username: 'meier', name: 'Erika Meier', govchain_role: 'clerk',
           govchain_ags: '05315000' },
};

const SCOPE = 'openid profile govchain';

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.clientId,
    client_secret: config.clientSecret,
    redirect_uris: config.redirectUris,
    post_logout_redirect_uris: config.postLogoutRedirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'govchain'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    govchain: ['govchain_role', 'govchain_ags'],
  },
  // Many identity providers put the claims an RP needs into the ID token (Keycloak's "Add to ID
  // token"); govchain reads them only there.
  conformIdTokenClaims: false,
  cookies: { keys: ['govchain test provider – not a secret'] },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPE);
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  ctx.respond = false;
  const { req, res } = ctx;
  const details = await provider.interactionDetails(req, res);
  if (ctx.method === 'GET' && !match[2]) {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!DOCTYPE html><html lang="de"><head><title>Test-Anmeldung</title></head><body>
<form method="post" action="/interaction/${details.uid}/login">
<label for="account">Konto</label> <input id="account" name="account" autocomplete="off">
<button type="submit" id="sign-in">Anmelden</button></form></body></html>`);
    return;
  }
  if (ctx.method === 'POST' && match[2]) {
    const account = (await readForm(req)).get('account') ?? '';
    if (!ACCOUNTS[account]) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'unknown account' });
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account } },
                                       { mergeWithLastSubmission: false });
    return;
  }
  res.statusCode = 405;
  res.end();
});

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
