"""Build identity/security/common_passwords.txt (see the recipe in passwords.py)."""

import itertools
import sys

# Classic weak passwords that head every published breach-frequency list
# (RockYou, LinkedIn 2012, Adobe 2013, the yearly "worst passwords" lists),
# plus patterns frequent in Chinese-language and Hong Kong breach corpora.
SEED = [
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "pa55word",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passwordpassword",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "12345",
    "123123",
    "123321",
    "654321",
    "111111",
    "000000",
    "121212",
    "112233",
    "666666",
    "888888",
    "987654321",
    "9876543210",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "qwertyui",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "1qaz2wsx3edc",
    "zaq12wsx",
    "zaq1zaq1",
    "qazwsxedc",
    "qazwsx",
    "asdfghjkl",
    "asdfghjk",
    "asdfgh",
    "zxcvbnm",
    "zxcvbnm123",
    "iloveyou",
    "iloveyou1",
    "iloveyou2",
    "letmein",
    "letmein1",
    "letmein123",
    "welcome",
    "welcome1",
    "welcome123",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "basketball",
    "master",
    "shadow",
    "sunshine",
    "princess",
    "superman",
    "batman",
    "spiderman",
    "trustno1",
    "michael",
    "jennifer",
    "jordan",
    "jordan23",
    "hunter",
    "hunter2",
    "ranger",
    "buster",
    "soccer",
    "hockey",
    "killer",
    "george",
    "charlie",
    "andrew",
    "michelle",
    "love",
    "jessica",
    "pepper",
    "daniel",
    "access",
    "joshua",
    "maggie",
    "starwars",
    "silver",
    "william",
    "dallas",
    "yankees",
    "hello",
    "hello123",
    "amanda",
    "orange",
    "biteme",
    "freedom",
    "computer",
    "thomas",
    "nicole",
    "ginger",
    "heather",
    "hammer",
    "summer",
    "corvette",
    "taylor",
    "austin",
    "merlin",
    "matthew",
    "cheese",
    "butterfly",
    "flower",
    "chocolate",
    "secret",
    "admin",
    "administrator",
    "root",
    "login",
    "abc123",
    "abcd1234",
    "abcdefg",
    "abcdefgh",
    "abcdefghi",
    "abcdefghij",
    "a1b2c3d4",
    "aa123456",
    "aaa111",
    "qq123456",
    "a123456",
    "a12345678",
    "a123456789",
    "abc123456",
    "abc12345",
    "woaini",
    "woaini1314",
    "woaini520",
    "5201314",
    "1314520",
    "520520",
    "11223344",
    "12341234",
    "12344321",
    "asd123",
    "asdasd",
    "asdasdasd",
    "zxc123",
    "qwe123",
    "qweasd",
    "qweasdzxc",
    "1234qwer",
    "qwer1234",
    "q1w2e3r4",
    "q1w2e3r4t5",
    "passpass",
    "changeme",
    "changeme123",
    "default",
    "guest",
    "guest123",
    "test",
    "test123",
    "testing",
    "tester",
    "user",
    "user123",
    "demo",
    "sample",
    "temp",
    "temp123",
    "mypassword",
    "mypass",
    "secret123",
    "master123",
    "admin123",
    "admin1234",
    "administrator1",
    "root123",
    "toor",
    "letmein!",
    "iloveu",
    "iloveyou!",
    "loveme",
    "lovely",
    "lovelove",
    "loveyou",
    "sweetheart",
    "sweety",
    "angel",
    "angel1",
    "baby",
    "babygirl",
    "babyboy",
    "princess1",
    "prince",
    "jesus",
    "jesus1",
    "christ",
    "blessed",
    "god",
    "godisgood",
    "faith",
    "heaven",
    "matrix",
    "mustang",
    "ferrari",
    "porsche",
    "mercedes",
    "bmw",
    "harley",
    "yamaha",
    "honda",
    "toyota",
    "nissan",
    "samsung",
    "apple",
    "iphone",
    "google",
    "facebook",
    "twitter",
    "instagram",
    "youtube",
    "linkedin",
    "yahoo",
    "hotmail",
    "gmail",
    "outlook",
    "microsoft",
    "windows",
    "linux",
    "ubuntu",
    "oracle",
    "cisco",
    "internet",
    "network",
    "server",
    "database",
    "system",
    "security",
    "whatever",
    "nothing",
    "anything",
    "something",
    "everything",
    "forever",
    "always",
    "never",
    "cookie",
    "cookies",
    "banana",
    "pokemon",
    "naruto",
    "pikachu",
    "minecraft",
    "fortnite",
    "roblox",
    "lol123",
    "starcraft",
    "warcraft",
    "diablo",
    "zelda",
    "mario",
    "sonic",
    "gundam",
    "doraemon",
    "hellokitty",
    "kitty",
    "puppy",
    "doggy",
    "tigger",
    "lion",
    "tiger",
    "eagle",
    "falcon",
    "phoenix",
    "wolf",
    "bear",
    "panda",
    "dolphin",
    "liverpool",
    "chelsea",
    "arsenal",
    "manchester",
    "manutd",
    "barcelona",
    "realmadrid",
    "juventus",
    "messi",
    "ronaldo",
    "beckham",
    "kobe",
    "lebron",
    "michaeljordan",
    "hongkong",
    "hongkong1",
    "hk123456",
    "hkpassword",
    "kowloon",
    "shatin",
    "tsuenwan",
    "mongkok",
    "causeway",
    "centralhk",
    "victoria",
    "lantau",
    "hkgov",
    "govhk",
    "egateway",
    "gateway",
    "iamsmart",
    "smartid",
    "octopus",
    "cathay",
    "hsbc",
    "hangseng",
    "bochk",
    "macau",
    "shenzhen",
    "guangzhou",
    "china",
    "china123",
    "beijing",
    "shanghai",
    "taiwan",
    "chan",
    "wong",
    "cheung",
    "lau",
    "lee",
    "leung",
    "ho",
    "ng",
    "lam",
    "tang",
    "tsang",
    "yip",
    "kwok",
    "lai",
    "chow",
    "mak",
    "chu",
    "ma",
    "fung",
    "yeung",
    "tam",
    "law",
    "chung",
    "siu",
]

