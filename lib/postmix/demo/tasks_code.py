"""Coding conversations: a request in one of several languages and an answer with a code block and an explanation."""

from __future__ import annotations

from postmix.demo.pick import pick

# (request, python body, javascript body, explanation); {f} is the function name.
CODE_TASKS = [
    ("reverses a string", "def {f}(text):\n    return text[::-1]",
     "function {f}(text) {{\n  return text.split('').reverse().join('');\n}}",
     "Slicing with a step of -1 walks the string from the end to the start."),
    ("returns the n-th Fibonacci number", "def {f}(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
     "function {f}(n) {{\n  let a = 0, b = 1;\n  for (let i = 0; i < n; i++) {{ [a, b] = [b, a + b]; }}\n  return a;\n}}",
     "The loop keeps only the last two values, so it runs in O(n) time and O(1) memory."),
    ("checks whether a number is prime", "def {f}(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n        if n % i == 0:\n            return False\n        i += 1\n    return True",
     "function {f}(n) {{\n  if (n < 2) return false;\n  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;\n  return true;\n}}",
     "Trial division only needs to test divisors up to the square root of n."),
    ("counts how often each word appears in a text", "from collections import Counter\n\ndef {f}(text):\n    return Counter(text.lower().split())",
     "function {f}(text) {{\n  const counts = {{}};\n  for (const w of text.toLowerCase().split(/\\s+/)) counts[w] = (counts[w] || 0) + 1;\n  return counts;\n}}",
     "Lower-casing first makes 'The' and 'the' count as the same word."),
    ("removes duplicates from a list while keeping the order", "def {f}(items):\n    seen = set()\n    return [x for x in items if not (x in seen or seen.add(x))]",
     "function {f}(items) {{\n  return [...new Set(items)];\n}}",
     "A set remembers what was already seen; insertion order is preserved."),
    ("flattens a nested list", "def {f}(nested):\n    out = []\n    for item in nested:\n        if isinstance(item, list):\n            out.extend({f}(item))\n        else:\n            out.append(item)\n    return out",
     "function {f}(nested) {{\n  return nested.flat(Infinity);\n}}",
     "The recursion descends into every inner list until only scalars remain."),
    ("computes the median of a list of numbers", "def {f}(values):\n    s = sorted(values)\n    mid = len(s) // 2\n    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2",
     "function {f}(values) {{\n  const s = [...values].sort((a, b) => a - b);\n  const m = Math.floor(s.length / 2);\n  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;\n}}",
     "For an even count the median is the mean of the two middle values."),
    ("validates an email address with a regular expression", "import re\n\ndef {f}(address):\n    return re.fullmatch(r\"[^@\\s]+@[^@\\s]+\\.[a-z]{{2,}}\", address, re.I) is not None",
     "function {f}(address) {{\n  return /^[^@\\s]+@[^@\\s]+\\.[a-z]{{2,}}$/i.test(address);\n}}",
     "The pattern is deliberately simple; real validation means sending a confirmation mail."),
    ("merges two sorted lists into one sorted list", "def {f}(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]",
     "function {f}(a, b) {{\n  const out = [];\n  let i = 0, j = 0;\n  while (i < a.length && j < b.length) out.push(a[i] <= b[j] ? a[i++] : b[j++]);\n  return out.concat(a.slice(i), b.slice(j));\n}}",
     "Each step takes the smaller head, so the merge is linear in the total length."),
    ("converts a temperature from Celsius to Fahrenheit", "def {f}(celsius):\n    return celsius * 9 / 5 + 32",
     "function {f}(celsius) {{\n  return celsius * 9 / 5 + 32;\n}}",
     "Multiply by 9/5 and add 32; 100 degrees Celsius gives 212 Fahrenheit."),
    ("groups a list of records by a key", "from collections import defaultdict\n\ndef {f}(records, key):\n    groups = defaultdict(list)\n    for r in records:\n        groups[r[key]].append(r)\n    return dict(groups)",
     "function {f}(records, key) {{\n  return records.reduce((g, r) => ((g[r[key]] ||= []).push(r), g), {{}});\n}}",
     "Each record is appended to the list of its key value."),
    ("reads a CSV file and returns the rows as dictionaries", "import csv\n\ndef {f}(path):\n    with open(path, newline='') as handle:\n        return list(csv.DictReader(handle))",
     "const fs = require('fs');\n\nfunction {f}(path) {{\n  const [header, ...lines] = fs.readFileSync(path, 'utf8').trim().split('\\n');\n  const keys = header.split(',');\n  return lines.map(l => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));\n}}",
     "DictReader uses the header row as keys; the JavaScript version ignores quoted commas."),
]
NAMES = ["solve", "compute", "process", "helper", "transform", "run_task", "handle", "calc"]
REQUESTS = ["Write a {lang} function that {task}.", "Can you show me how to write a function in {lang} that {task}?",
            "I need a {lang} snippet that {task}. Please keep it short.", "How do I implement a function that {task} in {lang}?"]
