// Marks dist/esm as ES modules and dist/cjs as CommonJS: the package itself is
// "type": "module", so without these the .js files of dist/cjs would be read
// as ES modules by Node and by bundlers.
import { writeFileSync } from "node:fs";

for (const [dir, type] of [["esm", "module"], ["cjs", "commonjs"]]) {
  writeFileSync(new URL(`../dist/${dir}/package.json`, import.meta.url), JSON.stringify({ type }) + "\n");
}
