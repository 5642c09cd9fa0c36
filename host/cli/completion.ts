// `wavnet completion bash|zsh`: a completion script made from the command table
// (host/cli/command_table.ts): the sub-commands, each one's options, the values an option
// takes (a folder for --pcap, the formats of --format), and topology files (*.yaml, *.yml)
// where a command wants FILE. Nothing here lists a command or an option by hand.

import { COMMANDS, OPTIONS, type CommandSpec, type OptionSpec } from "./command_table.js";
import { EXIT, UsageError, type Io } from "./io.js";

/** Every name an option is written with: "-q --quiet". */
function optionNames(o: OptionSpec): string[] {
  return o.short ? [o.short, o.long] : [o.long];
}

/** A word list for a shell script: only the characters the table uses, checked so a quote cannot slip in. */
function words(list: readonly string[]): string {
  for (const w of list) if (!/^[A-Za-z0-9_.|:-]+$/.test(w)) throw new Error(`completion: ${JSON.stringify(w)} is not a plain word`);
  return list.join(" ");
}

/** The bash script: a function _wavnet for `complete -F`. */
export function bashScript(): string {
  const names = COMMANDS.map((c) => c.name);
  const valueCases: string[] = [];
  const cmdCases: string[] = [];
  for (const c of COMMANDS) {
    const opts = c.options.map((n) => OPTIONS[n]!);
    // An option's value: a folder, a file, one of its words, or something to type (no offer).
    for (const o of opts.filter((x) => x.value)) {
      const pat = optionNames(o).map((n) => `${c.name}:${n}`).join("|");
      const what = o.complete === "dir" ? `COMPREPLY=($(compgen -d -- "$cur"))`
        : o.complete === "file" ? `COMPREPLY=($(compgen -f -- "$cur"))`
        : o.complete === "topology" ? `_wavnet_topology`
        : Array.isArray(o.complete) ? `COMPREPLY=($(compgen -W "${words(o.complete)}" -- "$cur"))`
        : `COMPREPLY=()`;
      valueCases.push(`    ${pat}) ${what}; return 0 ;;`);
    }
    const args = c.complete === "topology" ? "_wavnet_topology"
      : c.complete === "commands" ? `COMPREPLY=($(compgen -W "${words(names)}" -- "$cur"))`
      : Array.isArray(c.complete) ? `COMPREPLY=($(compgen -W "${words(c.complete)}" -- "$cur"))`
      : "";
    const optWords = words(opts.flatMap(optionNames));
    cmdCases.push(`    ${c.name}) opts="${optWords}"; args='${args}' ;;`);
  }
  return `# bash completion for wavnet, made by \`wavnet completion bash\` from its command table.
# Use: source <(wavnet completion bash)   (or save it in ~/.local/share/bash-completion/completions/wavnet)
_wavnet_topology() {
  local f
  COMPREPLY=()
  compopt -o filenames 2>/dev/null
  while IFS= read -r f; do
    if [[ -d $f || $f == *.yaml || $f == *.yml ]]; then COMPREPLY+=("$f"); fi
  done < <(compgen -f -- "$cur")
}
_wavnet() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd=\${COMP_WORDS[1]} opts args
  COMPREPLY=()
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=($(compgen -W "${words(names)} --help --version" -- "$cur"))
    return 0
  fi
  case "$cmd:$prev" in
${valueCases.join("\n")}
  esac
  case "$cmd" in
${cmdCases.join("\n")}
    *) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n $args ]]; then
    eval "$args"
  fi
  return 0
}
complete -F _wavnet wavnet
`;
}

/** A description inside zsh's _arguments brackets: no ], no : unescaped, no quote. */
function zshText(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/[[\]:]/g, (c) => `\\${c}`).replace(/'/g, "'\\''");
}

/** A help text in a few words: the command it is for dropped ("run: "), cut at the first ";" or "(". */
export function brief(help: readonly string[]): string {
  const name = `(?:${COMMANDS.map((c) => c.name).join("|")})`;
  const t = help.join(" ").replace(new RegExp(`^${name}(?:,? (?:and )?${name})*: `), "").split(/; | \(/)[0]!.trim();
  return t.length > 60 ? `${t.slice(0, 59)}…` : t;
}

function zshOption(o: OptionSpec, c: CommandSpec): string {
  const help = zshText(brief(o.help));
  // Options of one group exclude each other: (others) in front.
  const group = o.group ? c.options.filter((n) => n !== o.long && OPTIONS[n]!.group === o.group).flatMap((n) => optionNames(OPTIONS[n]!)) : [];
  const excl = o.short || group.length ? `(${[...optionNames(o), ...group].join(" ")})` : "";
  const v = zshText(o.value ?? "");
  const action = !o.value ? ""
    : o.complete === "dir" ? `:${v}:_files -/`
    : o.complete === "file" ? `:${v}:_files`
    : o.complete === "topology" ? `:${v}:_files -g '*.(yaml|yml)'`
    : Array.isArray(o.complete) ? `:${v}:(${words(o.complete)})`
    : `:${v}: `;
  const rep = o.multiple ? "*" : "";
  return optionNames(o).map((n) => `'${rep || excl}${n}[${help}]${action.replace(/'/g, "'\\''")}'`).join(" ");
}

/** The zsh script: a #compdef function (autoloaded from $fpath, or sourced: it calls compdef). */
export function zshScript(): string {
  const cmds = COMMANDS.map((c) => `    '${c.name}:${zshText(brief(c.help))}'`).join("\n");
  const cases = COMMANDS.map((c) => {
    const specs = c.options.map((n) => zshOption(OPTIONS[n]!, c));
    const arg = c.complete === "topology" ? `'1:topology file:_files -g "*.(yaml|yml)"'`
      : c.complete === "commands" ? `'1:command:(${words(COMMANDS.map((x) => x.name))})'`
      : Array.isArray(c.complete) ? `'1:${zshText(c.args[0]!)}:(${words(c.complete)})'`
      : "";
    return `    ${c.name}) _arguments -s ${[...specs, arg].filter(Boolean).join(" ")} ;;`;
  }).join("\n");
  return `#compdef wavnet
# zsh completion for wavnet, made by \`wavnet completion zsh\` from its command table.
# Use: wavnet completion zsh > ~/.zfunc/_wavnet (a folder on $fpath, before compinit), or
# source <(wavnet completion zsh) after compinit.
_wavnet() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'wavnet command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
  esac
}
if [[ $funcstack[1] == _wavnet ]]; then _wavnet "$@"; else compdef _wavnet wavnet; fi
`;
}

/** wavnet completion bash|zsh */
export function completion(argv: string[], io: Io): number {
  if (argv.length !== 1 || (argv[0] !== "bash" && argv[0] !== "zsh")) throw new UsageError(`wavnet completion: which shell: bash or zsh${argv.length ? `, got ${JSON.stringify(argv.join(" "))}` : ""}`);
  io.stdout.write(argv[0] === "bash" ? bashScript() : zshScript());
  return EXIT.OK;
}
