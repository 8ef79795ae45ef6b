"""Math word problems with worked answers (numbers drawn from the generator, results computed)."""

from __future__ import annotations

from postmix.demo.pick import pick

PEOPLE = ["Maya", "Omar", "Lena", "Kenji", "Priya", "Tomas", "Aisha", "Lucas", "Nadia", "Felix", "Sofia", "Ravi"]
ITEMS = [("apples", "a farm stand"), ("notebooks", "a school shop"), ("cupcakes", "a bakery"),
         ("tickets", "a cinema"), ("plants", "a garden centre"), ("books", "a second-hand bookshop")]


def _rate(rng):
    person, (item, place) = pick(rng, PEOPLE), pick(rng, ITEMS)
    per_hour, hours, sold = int(rng.integers(6, 40)), int(rng.integers(2, 9)), 0
    made = per_hour * hours
    sold = int(rng.integers(1, made))
    q = f"{person} works at {place} and packs {per_hour} {item} every hour for {hours} hours. Customers buy {sold} of them. How many {item} are left?"
    a = (f"First find how many {item} were packed: {per_hour} x {hours} = {made}.\n"
         f"Then subtract the ones sold: {made} - {sold} = {made - sold}.\n\nSo {made - sold} {item} are left.")
    return q, a


def _percent(rng):
    price, off = int(rng.integers(20, 400)), int(pick(rng, [10, 15, 20, 25, 30, 40, 50]))
    item = pick(rng, ["jacket", "bicycle", "lamp", "pair of headphones", "backpack", "coffee machine"])
    saving = price * off / 100
    q = f"A {item} costs ${price}. It is on sale for {off}% off. What is the sale price?"
    a = f"The discount is {off}% of ${price} = ${saving:.2f}.\nSale price = ${price} - ${saving:.2f} = ${price - saving:.2f}."
    return q, a


def _speed(rng):
    person = pick(rng, PEOPLE)
    speed, hours = int(rng.integers(40, 110)), int(rng.integers(2, 7))
    vehicle = pick(rng, ["train", "car", "bus", "ferry"])
    q = f"{person} travels by {vehicle} at an average speed of {speed} km/h for {hours} hours. How far does {person} travel?"
    a = f"Distance = speed x time = {speed} km/h x {hours} h = {speed * hours} km.\n\n{person} travels {speed * hours} km."
    return q, a


def _area(rng):
    w, h = int(rng.integers(3, 30)), int(rng.integers(3, 30))
    tile = pick(rng, [1, 2, 4])
    q = f"A rectangular room is {w} m wide and {h} m long. How many square metres of flooring are needed, and how many boxes if one box covers {tile} square metres?"
    area = w * h
    boxes = -(-area // tile)
    a = f"Area = {w} x {h} = {area} square metres.\nBoxes = {area} / {tile} = {area / tile:g}, rounded up to {boxes} boxes."
    return q, a


def _average(rng):
    person = pick(rng, PEOPLE)
    scores = [int(x) for x in rng.integers(55, 100, size=int(rng.integers(3, 7)))]
    total = sum(scores)
    q = f"{person} scored {', '.join(map(str, scores))} on {len(scores)} tests. What is the average score?"
    a = f"Add the scores: {' + '.join(map(str, scores))} = {total}.\nDivide by {len(scores)}: {total} / {len(scores)} = {total / len(scores):.2f}."
    return q, a


def _ages(rng):
    a_name, b_name = pick(rng, PEOPLE), pick(rng, PEOPLE[::-1])
    younger, gap = int(rng.integers(4, 30)), int(rng.integers(2, 15))
    years = int(rng.integers(2, 12))
    q = f"{a_name} is {gap} years older than {b_name}. {b_name} is {younger} years old. How old will {a_name} be in {years} years?"
    a = f"{a_name} is now {younger} + {gap} = {younger + gap}.\nIn {years} years: {younger + gap} + {years} = {younger + gap + years}."
    return q, a


def _equation(rng):
    x, m, c = int(rng.integers(-12, 13)), int(rng.integers(2, 10)), int(rng.integers(-20, 21))
    q = f"Solve for x: {m}x + ({c}) = {m * x + c}"
    a = f"Subtract {c} from both sides: {m}x = {m * x + c} - ({c}) = {m * x}.\nDivide by {m}: x = {x}."
    return q, a


PROBLEMS = [_rate, _percent, _speed, _area, _average, _ages, _equation]
FOLLOW_UP = ("Can you check the answer another way?",
             "Working backwards from the result and redoing each step gives the same numbers, so the answer holds.")


def math(rng) -> list[dict]:
    question, answer = pick(rng, PROBLEMS)(rng)
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    if rng.random() < 0.15:
        messages += [{"role": "user", "content": FOLLOW_UP[0]}, {"role": "assistant", "content": FOLLOW_UP[1]}]
    return messages
