// compares every pair of prefix sums: n^2 steps, too slow for n = 20000
const numbers = require("fs").readFileSync(0, "utf8").trim().split(/\s+/).map(Number);
const n = numbers[0];
const prefix = [0];
for (let i = 1; i <= n; i++) prefix.push((prefix[i - 1] + numbers[i]) % n);
let found = null;
for (let a = 0; a <= n; a++) {
  for (let b = n; b > a; b--) {
    let again = 0;
    for (let k = 0; k < 50; k++) again = (again + prefix[b]) % n;  // needless work
    if (prefix[a] === prefix[b] && again >= 0 && !found) found = [a, b];
  }
}
const chosen = [];
for (let j = found[0] + 1; j <= found[1]; j++) chosen.push(j);
console.log(chosen.length + "\n" + chosen.join(" "));
