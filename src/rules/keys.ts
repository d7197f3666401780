import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureDir, stateDir } from '../infra/paths.js';

/**
 * The installation's identity for sharing rules: an Ed25519 key pair and an installation id, made on
 * first use and kept in the state folder (`.dise/rules/`, mode 0600), never in the database: a
 * database dump or a restored backup does not carry the signing key.
 */
export interface InstallationIdentity {
  installationId: string;
  keyId: string;
  /** `ed25519:<base64 of the SPKI DER>`: what `dise rules trust` takes. */
  publicKey: string;
  privateKey: KeyObject;
}

const PREFIX = 'ed25519:';

export function rulesKeyDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DISE_RULES_KEY_DIR ?? path.join(stateDir(env), 'rules'));
}

/** Parses `ed25519:<base64 SPKI DER>` into a key object. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX))
    throw new Error(`a public key reads ed25519:<base64>, not "${trimmed.slice(0, 40)}"`);
  const key = createPublicKey({
    key: Buffer.from(trimmed.slice(PREFIX.length), 'base64'),
    format: 'der',
    type: 'spki',
  });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the public key is not an Ed25519 key');
  return key;
}

export function formatPublicKey(key: KeyObject): string {
  return PREFIX + key.export({ format: 'der', type: 'spki' }).toString('base64');
}

/** A key's id: the first 32 hex digits of the SHA-256 of its SPKI DER. */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 32);
}

/** The installation's key pair and id, created on first use. */
export function installationIdentity(dir: string = rulesKeyDir()): InstallationIdentity {
  ensureDir(dir, 0o700);
  const keyFile = path.join(dir, 'ed25519.pem');
  const idFile = path.join(dir, 'installation-id');
  if (!existsSync(keyFile)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  }
  if (!existsSync(idFile)) writeFileSync(idFile, `${randomUUID()}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const publicKey = createPublicKey(privateKey);
  return {
    installationId: readFileSync(idFile, 'utf8').trim(),
    keyId: keyIdOf(publicKey),
    publicKey: formatPublicKey(publicKey),
    privateKey,
  };
}
