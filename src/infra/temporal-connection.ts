import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { DEFAULT_NAMESPACE } from '../shared/constants.js';

/** Where and how to reach Temporal: a dev server, a self-hosted cluster or Temporal Cloud. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  /** mTLS client certificate and key (PEM files), for self-hosted clusters or Cloud mTLS. */
  tlsCertPath?: string;
  tlsKeyPath?: string;
  tlsServerName?: string;
  tlsServerRootCaPath?: string;
  /** Temporal Cloud API key; implies TLS. */
  apiKey?: string;
  tls: boolean;
}

/** Reads TEMPORAL_* variables; returns undefined when TEMPORAL_ADDRESS is not set. */
export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSettings | undefined {
  const address = env.TEMPORAL_ADDRESS;
  if (!address) return undefined;
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  const tlsCertPath = env.TEMPORAL_TLS_CERT || undefined;
  const tlsKeyPath = env.TEMPORAL_TLS_KEY || undefined;
  if (Boolean(tlsCertPath) !== Boolean(tlsKeyPath)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (client certificate and its key)');
  }
  return {
    address,
    namespace: env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE,
    tlsCertPath,
    tlsKeyPath,
    tlsServerName: env.TEMPORAL_TLS_SERVER_NAME || undefined,
    tlsServerRootCaPath: env.TEMPORAL_TLS_CA || undefined,
    apiKey,
    tls: Boolean(apiKey || tlsCertPath || env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1'),
  };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** What both `Connection.connect` (clients) and `NativeConnection.connect` (workers) accept. */
export interface SharedConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export function connectionOptions(settings: TemporalSettings): SharedConnectionOptions {
  const options: SharedConnectionOptions = { address: settings.address };
  if (settings.tls) {
    options.tls = {
      serverNameOverride: settings.tlsServerName,
      serverRootCACertificate: settings.tlsServerRootCaPath ? readPem(settings.tlsServerRootCaPath, 'TEMPORAL_TLS_CA') : undefined,
      clientCertPair:
        settings.tlsCertPath && settings.tlsKeyPath
          ? { crt: readPem(settings.tlsCertPath, 'TEMPORAL_TLS_CERT'), key: readPem(settings.tlsKeyPath, 'TEMPORAL_TLS_KEY') }
          : undefined,
    };
  }
  if (settings.apiKey) {
    options.apiKey = settings.apiKey;
    options.metadata = { 'temporal-namespace': settings.namespace };
  }
  return options;
}