# Base words that people decorate with years, counters and symbols.
WORDS = sorted(
    {w for w in SEED if w.isalpha() and len(w) >= 3}
    | {
        "pass",
        "word",
        "qwer",
        "asdf",
        "zxcv",
        "abc",
        "abcd",
        "love",
        "baby",
        "angel",
        "happy",
        "lucky",
        "money",
        "honey",
        "sunny",
        "candy",
        "kevin",
        "david",
        "peter",
        "mary",
        "john",
        "james",
        "robert",
        "jason",
        "eric",
        "alex",
        "tony",
        "jacky",
        "jackie",
        "kenneth",
        "raymond",
        "alan",
        "wing",
        "ming",
        "kin",
        "yan",
        "man",
        "chun",
        "kwan",
        "hoi",
        "wai",
        "winnie",
        "vivian",
        "cherry",
        "ivy",
        "karen",
        "cathy",
        "fiona",
        "grace",
        "jasmine",
        "crystal",
        "diamond",
        "golden",
        "dragon",
        "tiger",
        "family",
        "friend",
        "friends",
        "school",
        "student",
        "teacher",
        "office",
        "work",
        "company",
        "mother",
        "father",
        "mummy",
        "daddy",
        "sister",
        "brother",
    }
)

SUFFIXES = [
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "!",
    "!!",
    "1!",
    "123!",
    "@123",
    "#1",
    "01",
    "007",
    "69",
    "88",
    "99",
    "00",
    "2",
    "11",
    "111",
    "666",
    "888",
    "520",
    "1314",
    "@",
    "?",
    ".",
]

LEET = str.maketrans({"a": "@", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7"})
LEET_DIGITS = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"})

KEYBOARD_ROWS = ["`1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./"]


def keyboard_walks() -> set[str]:
    walks = set()
    for row in KEYBOARD_ROWS:
        for n in range(8, len(row) + 1):
            for i in range(len(row) - n + 1):
                walk = row[i : i + n]
                walks.update({walk, walk[::-1]})
    # Column walks ("1qaz2wsx...") and their doubled-row cousins.
    columns = ["1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol."]
    for n in range(2, len(columns) + 1):
        for i in range(len(columns) - n + 1):
            walk = "".join(columns[i : i + n])
            walks.update({walk, walk[::-1]})
            walks.add("".join(c[::-1] for c in columns[i : i + n]))
    pairs = ["1q", "2w", "3e", "4r", "5t", "6y", "7u", "8i", "9o", "0p"]
    for n in range(4, len(pairs) + 1):
        walks.add("".join(pairs[:n]))
        walks.add("".join(p[::-1] for p in pairs[:n]))
    for a, b in [("qwer", "asdf"), ("asdf", "zxcv"), ("qwert", "asdfg"), ("asdfg", "zxcvb")]:
        walks.update({a + b, a + b + a, a + a, b + b})
    return walks


def repeated() -> set[str]:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = set()
    for c in chars:
        for n in range(8, 17):
            out.add(c * n)
    for a, b in itertools.product(chars[:10] + "abcxyz", repeat=2):
        if a != b:
            for n in (4, 5, 6):
                out.add((a + b) * n)
    for chunk in [
        "abc",
        "123",
        "321",
        "qwe",
        "asd",
        "zxc",
        "aaa",
        "abcd",
        "1234",
        "4321",
        "qwer",
        "asdf",
    ]:
        for n in range(2, 6):
            out.add(chunk * n)
    return out


def digit_sequences() -> set[str]:
    out = set()
    up = "01234567890123456789"
    down = up[::-1]
    for n in range(8, 12):
        for i in range(10):
            out.add(up[i : i + n])
            out.add(down[i : i + n])
    for n in range(4, 10):
        s = "".join(str(d) for d in range(1, n + 1))
        out.update({s + s, s + s[::-1], s[::-1] + s})
    for d in range(10):
        for e in range(10):
            out.add(f"{d}{d}{e}{e}" * 2)
    # Chinese "love" numerals and lucky-number runs frequent in CJK breaches.
    for a, b in itertools.permutations(["520", "1314", "5201314", "521", "168", "888", "666", "999"], 2):
        s = a + b
        if len(s) >= 8:
            out.add(s)
    return out


def decorated_words() -> set[str]:
    out = set()
    for w in WORDS:
        for year in range(1950, 2031):
            out.add(f"{w}{year}")
            out.add(f"{w}{year % 100:02d}")
        for suffix in SUFFIXES:
            out.add(w + suffix)
        out.add(w + w)
        out.add("123" + w)
        out.add("1" + w)
        for variant in {w.translate(LEET), w.translate(LEET_DIGITS)}:
            if variant != w:
                out.add(variant)
                for suffix in ["1", "123", "!", "1!"]:
                    out.add(variant + suffix)
    return out


def main(path: str) -> None:
    entries = set(SEED) | keyboard_walks() | repeated() | digit_sequences() | decorated_words()
    for w in SEED:
        entries.add(w.translate(LEET))
        entries.add(w.translate(LEET_DIGITS))
    kept = sorted(
        {e.lower() for e in entries if len(e) >= 8 and e.isascii() and e.isprintable() and " " not in e}
    )
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(kept) + "\n")
    print(len(kept))


if __name__ == "__main__":
    main(sys.argv[1])
