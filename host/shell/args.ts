// Command-line words for the shell: splitting a line into words, BSD getopt(3), and the
// units link conditions are written in (10ms, 1%, 10Mbit; lib/units.ts's grammar). Every failure is a
// CommandError with one line that names the command and the word at fault.

import { WavnetError } from "../lib/errors.js";
import { parseDuration, parseProbability, parseRate } from "../lib/units.js";

/** A command was given bad input; the message is the one line the user sees. */
export class CommandError extends WavnetError {}

/**
 * Split a line into words: blanks separate, '...' and "..." group, backslash escapes one
 * character outside single quotes. An unterminated quote is an error, not a guess.
 */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new CommandError(`unterminated ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}

export interface Parsed {
  /** Options seen, by letter: the argument, or true for a flag. Last one wins. */
  opts: Map<string, string | true>;
  /** Words after the options. */
  args: string[];
}

/**
 * getopt(3): spec lists option letters, a letter followed by ':' takes an argument
 * ("c:i:s:nD"). Options end at the first word that is not one, or at "--".
 */
export function getopt(cmd: string, argv: string[], spec: string, usage: string): Parsed {
  const opts = new Map<string, string | true>();
  let i = 0;
  for (; i < argv.length; i++) {
    const w = argv[i];
    if (w === "--") {
      i++;
      break;
    }
    // "-5" is an operand (a negative number) unless the command has a digit option (sockstat -4).
    if (w.length < 2 || w[0] !== "-" || (/^-\d/.test(w) && !spec.includes(w[1]))) break;
    for (let j = 1; j < w.length; j++) {
      const letter = w[j];
      const at = spec.indexOf(letter);
      if (letter === ":" || at < 0) throw new CommandError(`${cmd}: illegal option -- ${letter}; usage: ${usage}`);
      if (spec[at + 1] !== ":") {
        opts.set(letter, true);
        continue;
      }
      // The argument is the rest of this word (-c5) or the next word (-c 5).
      let arg = w.slice(j + 1);
      if (arg === "") {
        if (i + 1 >= argv.length) throw new CommandError(`${cmd}: option requires an argument -- ${letter}; usage: ${usage}`);
        arg = argv[++i];
      }
      opts.set(letter, arg);
      break;
    }
  }
  return { opts, args: argv.slice(i) };
}

/** A number option or word: finite, in [lo, hi], an integer unless fractions are allowed. */
export function number(cmd: string, what: string, word: string, lo: number, hi: number, integer = true): number {
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(word) ? Number(word) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < lo || n > hi) {
    throw new CommandError(`${cmd}: ${what} must be ${integer ? "an integer" : "a number"} from ${lo} to ${hi}, got ${JSON.stringify(word)}`);
  }
  return n;
}

// The units are lib/units.ts's, the grammar topology files use (docs/cli.md "Units"):
// these only put the command and the word in front of its message.

function unit<T>(cmd: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new CommandError(`${cmd}: ${what}: ${(e as Error).message}`);
  }
}

/** "10ms", "250us", "1.5s", "2m" to microseconds (a bare number is milliseconds, as in dummynet); at most 2147 s. */
export function duration(cmd: string, what: string, word: string): number {
  const us = unit(cmd, what, () => parseDuration(word));
  if (us > 0x7fffffff) throw new CommandError(`${cmd}: ${what} ${word} is longer than 2147 s`);
  return us;
}

/** "1%", "0.5%" or a fraction "0.01" to a probability in [0, 1]. */
export function probability(cmd: string, what: string, word: string): number {
  return unit(cmd, what, () => parseProbability(word));
}

/** "10Mbit", "1Gbit/s", "512kbps", "100M" (bits), "10MB/s" (bytes) to bit/s. */
export function rate(cmd: string, what: string, word: string): number {
  return unit(cmd, what, () => parseRate(word));
}
