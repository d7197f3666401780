import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from '../shared/constants.js';

/** The task queue workers poll and heals run on: DISE_TASK_QUEUE, else `dise-heal`. */
export function taskQueueFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.DISE_TASK_QUEUE || TASK_QUEUE;
}

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

/** The `temporal` section of config.yaml (see src/config/schema.ts). */
export interface TemporalFileSettings {
  address: string | null;
  namespace: string;
  api_key: string | null;
  tls: boolean;
  tls_cert_path: string | null;
  tls_key_path: string | null;
  tls_ca_path: string | null;
  tls_server_name: string | null;
}

/**
 * Where Temporal is: TEMPORAL_* environment variables override config.yaml's `temporal` section;
 * undefined when neither names an address.
 */
export function temporalSettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  file?: TemporalFileSettings,
): TemporalSettings | undefined {
  const address = env.TEMPORAL_ADDRESS || file?.address || undefined;
  if (!address) return undefined;
  const apiKey = env.TEMPORAL_API_KEY || file?.api_key || undefined;
  const tlsCertPath = env.TEMPORAL_TLS_CERT || file?.tls_cert_path || undefined;
  const tlsKeyPath = env.TEMPORAL_TLS_KEY || file?.tls_key_path || undefined;
  if (Boolean(tlsCertPath) !== Boolean(tlsKeyPath)) {
    throw new Error(
      'the TLS client certificate and its key must be set together (TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY or temporal.tls_cert_path/tls_key_path)',
    );
  }
  const tlsFlag =
    env.TEMPORAL_TLS !== undefined ? env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1' : Boolean(file?.tls);
  return {
    address,
    namespace: env.TEMPORAL_NAMESPACE || file?.namespace || DEFAULT_NAMESPACE,
    tlsCertPath,
    tlsKeyPath,
    tlsServerName: env.TEMPORAL_TLS_SERVER_NAME || file?.tls_server_name || undefined,
    tlsServerRootCaPath: env.TEMPORAL_TLS_CA || file?.tls_ca_path || undefined,
    apiKey,
    tls: Boolean(apiKey || tlsCertPath || tlsFlag),
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
      serverRootCACertificate: settings.tlsServerRootCaPath
        ? readPem(settings.tlsServerRootCaPath, 'TEMPORAL_TLS_CA')
        : undefined,
      clientCertPair:
        settings.tlsCertPath && settings.tlsKeyPath
          ? {
              crt: readPem(settings.tlsCertPath, 'TEMPORAL_TLS_CERT'),
              key: readPem(settings.tlsKeyPath, 'TEMPORAL_TLS_KEY'),
            }
          : undefined,
    };
  }
  if (settings.apiKey) {
    options.apiKey = settings.apiKey;
    options.metadata = { 'temporal-namespace': settings.namespace };
  }
  return options;
}
