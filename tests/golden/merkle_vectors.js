// Golden vectors from @openzeppelin/merkle-tree (the reference implementation).
// stdin: JSON [{"encoding": [...types], "values": [[...], ...], "sortLeaves": bool}, ...]
// stdout: JSON [{"root", "proofs": [[...] per value], "multiProof": {...} (first, last and
//          middle value), "dump"}, ...]
// Run from the repository root so that require() finds node_modules.
'use strict';
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

function vectors(spec) {
  const tree = StandardMerkleTree.of(spec.values, spec.encoding, { sortLeaves: spec.sortLeaves });
  const proofs = spec.values.map((_, i) => tree.getProof(i));
  const n = spec.values.length;
  const picks = [...new Set([0, n - 1, Math.floor(n / 2)])];
  const multi = tree.getMultiProof(picks);
  return { root: tree.root, proofs, multiProof: multi, render: tree.render(), dump: tree.dump() };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', chunk => { input += chunk; });
process.stdin.on('end', () => {
  const specs = JSON.parse(input);
  process.stdout.write(JSON.stringify(specs.map(vectors)));
});
