"""Non-code, non-math task types: creative writing, editing/summarisation, brainstorming, role play, advice,
information seeking, classification, planning and data analysis. Each has its own topics and vocabulary so the
task types form distinct clusters in embedding space."""

from __future__ import annotations

from postmix.demo.pick import pick, sample

# ---------------------------------------------------------------- creative writing
POEM_SUBJECTS = ["the sea at night", "an old lighthouse", "autumn leaves", "a city waking up", "a cat on a windowsill",
                 "the first snow", "a train leaving the station", "a forgotten garden", "the moon over the desert",
                 "a rainy Sunday", "a mountain lake", "a grandmother's kitchen"]
IMAGES = ["silver light spills over {s}", "the wind keeps its quiet promises", "a lantern hums in the dark",
          "footsteps fade along the shore", "the clocks forget their hours", "a small bird counts the stars",
          "old stones remember summer", "the fog folds into the hills", "a door opens onto morning",
          "the river carries borrowed songs", "the streets breathe slow and warm", "a candle bows to the draught"]
STORY_HEROES = ["a retired astronaut", "a shy baker", "a lighthouse keeper", "a teenage inventor", "a stray dog",
                "a librarian with a secret", "a time-travelling courier", "a detective who hates rain"]
STORY_TWISTS = ["finds a map hidden inside a loaf of bread", "receives a letter dated fifty years in the future",
                "discovers the town's clocks have all stopped at 3:17", "hears music coming from an empty house",
                "is asked to deliver a package that ticks"]


def creative_writing(rng) -> list[dict]:
    if rng.random() < 0.5:
        subject = pick(rng, POEM_SUBJECTS)
        style = pick(rng, ["a haiku sequence", "free verse", "rhyming couplets", "a sonnet-like form"])
        lines = [line.format(s=subject) for line in sample(rng, IMAGES, int(rng.integers(4, 9)))]
        return [{"role": "user", "content": f"Write a short poem about {subject} as {style}."},
                {"role": "assistant", "content": f"**{subject.title()}**\n\n" + "\n".join(l.capitalize() for l in lines)}]
    hero, twist = pick(rng, STORY_HEROES), pick(rng, STORY_TWISTS)
    place = pick(rng, ["village", "harbour town", "mountain hamlet", "sleepy suburb", "desert outpost", "island"])
    opening = (f"Nobody in the {place} paid much attention to {hero}, until the morning {hero.split(' ', 1)[1]} {twist}. "
               f"At first it seemed like a joke. Then the second sign appeared, and the third, and by evening "
               f"the whole street was whispering. {pick(rng, ['Curiosity won.', 'Fear came later.', 'There was no going back.'])}")
    return [{"role": "user", "content": f"Write the opening paragraph of a story about {hero} who {twist}."},
            {"role": "assistant", "content": opening}]


# ---------------------------------------------------------------- editing and summarisation
PARAGRAPH_TOPICS = {
    "remote work": ["Remote work has changed how teams communicate.", "Meetings moved to video calls and chat threads.",
                    "Many employees report better focus at home.", "Managers worry about onboarding new hires.",
                    "Hybrid schedules try to keep the best of both."],
    "urban cycling": ["Cities are building more protected bike lanes.", "Cycling reduces traffic and air pollution.",
                      "Riders still fear crowded intersections.", "Bike-share schemes make short trips cheap.",
                      "Winter weather remains the biggest obstacle."],
    "coral reefs": ["Coral reefs cover a tiny share of the ocean floor.", "They shelter about a quarter of marine species.",
                    "Warming water causes corals to bleach.", "Some reefs recover when pressure is reduced.",
                    "Scientists are testing heat-tolerant corals."],
    "sleep": ["Adults need seven to nine hours of sleep.", "Screens late at night delay falling asleep.",
              "Regular bedtimes help the body clock.", "Short naps can improve alertness.",
              "Chronic sleep loss affects mood and memory."],
    "electric cars": ["Electric car sales keep rising every year.", "Battery prices have fallen sharply.",
                      "Charging networks are uneven between regions.", "Running costs are lower than for petrol cars.",
                      "Range anxiety is fading as batteries improve."],
}
MISTAKES = [("their", "there"), ("is", "are"), ("has", "have"), ("its", "it's"), ("affect", "effect")]


