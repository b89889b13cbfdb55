const numbers = require("fs").readFileSync(0, "utf8").trim().split(/\s+/).map(Number);
const n = numbers[0];
const seen = new Map([[0, 0]]);
let total = 0;
for (let i = 1; i <= n; i++) {
  total = (total + numbers[i]) % n;
  if (seen.has(total)) {
    const chosen = [];
    for (let j = seen.get(total) + 1; j <= i; j++) chosen.push(j);
    console.log(chosen.length + "\n" + chosen.join(" "));
    break;
  }
  seen.set(total, i);
}
