// The one error a rule's text can raise. Every message names the rule (its number, or its
// index in a list when it has none) and the 1-based column where the text went wrong, then
// says what was expected and what was found:
//   rule 100, column 23: expected an address after "from", found "80"

export class IpfwParseError extends Error {
  /** The rule's number when its text gave one (0 when it was left to auto-numbering). */
  readonly rule: number | undefined;
  /** The rule's index in the list it came from, when the caller gave one. */
  readonly index: number | undefined;
  /** 1-based column in the rule's text; the text's length + 1 for "the end of the rule". */
  readonly column: number;
  /** What the parser wanted there, when the error is one of that kind. */
  readonly expected: string | undefined;
  /** The word it found (undefined at the end of the rule). */
  readonly found: string | undefined;
  /** The message without the rule and column prefix. */
  readonly reason: string;

  constructor(where: { rule?: number; index?: number; column: number }, reason: string, expected?: string, found?: string) {
    super(`${ruleLabel(where.rule, where.index)}, column ${where.column}: ${reason}`);
    this.name = "IpfwParseError";
    this.rule = where.rule;
    this.index = where.index;
    this.column = where.column;
    this.reason = reason;
    this.expected = expected;
    this.found = found;
  }
}

/** "rule 100", "rule at index 3" (an unnumbered rule of a list), or "rule". */
export function ruleLabel(rule: number | undefined, index: number | undefined): string {
  if (rule !== undefined && rule !== 0) return `rule ${rule}`;
  if (index !== undefined) return `rule at index ${index}`;
  return "rule";
}

/** How an error shows the word found: quoted, or "the end of the rule". */
export function foundText(word: string | undefined): string {
  return word === undefined ? "the end of the rule" : JSON.stringify(word);
}
