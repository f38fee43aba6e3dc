// Builds the signing page's script into ../src/loginless/signing/static/ (sign.js: pdf.js and signature_pad;
// pdf.worker.js: pdf.js's worker), committed so the service needs no Node at run time. Run: npm ci && npm run build
import { build } from 'esbuild'
import { copyFileSync, readFileSync } from 'node:fs'

const here = new URL('.', import.meta.url)
const versions = ['pdfjs-dist', 'signature_pad'].map(
  (name) => `${name}@${JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, here))).version}`,
)

await build({
  entryPoints: [new URL('src/sign.js', here).pathname],
  outfile: new URL('../src/loginless/signing/static/sign.js', here).pathname,
  bundle: true,
  minify: true,
  format: 'esm', // pdf.js is an ES module; the page loads this with <script type="module">
  target: ['es2022'],
  legalComments: 'eof',
  banner: { js: `/* loginless signing page; bundles ${versions.join(', ')}. Source: services/signing/frontend */` },
})
// The pdf.js worker as published, renamed .js so any server sends it with a JavaScript content type.
copyFileSync(new URL('node_modules/pdfjs-dist/build/pdf.worker.min.mjs', here),
  new URL('../src/loginless/signing/static/pdf.worker.js', here))
console.log(`built sign.js with ${versions.join(', ')}`)
