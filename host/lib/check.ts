// Arguments of public calls, checked before anything changes: the message names the call,
// the argument, what it must be and what it was (format.ts show: NaN says NaN).

import { ConfigError } from "./errors.js";
import { show } from "./format.js";

/** v if it is an integer in [min, max], else a ConfigError "what must be an integer from min to max, got v". */
export function integerArg(what: string, v: unknown, min: number, max: number, unit = ""): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${what} must be an integer from ${min} to ${max}${unit}, got ${show(v)}`);
  }
  return v;
}

/** v if it is true or false, else a ConfigError. */
export function booleanArg(what: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new ConfigError(`${what} must be true or false, got ${show(v)}`);
  return v;
}
