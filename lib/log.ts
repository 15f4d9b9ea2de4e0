// Structured JSON logs (winston). Fields that can carry credentials are redacted here,
// once, so no caller can leak a token or Secret value by logging an object.
import winston from 'winston';

const SECRET_KEYS = /^(token|password|passwd|secret|authorization|bearer|client-key-data|client-certificate-data|key|privateKey|tls\.key|data|stringData)$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) && v !== undefined && v !== null && v !== '' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'message') continue;
    (info as Record<string, unknown>)[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact((info as Record<string, unknown>)[k]);
  }
  return info;
});

export type Logger = winston.Logger;

export function newLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
