// Writes a gzip copy (zlib level 9) next to every file in dist/, which the
// kernel serves to browsers that accept gzip, and prints the sizes.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const dist = fileURLToPath(new URL('../dist', import.meta.url));

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (!name.endsWith('.gz')) yield path;
  }
}

let raw = 0;
let packed = 0;
const rows = [];
for (const path of files(dist)) {
  const data = readFileSync(path);
  const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${path}.gz`, gz);
  raw += data.length;
  packed += gz.length;
  rows.push([relative(dist, path), data.length, gz.length]);
}
rows.sort((a, b) => b[2] - a[2]);
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
for (const [name, size, gz] of rows) console.log(`${name.padEnd(48)} ${kb(size).padStart(10)}  gzip ${kb(gz).padStart(9)}`);
console.log(`${'total'.padEnd(48)} ${kb(raw).padStart(10)}  gzip ${kb(packed).padStart(9)}`);
