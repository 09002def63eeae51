// The certified peer for bench/peer/run.py: panva's oidc-provider 9 with a durable SQLite
// adapter (better-sqlite3, WAL, synchronous=FULL, one row per stored artefact).
//
//   node server.mjs --port 4000 --seed-port 4001 --db /tmp/peer.db [--memory]
//
// Configuration mirrors egate's: client_secret_basic; JWT access tokens (ES256) through
// resource indicators; opaque refresh tokens stored and rotated; introspection. A second,
// plain HTTP listener on --seed-port mints artefacts through the provider's own API (Grant,
// AuthorizationCode, RefreshToken, AccessToken models) so the benchmark never reaches into
// the store directly: GET /seed?kind=code|refresh|userinfo&n=100.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '4000' },
    'seed-port': { type: 'string', default: '4001' },
    db: { type: 'string', default: '/tmp/egate-peer.db' },
    memory: { type: 'boolean', default: false },
    'client-id': { type: 'string', default: 'bench-client' },
    'client-secret': { type: 'string', default: 'bench-secret' },
  },
});

const ISSUER = `http://127.0.0.1:${args.port}`;
const RESOURCE = 'urn:egate:bench-api';
const REDIRECT_URI = 'https://bench.example.gov.hk/cb';
const ACCOUNT = 'bench-resident';

class SqliteAdapter {
  static db;

  static async open(path) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS oidc (
      model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
      grant_id TEXT, user_code TEXT, uid TEXT, expires_at INTEGER, consumed_at INTEGER,
      PRIMARY KEY (model, id))`);
    db.exec('CREATE INDEX IF NOT EXISTS oidc_grant ON oidc (grant_id)');
    db.exec('CREATE INDEX IF NOT EXISTS oidc_uid ON oidc (uid)');
    db.exec('CREATE INDEX IF NOT EXISTS oidc_user_code ON oidc (user_code)');
    SqliteAdapter.db = db;
    SqliteAdapter.stmt = {
      upsert: db.prepare(`INSERT INTO oidc (model, id, payload, grant_id, user_code, uid, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload,
        grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid,
        expires_at = excluded.expires_at`),
      find: db.prepare('SELECT payload, consumed_at FROM oidc WHERE model = ? AND id = ?'),
      findUid: db.prepare('SELECT payload, consumed_at FROM oidc WHERE model = ? AND uid = ?'),
      findUserCode: db.prepare('SELECT payload, consumed_at FROM oidc WHERE model = ? AND user_code = ?'),
      consume: db.prepare('UPDATE oidc SET consumed_at = ? WHERE model = ? AND id = ?'),
      destroy: db.prepare('DELETE FROM oidc WHERE model = ? AND id = ?'),
      revokeGrant: db.prepare('DELETE FROM oidc WHERE grant_id = ?'),
    };
  }

  constructor(model) {
    this.model = model;
  }

  static row(found) {
    if (!found) return undefined;
    const payload = JSON.parse(found.payload);
    if (payload.exp && payload.exp * 1000 < Date.now()) return undefined;
    if (found.consumed_at) payload.consumed = found.consumed_at;
    return payload;
  }

  async upsert(id, payload, expiresIn) {
    SqliteAdapter.stmt.upsert.run(
      this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.userCode ?? null,
      payload.uid ?? null, expiresIn ? Date.now() + expiresIn * 1000 : null,
    );
  }

  async find(id) {
    return SqliteAdapter.row(SqliteAdapter.stmt.find.get(this.model, id));
  }

  async findByUid(uid) {
    return SqliteAdapter.row(SqliteAdapter.stmt.findUid.get(this.model, uid));
  }

  async findByUserCode(userCode) {
    return SqliteAdapter.row(SqliteAdapter.stmt.findUserCode.get(this.model, userCode));
  }

  async consume(id) {
    SqliteAdapter.stmt.consume.run(Math.floor(Date.now() / 1000), this.model, id);
  }

  async destroy(id) {
    SqliteAdapter.stmt.destroy.run(this.model, id);
  }

  async revokeByGrantId(grantId) {
    SqliteAdapter.stmt.revokeGrant.run(grantId);
  }
}

let adapter;
if (!args.memory) {
  await SqliteAdapter.open(args.db);
  adapter = SqliteAdapter;
}

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(ISSUER, {
  adapter,
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    scope: 'openid profile offline_access ledger:department',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [signingKey] },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  scopes: ['openid', 'profile', 'offline_access', 'ledger:department'],
  claims: { openid: ['sub'], profile: ['name', 'birthdate', 'gender'] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: 'BENCH Resident', birthdate: '1990-01-01', gender: 'female' }),
  }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'ledger:department profile',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  pkce: { required: () => false },
  ttl: { AccessToken: 600, AuthorizationCode: 600, ClientCredentials: 600, RefreshToken: 86400, Grant: 86400 },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

async function grant() {
  const g = new provider.Grant({ accountId: ACCOUNT, clientId: args['client-id'] });
  g.addOIDCScope('openid profile offline_access');
  g.addResourceScope(RESOURCE, 'profile');
  return [g, await g.save()];
}

async function seedOne(kind) {
  const client = await provider.Client.find(args['client-id']);
  const [, grantId] = await grant();
  const authTime = Math.floor(Date.now() / 1000);
  if (kind === 'code') {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT, client, grantId, authTime, scope: 'openid profile offline_access',
      redirectUri: REDIRECT_URI, codeChallenge: challenge, codeChallengeMethod: 'S256', nonce: 'n',
      resource: RESOURCE,
    });
    return { code: await code.save(), verifier };
  }
  if (kind === 'refresh') {
    const token = new provider.RefreshToken({
      accountId: ACCOUNT, client, grantId, authTime, scope: 'openid profile offline_access',
      resource: RESOURCE, rotations: 0,
    });
    return { refresh_token: await token.save() };
  }
  // userinfo: an opaque access token for the UserInfo endpoint (no resource), as the peer
  // issues for an openid request; JWT tokens for a resource server are refused there.
  const token = new provider.AccessToken({
    accountId: ACCOUNT, client, grantId, scope: 'openid profile', claims: { userinfo: {} },
  });
  return { access_token: await token.save() };
}

http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const n = Number(url.searchParams.get('n') || '1');
    const out = [];
    for (let i = 0; i < n; i += 1) out.push(await seedOne(url.searchParams.get('kind')));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
  } catch (err) {
    console.error(err);
    res.writeHead(500).end(String(err));
  }
}).listen(Number(args['seed-port']), '127.0.0.1');

provider.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`peer ready ${ISSUER} store=${args.memory ? 'memory' : `sqlite:${args.db}`}`);
});
