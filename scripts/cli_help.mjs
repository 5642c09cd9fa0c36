// After tsc: write `wavnet --help`'s text, made by the command table itself, to
// dist/cli/help.txt, so bin/wavnet.mjs can answer --help without loading the CLI's modules
// (the ES module loader alone costs more than the text). tests/cli_completion.test.ts checks
// the file equals usageText(), so the two cannot drift.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const { usageText } = await import("../dist/cli/command_table.js");
const text = usageText();
writeFileSync(fileURLToPath(new URL("../dist/cli/help.txt", import.meta.url)), text.endsWith("\n") ? text : `${text}\n`);
