// Typed view of the validated configuration, derived from the schema (schema.ts):
// a key added, removed or narrowed there changes these types, so code and schema
// cannot drift apart. The names are the sections the rest of the code works with.
import type { configSpec } from './schema.js';
import type { Infer } from './spec.js';

export type GatewayConfig = Infer<typeof configSpec>;

export type StorageConfig = GatewayConfig['storage'];
export type LogConfig = GatewayConfig['log'];
export type LogLevel = LogConfig['level'];

export type TcpListenerConfig = GatewayConfig['listeners']['tcp'];
export type TlsListenerConfig = GatewayConfig['listeners']['tls'];
export type WsListenerConfig = GatewayConfig['listeners']['ws'];
export type WssListenerConfig = GatewayConfig['listeners']['wss'];

export type BrokerConfig = GatewayConfig['broker'];
export type BrokerPersistenceConfig = BrokerConfig['persistence'];

export type AuthConfig = GatewayConfig['auth'];
export type JwtConfig = AuthConfig['jwt'];
export type JwksConfig = JwtConfig['jwks'];

export type ClockConfig = GatewayConfig['clock'];

export type BridgeConfig = GatewayConfig['bridge'];
export type BridgeTopicRule = BridgeConfig['topics'][number];

export type SerialPortConfig = GatewayConfig['serial']['ports'][number];

export type HttpConfig = GatewayConfig['http'];

/** Deep partial, for tests and overrides. */
export type ConfigOverrides = { [K in keyof GatewayConfig]?: DeepPartial<GatewayConfig[K]> };
export type DeepPartial<T> = T extends unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
