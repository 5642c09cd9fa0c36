// ipfw's rule language on the host (platform-neutral: no Node import): compile rule text to
// the words of docs/ipfw_insn.md, print words as `ipfw list`/`ipfw show` do, and run `ipfw`
// commands over an IpfwBackend (a vnet's firewall in the kernel, or one in memory).
export { compileRule, compileRules, parseRule, tokenize, type CompileOptions, type CompiledRule } from "./parse.js";
export { formatRule, formatRules, type FormatOptions } from "./print.js";
export { IpfwParseError } from "./errors.js";
export { IpfwDecodeError, decodeRule, type Insn as IpfwInsn, type RuleWords as IpfwRuleWords } from "./insn.js";
export {
  ipfwCommand, nextRuleNumber, decodeRuleList, formatLog, IpfwCommandError,
  type IpfwBackend, type IpfwRuleEntry, type IpfwStateEntry, type IpfwLogLine, type IpfwCommandOptions,
} from "./command.js";
export { kernelIpfwBackend } from "./backend.js";
export {
  parseTableCommand, runTableCommand, formatTableEntry, formatTableKey, formatTableInfo, IpfwTableCommandError,
  type IpfwTableBackend, type TableCommand, type TableEntry, type TableKey, type TableInfo,
} from "./table.js";
export { kernelIfnames } from "./ifnames.js";
export {
  parseNatCommand, parseNatConfig, natConfigWords, formatNatConfig,
  type NatConfig, type NatRedirectPort, type NatCommand,
} from "./nat.js";