PROJECTS = ["", "", "I'm building a small web app. ", "This is for a data-cleaning script. ",
            "I'm preparing for a coding interview. ", "It's part of a school assignment. ", "I'm refactoring old code. ",
            "This is for a command-line tool. "]
FOLLOW_UPS = [
    ("How would I test it?", "You can check a few known cases:\n\n```python\nassert {f}({example}) == {expected}\n```\n\nPut such checks in a test file and run them with pytest so every change is verified."),
    ("What is the time complexity?", "It runs in linear time in the size of its input for typical cases; the explanation above shows why no step repeats work."),
    ("Could you add a docstring?", "Sure, a docstring goes right under the signature:\n\n```python\ndef {f}(...):\n    \"\"\"{doc}\"\"\"\n```\n\nKeep it to one sentence that says what the function returns."),
]
SQL_TASKS = [
    ("find the ten customers with the highest total order value", "SELECT customer_id, SUM(amount) AS total\nFROM orders\nGROUP BY customer_id\nORDER BY total DESC\nLIMIT 10;"),
    ("count the orders per month in 2023", "SELECT date_trunc('month', created_at) AS month, COUNT(*)\nFROM orders\nWHERE created_at >= '2023-01-01' AND created_at < '2024-01-01'\nGROUP BY 1\nORDER BY 1;"),
    ("list the products that were never ordered", "SELECT p.id, p.name\nFROM products p\nLEFT JOIN order_items oi ON oi.product_id = p.id\nWHERE oi.product_id IS NULL;"),
    ("find duplicate email addresses in the users table", "SELECT email, COUNT(*)\nFROM users\nGROUP BY email\nHAVING COUNT(*) > 1;"),
]


def coding(rng) -> list[dict]:
    if rng.random() < 0.2:
        request, query = pick(rng, SQL_TASKS)
        return [{"role": "user", "content": f"Write an SQL query to {request}."},
                {"role": "assistant", "content": f"```sql\n{query}\n```\n\nThe query {request.split(' ', 1)[1]} "
                                                 "using only standard SQL, so it runs on PostgreSQL and most others."}]
    task, py, js, why = pick(rng, CODE_TASKS)
    name = pick(rng, NAMES)
    lang = "Python" if rng.random() < 0.65 else "JavaScript"
    body = (py if lang == "Python" else js).format(f=name)
    fence = "python" if lang == "Python" else "javascript"
    context = pick(rng, PROJECTS)
    messages = [{"role": "user", "content": context + pick(rng, REQUESTS).format(lang=lang, task=task)},
                {"role": "assistant", "content": f"Here is a {lang} function that {task}:\n\n```{fence}\n{body}\n```\n\n{why}"}]
    if rng.random() < 0.3:
        question, answer = pick(rng, FOLLOW_UPS)
        messages += [{"role": "user", "content": question},
                     {"role": "assistant", "content": answer.format(f=name, example="...", expected="...",
                                                                    doc=f"Return the result of a function that {task}.")}]
    return messages
