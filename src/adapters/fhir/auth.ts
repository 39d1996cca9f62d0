/**
 * Access tokens for the FHIR service. Azure Health Data Services accepts Microsoft Entra ID tokens for the scope
 * `<FHIR service origin>/.default`; local servers take none or a fixed bearer token. Tokens are cached until five
 * minutes before they expire, concurrent callers share one token request, and a 401 drops the cached token so that the
 * request can be repeated once with a fresh one.
 * See: https://learn.microsoft.com/azure/healthcare-apis/fhir/using-rest-client and @azure/identity's README.
 */
import type { TokenCredential } from '@azure/identity';
import { AzureCliCredential, DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { ErrorCode, PipelineError } from '../../pipeline';

/** How the adapter authenticates to the FHIR service. */
export type FhirAuth =
  | { readonly mode: 'none' }
  | { readonly mode: 'bearer'; readonly token: string }
  /** A system- or user-assigned managed identity (`clientId` selects a user-assigned one). */
  | { readonly mode: 'managedIdentity'; readonly clientId?: string }
  /** The signed-in Azure CLI account (developer machines). */
  | { readonly mode: 'azureCli' }
  /**
   * `DefaultAzureCredential`: environment, workload identity, managed identity (`clientId` selects a user-assigned
   * one), then developer tools.
   */
  | { readonly mode: 'default'; readonly clientId?: string };

/** The authentication modes. */
export type FhirAuthMode = FhirAuth['mode'];

/** Hands out the bearer token for each request. */
export interface TokenProvider {
  /** The token to send, or `undefined` for no `Authorization` header. */
  getToken(): Promise<string | undefined>;
  /**
   * Called after the server rejected `token` with 401: forget it so the next {@link getToken} fetches a new one.
   * Returns false when a new token cannot differ (a fixed token), so the request is not repeated.
   * @param token - the rejected token
   */
  invalidate(token: string): boolean;
}

/** Refresh this long before a token expires, so no request carries a token that expires in flight. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

/** Options of {@link createTokenProvider}. */
export interface TokenProviderOptions {
  /** Use this credential instead of the one the mode names (tests inject a fake; hosts may share one). */
  readonly credential?: TokenCredential;
  /** Epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The token provider for an authentication mode.
 * @param auth - the mode and its settings
 * @param fhirBaseUrl - the FHIR service base URL; its origin gives the Entra ID scope
 * @param options - an injected credential and clock
 */
export function createTokenProvider(
  auth: FhirAuth,
  fhirBaseUrl: string,
  options: TokenProviderOptions = {},
): TokenProvider {
  const now = options.now ?? Date.now;
  switch (auth.mode) {
    case 'none':
      return { getToken: () => Promise.resolve(undefined), invalidate: () => false };
    case 'bearer': {
      const token = auth.token;
      return { getToken: () => Promise.resolve(token), invalidate: () => false };
    }
    case 'managedIdentity':
    case 'azureCli':
    case 'default':
      return new CredentialTokenProvider(options.credential ?? credentialFor(auth), fhirScope(fhirBaseUrl), now);
  }
}

/**
 * The Entra ID scope of a FHIR service: its origin plus `/.default`.
 * @param fhirBaseUrl - e.g. `https://ws-fhir.fhir.azurehealthcareapis.com/`
 */
export function fhirScope(fhirBaseUrl: string): string {
  return `${new URL(fhirBaseUrl).origin}/.default`;
}

function credentialFor(auth: Exclude<FhirAuth, { readonly mode: 'none' | 'bearer' }>): TokenCredential {
  switch (auth.mode) {
    case 'managedIdentity':
      return auth.clientId === undefined
        ? new ManagedIdentityCredential()
        : new ManagedIdentityCredential({ clientId: auth.clientId });
    case 'azureCli':
      return new AzureCliCredential();
    case 'default':
      return new DefaultAzureCredential(auth.clientId === undefined ? {} : { managedIdentityClientId: auth.clientId });
  }
}

interface CachedToken {
  readonly token: string;
  /** Epoch ms after which the token is fetched again. */
  readonly refreshAt: number;
}

/** Tokens from an `@azure/identity` credential, cached until shortly before expiry. */
export class CredentialTokenProvider implements TokenProvider {
  readonly #credential: TokenCredential;
  readonly #scope: string;
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #pending: Promise<string> | undefined;

  /**
   * @param credential - where tokens come from
   * @param scope - the scope to ask for
   * @param now - epoch milliseconds
   */
  constructor(credential: TokenCredential, scope: string, now: () => number = Date.now) {
    this.#credential = credential;
    this.#scope = scope;
    this.#now = now;
  }

  /** The cached token, or a new one (one request shared by concurrent callers). */
  getToken(): Promise<string> {
    const cached = this.#cached;
    if (cached !== undefined && this.#now() < cached.refreshAt) {
      return Promise.resolve(cached.token);
    }
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /**
   * Forgets `token` if it is still the cached one (other requests may have refreshed it already).
   * @param token - the token the server rejected
   */
  invalidate(token: string): boolean {
    if (this.#cached?.token === token) {
      this.#cached = undefined;
    }
    return true;
  }

  async #fetch(): Promise<string> {
    let access;
    try {
      access = await this.#credential.getToken(this.#scope);
    } catch (error) {
      // Token endpoints (IMDS, Entra ID) fail transiently too; a wrong configuration shows as repeated Critical errors.
      throw new PipelineError(ErrorCode.FhirUnauthorized, `could not get an access token for scope ${this.#scope}`, {
        cause: error,
        retryable: true,
        details: { scope: this.#scope },
      });
    }
    if (access === null) {
      throw new PipelineError(ErrorCode.FhirUnauthorized, `the credential returned no token for scope ${this.#scope}`, {
        details: { scope: this.#scope },
      });
    }
    const now = this.#now();
    // Short-lived tokens (less than twice the margin) are refreshed at half their life instead of immediately.
    const margin = Math.min(TOKEN_REFRESH_MARGIN_MS, (access.expiresOnTimestamp - now) / 2);
    let refreshAt = access.expiresOnTimestamp - margin;
    if (access.refreshAfterTimestamp !== undefined && access.refreshAfterTimestamp < refreshAt) {
      refreshAt = access.refreshAfterTimestamp;
    }
    this.#cached = { token: access.token, refreshAt };
    return access.token;
  }
}