def editing(rng) -> list[dict]:
    topic = pick(rng, sorted(PARAGRAPH_TOPICS))
    sentences = sample(rng, PARAGRAPH_TOPICS[topic], int(rng.integers(3, 6)))
    paragraph = " ".join(sentences)
    kind = int(rng.integers(3))
    if kind == 0:
        return [{"role": "user", "content": f"Summarize this paragraph in one sentence:\n\n{paragraph}"},
                {"role": "assistant", "content": f"In short: {sentences[0][:-1].lower()}, while {sentences[-1][0].lower()}{sentences[-1][1:]}"}]
    if kind == 1:
        return [{"role": "user", "content": f"Rewrite this in a more formal tone:\n\n{paragraph}"},
                {"role": "assistant", "content": "It is widely observed that " + " Furthermore, ".join(
                    s[0].lower() + s[1:] for s in sentences)}]
    right, wrong = pick(rng, MISTAKES)
    broken = paragraph.replace(" is ", f" {wrong} ", 1) if right == "is" else paragraph + f" The {topic} debate {wrong} many sides."
    fixed = paragraph if right == "is" else paragraph + f" The {topic} debate {right} many sides."
    return [{"role": "user", "content": f"Fix the grammar in this text:\n\n{broken}"},
            {"role": "assistant", "content": f"{fixed}\n\nI corrected '{wrong}' to '{right}'."}]


# ---------------------------------------------------------------- brainstorming
IDEA_BANKS = {
    "a rainy weekend with kids": ["build a blanket fort", "bake cookies together", "start a family board game tournament",
                                  "make a paper boat race in the bathtub", "record a pretend radio show", "paint rocks",
                                  "do an indoor treasure hunt", "read a chapter book aloud"],
    "names for a coffee shop": ["The Daily Grind", "Bean There", "Brew Haven", "Common Grounds", "The Roasted Page",
                                "Steam & Story", "Morning Ritual", "Latte Lane"],
    "ways to reduce food waste": ["plan meals before shopping", "store herbs in water", "freeze ripe bananas",
                                 "use leftovers for soups", "compost peels", "label containers with dates",
                                 "buy loose vegetables", "share extra food with neighbours"],
    "team-building activities": ["an escape room", "a cooking class", "a volunteer day", "a hackathon",
                                 "a quiz night", "a hiking trip", "a lunch-and-learn series", "a photo scavenger hunt"],
    "topics for a science fair": ["how salt affects ice melting", "which paper towel absorbs most",
                                  "plant growth under coloured light", "homemade batteries from lemons",
                                  "the best shape for a paper airplane", "how temperature changes yeast activity"],
    "side projects for a programmer": ["a personal budget tracker", "a recipe scaler", "a habit-tracking bot",
                                       "a static blog generator", "a plant-watering reminder", "a CLI for notes"],
}


def brainstorming(rng) -> list[dict]:
    topic = pick(rng, sorted(IDEA_BANKS))
    ideas = sample(rng, IDEA_BANKS[topic], int(rng.integers(4, 7)))
    return [{"role": "user", "content": f"Give me {len(ideas)} ideas for {topic}."},
            {"role": "assistant", "content": "\n".join(f"{i}. {idea[0].upper()}{idea[1:]}" for i, idea in enumerate(ideas, 1))}]


# ---------------------------------------------------------------- role play
ROLES = [("a pirate captain", "Arr, welcome aboard the Salty Gull!", "We sail at dawn for the Isle of Fog, where the old charts promise buried silver."),
         ("a medieval innkeeper", "Come in from the cold, traveller! A bowl of stew is two copper coins.", "Rooms are upstairs; mind the third step, it creaks louder than my wife."),
         ("a tour guide in ancient Rome", "Salve! Before you stands the Forum, the beating heart of the city.", "Senators argue here by day, and merchants shout their prices until sunset."),
         ("a starship computer", "Systems online. Good morning, Commander.", "Hull integrity is at 98 percent and the nebula ahead shows unusual radiation."),
         ("a detective in 1920s Chicago", "Name's Malone. Sit down and tell me who's missing.", "This city keeps its secrets in smoky back rooms, but everybody talks eventually.")]
