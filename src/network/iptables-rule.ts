/**
 * Reading iptables rules as `iptables -S` prints them, to find and delete rkt's own by comment.
 */

/**
 * Splits a rule as `iptables -S` prints it into arguments: words, and double-quoted strings with
 * backslash escapes (`--comment "name: \"default\" id: \"x\""`).
 *
 * @example
 * splitRule('-A POSTROUTING -m comment --comment "name: \\"default\\" id: \\"x\\"" -j CNI-1');
 * // ["-A", "POSTROUTING", "-m", "comment", "--comment", 'name: "default" id: "x"', "-j", "CNI-1"]
 */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === " ") {
      i++;
      continue;
    }
    let word = "";
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length) i++;
        word += line.charAt(i);
        i++;
      }
      i++;
    } else {
      while (i < line.length && line[i] !== " ") word += line.charAt(i++);
    }
    out.push(word);
  }
  return out;
}
