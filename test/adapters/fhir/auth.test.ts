import type { AccessToken, TokenCredential } from '@azure/identity';
import {
  createTokenProvider,
  CredentialTokenProvider,
  fhirScope,
  TOKEN_REFRESH_MARGIN_MS,
} from '../../../src/adapters/fhir/auth';
import { ErrorCode } from '../../../src/pipeline/errors';

const HOUR = 3_600_000;

/** A credential that hands out token-1, token-2, … each valid for `lifetimeMs`, and records the scopes asked for. */
function fakeCredential(clock: { now: number }, lifetimeMs = HOUR): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  let issued = 0;
  return {
    scopes,
    getToken: (scope) => {
      scopes.push(String(scope));
      issued++;
      const token: AccessToken = { token: `token-${issued}`, expiresOnTimestamp: clock.now + lifetimeMs };
      return Promise.resolve(token);
    },
  };
}

describe('fhirScope', () => {
  test.each([
    ['https://ws-fhir.fhir.azurehealthcareapis.com', 'https://ws-fhir.fhir.azurehealthcareapis.com/.default'],
    ['https://ws-fhir.fhir.azurehealthcareapis.com/', 'https://ws-fhir.fhir.azurehealthcareapis.com/.default'],
    ['https://example.org:8443/fhir/R4/', 'https://example.org:8443/.default'],
  ])('%s → %s', (base, scope) => {
    expect(fhirScope(base)).toBe(scope);
  });
});

describe('createTokenProvider', () => {
  test('none sends no token', async () => {
    const provider = createTokenProvider({ mode: 'none' }, 'http://localhost:8080/fhir');
    await expect(provider.getToken()).resolves.toBeUndefined();
  });

  test('bearer sends its fixed token, and a 401 cannot be cured by refreshing it', async () => {
    const provider = createTokenProvider({ mode: 'bearer', token: 'static' }, 'http://localhost/fhir');
    await expect(provider.getToken()).resolves.toBe('static');
    expect(provider.invalidate('static')).toBe(false);
  });

  test.each(['managedIdentity', 'azureCli', 'default'] as const)(
    '%s asks the credential for the FHIR origin scope',
    async (mode) => {
      const clock = { now: 0 };
      const credential = fakeCredential(clock);
      const provider = createTokenProvider({ mode }, 'https://ws-fhir.fhir.azurehealthcareapis.com/', {
        credential,
        now: () => clock.now,
      });
      await expect(provider.getToken()).resolves.toBe('token-1');
      expect(credential.scopes).toEqual(['https://ws-fhir.fhir.azurehealthcareapis.com/.default']);
    },
  );
});

test.each([
  { mode: 'managedIdentity' },
  { mode: 'managedIdentity', clientId: '00000000-0000-0000-0000-000000000001' },
  { mode: 'azureCli' },
  { mode: 'default' },
  { mode: 'default', clientId: '00000000-0000-0000-0000-000000000001' },
] as const)('%j is served by an @azure/identity credential (built offline, no token requested)', (auth) => {
  expect(createTokenProvider(auth, 'https://ws-fhir.fhir.azurehealthcareapis.com')).toBeInstanceOf(
    CredentialTokenProvider,
  );
});

describe('CredentialTokenProvider', () => {
  test('caches a token until five minutes before it expires', async () => {
    const clock = { now: 0 };
    const provider = new CredentialTokenProvider(fakeCredential(clock), 'scope', () => clock.now);
    await expect(provider.getToken()).resolves.toBe('token-1');
    clock.now = HOUR - TOKEN_REFRESH_MARGIN_MS - 1;
    await expect(provider.getToken()).resolves.toBe('token-1');
    clock.now = HOUR - TOKEN_REFRESH_MARGIN_MS;
    await expect(provider.getToken()).resolves.toBe('token-2');
  });

  test('refreshes a short-lived token at half its life', async () => {
    const clock = { now: 0 };
    const provider = new CredentialTokenProvider(fakeCredential(clock, 4 * 60_000), 'scope', () => clock.now);
    await provider.getToken();
    clock.now = 2 * 60_000 - 1;
    await expect(provider.getToken()).resolves.toBe('token-1');
    clock.now = 2 * 60_000;
    await expect(provider.getToken()).resolves.toBe('token-2');
  });

  test('honours refreshAfterTimestamp when it comes earlier', async () => {
    const clock = { now: 0 };
    const credential: TokenCredential = {
      getToken: () =>
        Promise.resolve({
          token: `t@${clock.now}`,
          expiresOnTimestamp: clock.now + HOUR,
          refreshAfterTimestamp: clock.now + 1000,
        }),
    };
    const provider = new CredentialTokenProvider(credential, 'scope', () => clock.now);
    await provider.getToken();
    clock.now = 1000;
    await expect(provider.getToken()).resolves.toBe('t@1000');
  });

  test('concurrent callers share one token request', async () => {
    const clock = { now: 0 };
    const credential = fakeCredential(clock);
    const provider = new CredentialTokenProvider(credential, 'scope', () => clock.now);
    const tokens = await Promise.all([provider.getToken(), provider.getToken(), provider.getToken()]);
    expect(tokens).toEqual(['token-1', 'token-1', 'token-1']);
    expect(credential.scopes).toHaveLength(1);
  });

  test('invalidate drops the rejected token only if it is still the cached one', async () => {
    const clock = { now: 0 };
    const provider = new CredentialTokenProvider(fakeCredential(clock), 'scope', () => clock.now);
    await provider.getToken();
    expect(provider.invalidate('token-1')).toBe(true);
    await expect(provider.getToken()).resolves.toBe('token-2');
    provider.invalidate('token-1'); // a late 401 for the old token must not throw away the new one
    await expect(provider.getToken()).resolves.toBe('token-2');
  });

  test('a failing credential becomes a retryable FHIR_UNAUTHORIZED error naming the scope only', async () => {
    const credential: TokenCredential = { getToken: () => Promise.reject(new Error('IMDS unreachable')) };
    const provider = new CredentialTokenProvider(credential, 'https://x.example/.default');
    const error = await provider.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.FhirUnauthorized, retryable: true });
    expect((error as Error).message).toBe('could not get an access token for scope https://x.example/.default');
  });

  test('a credential returning null is an error', async () => {
    const provider = new CredentialTokenProvider({ getToken: () => Promise.resolve(null) }, 'scope');
    await expect(provider.getToken()).rejects.toMatchObject({ code: ErrorCode.FhirUnauthorized });
  });
});