VISITORS = ["Aria", "Bram", "Chen", "Dario", "Elif", "Farah", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lior"]
VISITOR_JOBS = ["a travelling merchant", "a young scholar", "a lost musician", "a retired soldier", "a curious reporter",
                "a cartographer"]
ROLE_QUESTIONS = ["What should I do first?", "Tell me more about this place.", "Is it dangerous here?", "What happens next?"]


def role_play(rng) -> list[dict]:
    role, greeting, follow = pick(rng, ROLES)
    messages = [{"role": "system", "content": f"You are {role}. Stay in character."}] if rng.random() < 0.5 else []
    name, job = pick(rng, VISITORS), pick(rng, VISITOR_JOBS)
    messages += [{"role": "user", "content": f"Let's role play. You are {role}. I am {name}, {job}, and I have just arrived."},
                 {"role": "assistant", "content": f"{greeting} {name}, is it? We don't see {job.split(' ', 1)[1]}s here often."},
                 {"role": "user", "content": pick(rng, ROLE_QUESTIONS)},
                 {"role": "assistant", "content": follow}]
    return messages


# ---------------------------------------------------------------- advice
ADVICE = {
    "sleep better": ["keep the same bedtime every night", "avoid caffeine after lunch", "keep screens out of the bedroom",
                     "get daylight in the morning", "keep the room cool and dark"],
    "prepare for a job interview": ["research the company's products", "practise answers to common questions aloud",
                                    "prepare two stories about problems you solved", "write down questions for them",
                                    "plan your route and arrive ten minutes early"],
    "save money on groceries": ["make a list and stick to it", "buy store brands", "cook in batches",
                                "compare unit prices", "never shop hungry"],
    "start running": ["begin with run-walk intervals", "buy shoes that fit well", "increase distance by about ten percent a week",
                      "rest at least one day between runs", "warm up with brisk walking"],
    "deal with a difficult coworker": ["talk privately and calmly", "describe behaviour, not personality",
                                       "listen to their side", "agree on one concrete change", "document repeated problems"],
    "learn a new language": ["practise a little every day", "use spaced-repetition flashcards", "listen to podcasts",
                             "find a conversation partner", "label things around your home"],
}


def advice(rng) -> list[dict]:
    goal = pick(rng, sorted(ADVICE))
    tips = sample(rng, ADVICE[goal], int(rng.integers(3, 6)))
    opener = pick(rng, ["How can I {g}?", "Any tips to {g}?", "I'm struggling to {g}. What would you suggest?"])
    return [{"role": "user", "content": opener.format(g=goal)},
            {"role": "assistant", "content": f"Here are some things that help you {goal}:\n\n"
                                             + "\n".join(f"- {t[0].upper()}{t[1:]}." for t in tips)
                                             + "\n\nStart with one change and add the next once it feels routine."}]


# ---------------------------------------------------------------- information seeking
FACTS = {
    "photosynthesis": "Photosynthesis is the process plants use to turn light, water and carbon dioxide into glucose and oxygen. It happens in the chloroplasts, where chlorophyll absorbs mostly red and blue light.",
    "a black hole": "A black hole is a region of space where gravity is so strong that nothing, not even light, can escape. It forms when a massive star collapses at the end of its life.",
    "inflation": "Inflation is the general rise in prices over time, which reduces what a unit of money can buy. Central banks usually aim for about two percent a year.",
    "the water cycle": "The water cycle moves water between the oceans, the air and the land through evaporation, condensation, precipitation and runoff.",
    "DNA": "DNA is the molecule that carries genetic instructions in living things. It is a double helix of four bases: adenine, thymine, guanine and cytosine.",
    "the French Revolution": "The French Revolution began in 1789 and ended the absolute monarchy in France. It spread ideas of citizenship and rights across Europe.",
    "machine learning": "Machine learning is a field of computer science where programs learn patterns from data instead of following hand-written rules.",
    "plate tectonics": "Plate tectonics explains how Earth's outer shell is split into plates that move slowly, causing earthquakes, volcanoes and mountain ranges.",
    "the immune system": "The immune system defends the body against infection using white blood cells, antibodies and barriers such as the skin.",
    "compound interest": "Compound interest is interest earned on both the original amount and the interest already added, so savings grow faster over time.",
    "the Great Barrier Reef": "The Great Barrier Reef, off the coast of Queensland, Australia, is the largest coral reef system in the world and can be seen from space.",
    "a vaccine": "A vaccine trains the immune system to recognise a germ by showing it a harmless piece or weakened form of that germ.",
}
FACTS.update({
    "the printing press": "The printing press with movable metal type was developed by Johannes Gutenberg around 1440. It made books cheaper and helped spread literacy across Europe.",
    "an earthquake": "An earthquake is the shaking of the ground when rocks along a fault suddenly slip. Its energy travels outward as seismic waves.",
    "supply and demand": "Supply and demand describes how prices settle where the amount sellers offer meets the amount buyers want.",
    "the Roman Empire": "The Roman Empire ruled the Mediterranean world for centuries, reaching its largest extent under Trajan around 117 AD.",
    "a neural network": "A neural network is a model made of layers of simple units whose connection weights are adjusted during training to fit data.",
    "climate change": "Climate change is the long-term shift in temperatures and weather patterns, driven mainly by greenhouse gases from burning fossil fuels.",
    "the stock market": "The stock market is where shares of public companies are bought and sold, letting companies raise money and investors own a part of them.",
    "antibiotics": "Antibiotics are medicines that kill bacteria or stop them from multiplying. They do not work against viruses.",
})
AUDIENCES = [("", ""), ("I'm studying for an exam. ", "For the exam, learn the key terms and one example."),
             ("My ten-year-old asked me this. ", "For a child, a picture or a simple experiment makes it stick."),
             ("I'm writing a blog post. ", "For a blog post, start with an everyday example readers recognise."),
             ("Quick question. ", ""), ("I never understood this at school. ", "Don't worry: most people learn it properly only later."),
             ("I'm preparing a short presentation. ", "For slides, one diagram usually says more than a paragraph."),
             ("Out of curiosity, ", "")]
WHY_IT_MATTERS = ["Why does it matter in everyday life?", "Where can I learn more?", "Is there a common misconception about it?"]
QUESTION_FORMS = ["What is {t}?", "Can you explain {t} in simple terms?", "Tell me about {t}.", "How would you describe {t} to a student?"]


def information_seeking(rng) -> list[dict]:
    topic = pick(rng, sorted(FACTS))
    lead, tail = pick(rng, AUDIENCES)
    question = pick(rng, QUESTION_FORMS).format(t=topic)
    if lead.endswith(", "):
        question = question[0].lower() + question[1:]
    messages = [{"role": "user", "content": lead + question},
                {"role": "assistant", "content": (FACTS[topic] + ("\n\n" + tail if tail else ""))}]
    if rng.random() < 0.25:
        follow = pick(rng, WHY_IT_MATTERS)
        messages += [{"role": "user", "content": follow},
                     {"role": "assistant", "content": f"Understanding {topic} helps you make sense of news, school "
                                                      f"subjects and decisions that depend on it. A good encyclopedia "
                                                      f"article or an introductory textbook chapter on {topic} is a "
                                                      f"reliable next step."}]
    return messages


# ---------------------------------------------------------------- classification
POSITIVE = ["arrived quickly and works perfectly", "is the best purchase I made this year", "exceeded my expectations",
            "feels sturdy and well made", "made my mornings so much easier"]
NEGATIVE = ["broke after two days", "was nothing like the pictures", "stopped charging within a week",
            "arrived scratched and missing parts", "is far too loud to use"]
PRODUCTS = ["blender", "phone case", "desk lamp", "kettle", "vacuum cleaner", "pair of running shoes"]
ANIMALS = ["dolphin", "sparrow", "salmon", "frog", "eagle", "whale", "lizard", "bat", "shark", "penguin"]
ANIMAL_CLASS = {"dolphin": "mammal", "sparrow": "bird", "salmon": "fish", "frog": "amphibian", "eagle": "bird",
                "whale": "mammal", "lizard": "reptile", "bat": "mammal", "shark": "fish", "penguin": "bird"}


def classification(rng) -> list[dict]:
    if rng.random() < 0.5:
        positive = rng.random() < 0.5
        weeks = int(rng.integers(1, 10))
        review = (f"{pick(rng, ['I bought this', 'Got this', 'Ordered this'])} {pick(rng, PRODUCTS)} {weeks} "
                  f"week{'s' if weeks > 1 else ''} ago and it {pick(rng, POSITIVE if positive else NEGATIVE)}.")
        return [{"role": "user", "content": f"Classify the sentiment of this review as positive or negative: \"{review}\""},
                {"role": "assistant", "content": "Positive." if positive else "Negative."}]
    animals = sample(rng, ANIMALS, int(rng.integers(3, 6)))
    return [{"role": "user", "content": f"Classify each animal as mammal, bird, fish, reptile or amphibian: {', '.join(animals)}."},
            {"role": "assistant", "content": "\n".join(f"{a.capitalize()}: {ANIMAL_CLASS[a]}" for a in animals)}]


# ---------------------------------------------------------------- planning
CITIES = {"Lisbon": ["ride tram 28 through Alfama", "visit the Belem tower", "eat pasteis de nata", "watch sunset at a miradouro"],
          "Kyoto": ["walk the Fushimi Inari gates", "visit a tea house in Gion", "see the bamboo grove", "tour Kinkaku-ji"],
          "Edinburgh": ["climb Arthur's Seat", "walk the Royal Mile", "visit the castle", "explore Dean Village"],
          "Mexico City": ["see the murals at the Palacio Nacional", "visit the Frida Kahlo museum", "eat tacos al pastor", "boat through Xochimilco"],
          "Vancouver": ["cycle the Stanley Park seawall", "visit Granville Island market", "hike the Grouse Grind", "walk in Gastown"]}

TRAVELLERS = [("a first-time visitor", "Book accommodation near the centre to keep travel times short."),
              ("a family with two young kids", "Plan one indoor option per day in case the children get tired."),
              ("a traveller on a tight budget", "A multi-day transit pass and picnic lunches keep costs down."),
              ("a food lover", "Reserve one special dinner in advance and eat street food the other nights."),
              ("a couple on their honeymoon", "Leave the afternoons open; the best moments are rarely scheduled."),
              ("someone who hates crowds", "Start each day early, before the tour groups arrive.")]


def planning(rng) -> list[dict]:
    if rng.random() < 0.6:
        city = pick(rng, sorted(CITIES))
        days = int(rng.integers(2, 5))
        activities = sample(rng, CITIES[city], 4)
        plan = "\n".join(f"Day {d + 1}: {activities[d % 4][0].upper()}{activities[d % 4][1:]}, then a relaxed evening meal nearby."
                         for d in range(days))
        who, tip = pick(rng, TRAVELLERS)
        return [{"role": "user", "content": f"Plan a {days}-day trip to {city} for {who}."},
                {"role": "assistant", "content": f"{plan}\n\n{tip}"}]
    subject = pick(rng, ["calculus exam", "driving test", "piano recital", "marathon", "product launch"])
    weeks, hours = int(rng.integers(3, 9)), int(rng.integers(3, 15))
    return [{"role": "user", "content": f"Help me make a {weeks}-week plan to prepare for a {subject}. "
                                        f"I have about {hours} hours a week."},
            {"role": "assistant", "content": "\n".join(
                [f"Week 1: assess where you stand for the {subject} and set a clear goal.",
                 f"Weeks 2-{weeks - 1}: split your {hours} hours into {min(hours, 5)} focused sessions and track progress weekly.",
                 f"Week {weeks}: rehearse the real conditions and rest before the day."])}]


# ---------------------------------------------------------------- data analysis
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
METRICS = ["sales (units)", "website visits (thousands)", "support tickets", "revenue ($k)"]


def data_analysis(rng) -> list[dict]:
    metric = pick(rng, METRICS)
    values = [int(v) for v in rng.integers(20, 200, size=6)]
    table = "| month | value |\n|---|---|\n" + "\n".join(f"| {m} | {v} |" for m, v in zip(MONTHS, values))
    best = MONTHS[values.index(max(values))]
    trend = "upward" if values[-1] > values[0] else "downward"
    mean = sum(values) / len(values)
    return [{"role": "user", "content": f"Here is our monthly {metric}:\n\n{table}\n\nWhat is the average, which month was highest, and what is the trend?"},
            {"role": "assistant", "content": f"- Average: {sum(values)} / 6 = {mean:.1f}\n- Highest month: {best} ({max(values)})\n"
                                             f"- Trend: {trend} from {values[0]} in Jan to {values[-1]} in Jun "
                                             f"({(values[-1] - values[0]) / values[0] * 100:+.0f}%)."}]
