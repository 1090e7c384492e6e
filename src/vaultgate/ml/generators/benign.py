"""Benign values of a fintech API: the traffic the model must leave alone.

Names in many scripts and with apostrophes, addresses, payment memos and
support messages (including prose that mentions SQL, HTML or shell words,
the commonest false positives of rule engines), amounts, IBANs, card
tails, dates, e-mail addresses, phone numbers, URLs of public sites, user
agents, tokens, search strings and small JSON documents.  Every generator
is a function of a ``random.Random``; word lists are written here.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable

Generator = Callable[[random.Random], str]

FIRST = (
    "María", "José", "Zoë", "Renée", "François", "Jürgen", "Søren", "Ångström",
    "Łukasz", "Dvořák", "Nguyễn", "Siobhán", "Seán", "Bjørn", "Ayşe", "Çağrı",
    "Oluwaseun", "Chidi", "Priya", "Arjun", "Mei", "Hiroshi", "Ji-woo", "Aleksandr",
    "Ольга", "Иван", "王伟", "李娜", "山田", "佐藤", "김민준", "박서연", "محمد",
    "فاطمة", "דוד", "Γιώργος", "Ελένη", "प्रिया", "Anna", "John", "Emma", "Liam",
    "Olivia", "Noah", "Ava", "Lucas", "Chloé", "Mateo", "Valentina", "Ahmed",
    "Fatima", "Kwame", "Ngozi", "Tomás", "Inés", "Joaquín", "Ana-Maria", "Jean-Luc",
    "Mary Ann", "Dr. Smith", "Ms", "Mr.", "Zoltán", "Gülşen", "Þóra", "Ægir",
)  # fmt: skip
LAST = (
    "O'Brien", "O'Reilly", "D'Angelo", "N'Diaye", "d'Artagnan", "Dell'Acqua",
    "McDonald", "van der Berg", "de la Cruz", "García-López", "Müller", "Schröder",
    "Nguyễn", "Øvergaard", "Kowalski", "Wójcik", "Al-Hassan", "Abd al-Rahman",
    "Ben-David", "St. John", "Smith", "Johnson", "Williams", "Brown", "Silva",
    "Santos", "Rossi", "Fernández", "Petrov", "Иванова", "Παπαδόπουλος", "田中",
    "陈", "이", "Okafor", "Mensah", "Yılmaz", "Şahin", "Ó Súilleabháin", "Mac Giolla",
    "L'Heureux", "Hernández Ruiz", "Smith-Jones", "De'Ath", "Ng", "Le",
)  # fmt: skip
STREETS = (
    "Main St", "Königstraße", "Rue de l'Église", "Calle Mayor", "Via dell'Indipendenza",
    "Avenida da Liberdade", "Baker Street", "Straße des 17. Juni", "Ul. Marszałkowska",
    "Nørrebrogade", "Carrer d'Aragó", "Rua Augusta", "Sheikh Zayed Rd", "Oak Avenue",
    "High St.", "King's Road", "Queen's Gate", "Plaza de España", "Av. Paulista",
    "Rambla de Catalunya", "Boulevard Saint-Michel", "Herengracht", "Ringstraße",
)  # fmt: skip
CITIES = (
    "Stuttgart", "München", "Paris", "Zürich", "São Paulo", "Kraków", "Málaga",
    "Reykjavík", "Göteborg", "İstanbul", "Москва", "東京", "서울", "Dublin",
    "New York, NY", "L'Aquila", "Coeur d'Alene", "St. Louis", "Nairobi", "Lagos",
)  # fmt: skip
PROSE_WORDS = (
    "select", "from", "where", "union", "drop", "table", "insert", "update",
    "delete", "and", "or", "not", "script", "alert", "order", "by", "group",
    "having", "like", "null", "true", "exec", "cat", "ls", "echo", "sleep", "wait",
    "import", "eval", "system", "shell", "admin", "root", "user", "password",
)  # fmt: skip
MEMOS = (
    "Rent for {month}",
    "Invoice #{n} - thanks!",
    "Invoice {year}-{n} for consulting services, thank you!",
    "Dinner @ {place} (split {k} ways)",
    "Refund: order {n} (damaged)",
    "50% deposit for the kitchen",
    "Gift :) happy birthday!!",
    "<3 happy birthday, {first}!",
    "Please select a payee before you pay",
    "drop-off fee + parking",
    "1=1 split of the bill",
    "Union dues for {month}",
    "Where can I select my card design?",
    "Please update the table booking for Friday",
    "from A to B & back",
    "and/or whatever works",
    "Script for the {month} meeting",
    "Alert: card expiring soon?",
    "ok; thanks",
    "rock & roll tickets",
    "Tom & Jerry's pizza",
    "AT&T bill {month}",
    "50/50 with {first}",
    "3 < 5 and 7 > 2, so it's fine",
    "if amount > 100 call me",
    "--- end of note ---",
    "#{n} {month} groceries",
    "$50 for lunch",
    "Q&A session fee",
    "it's done, don't worry",
    '"quoted" text from the invoice',
    "[urgent] pay by Friday",
    "{{draft}} memo",
    "100% sure it's right",
    "a+b=c math tutoring",
    "see path/to/file.pdf",
    "Order by phone, ref {n}",
    "Who's paying for drinks? (not me)",
    "Delete my old address please; the new one is {street}",
    "Can you drop the late fee? I paid on {date}.",
    "Sleep study copay",
    "Echo Park rent",
    "cat food & litter",
    "ls: 2 items; total {amount}",
    "Back-to-school: pens, paper, etc.",
    "Transfer to savings (20%)",
    "Re: your message of {date} -- agreed",
    "Payment for order #{n}; see attached",
    "Thanks!!! :-)",
    "Coffee w/ {first} @ 10:30",
    "C'est la vie — merci beaucoup !",
    "Danke für alles, bis später",
    "¡Gracias por todo! ¿Nos vemos el {date}?",
    "Спасибо за помощь",
    "感谢您的付款",
    "お支払いありがとうございます",
    "Miete {month} + Nebenkosten",
    "Loyer {month} (charges comprises)",
    "Alquiler de {month} - piso 3º 2ª",
    "Reembolso do jantar (R$ {amount})",
)  # fmt: skip
SUPPORT = (
    "Hi, I can't log in since yesterday. I tried resetting my password but the "
    "email never arrived. Could you check? Thanks, {first}",
    "The app shows 'Error 500' when I open the transactions tab on my phone.",
    "Why was I charged twice for {place}? Please refund one of them.",
    "I'd like to close my account and move the balance to {iban}.",
    "My card was declined at {place} even though I have {amount} available.",
    "How do I update the table of beneficiaries? The select box is empty.",
    "Can you explain the fee (<2%) on international transfers from my account?",
    "I want to union my two accounts into one joint account with my wife.",
    "Please drop me an email when the new card ships; my address is {street}.",
    "The script on your website doesn't load in Firefox, so I used the app.",
    "I typed 1=1 by mistake in the amount field and got an error.",
    "Your docs say 'use the API key in the header' but which header?",
    "My name is {first} {last} and my statement shows the wrong name.",
    "We need the report for Q3 (July-Sept) in CSV & PDF, if possible.",
    "Is it safe to share my IBAN by e-mail? What about my BIC?",
    "I'm traveling to {city} next week -- please don't block my card!",
)  # fmt: skip
SEARCHES = (
    "coffee shops near me", "O'Hare parking", "c++ tutorial", "what is 1+1",
    "rock'n'roll", "how to select a payee", "drop shipping fees", "union bank",
    "<html> tags list", "script writing course", "sleep apnea clinic",
    "alert settings", "order by date", "50% off", "AT&T", "m&m's", "#1 rated",
    "café près de moi", "präsentation vorlage", "¿cómo transferir dinero?",
    "налоговый вычет", "退税", "신용카드", "wire transfer limit", "fx rate usd/eur",
    "iban checker", "where is my refund?", "chargeback (disputed)", "C# jobs",
    "node.js vs python", "cat & dog insurance", "top 10 etfs", "s&p 500",
)  # fmt: skip
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "bank-mobile/{v}.2 (iPhone; iOS 18.1; Scale/3.00)",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "curl/8.{v}.0",
    "PostmanRuntime/7.39.0",
    "Go-http-client/2.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.10)",
    "axios/1.7.2",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)",
    "Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)",
)  # fmt: skip
SITES = (
    "www.example.com", "shop.example.org", "news.example.net", "docs.python.org",
    "en.wikipedia.org", "github.com", "www.ecb.europa.eu", "api.stripe.com",
    "maps.google.com", "www.bbc.co.uk", "www.lemonde.fr", "www.spiegel.de",
)  # fmt: skip
MONTHS = ("January", "Feb", "März", "avril", "mayo", "June", "July", "Aug.", "Sept")
PLACES = ("Luigi's", "Café de Flore", "McDonald's", "Mama's & Papa's", "Joe's Bar")
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY", "SEK", "PLN", "BRL")


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def iban(rng: random.Random) -> str:
    country = rng.choice(("DE", "FR", "ES", "IT", "NL", "GB", "BE", "PL", "CH", "IE"))
    body = f"{country}{_digits(rng, 2)}{_digits(rng, rng.randint(14, 26))}"
    if rng.random() < 0.3:
        return " ".join(body[i : i + 4] for i in range(0, len(body), 4))
    return body


def amount(rng: random.Random) -> str:
    value = rng.choice((rng.uniform(0, 100), rng.uniform(0, 100000)))
    return rng.choice(
        (
            f"{value:.2f}",
            f"{value:,.2f}",
            f"-{value:.2f}",
            f"{value:,.2f}".replace(",", " ").replace(".", ","),
            f"{value:.2f} {rng.choice(CURRENCIES)}",
            f"€{value:,.2f}",
            f"${value:,.2f}",
            f"£{value:.2f}",
            str(int(value)),
            f"{value:.2f}".replace(".", ","),
        )
    )


def date(rng: random.Random) -> str:
    y, m, d = rng.randint(1950, 2030), rng.randint(1, 12), rng.randint(1, 28)
    h, minute = rng.randint(0, 23), rng.randint(0, 59)
    return rng.choice(
        (
            f"{y}-{m:02d}-{d:02d}",
            f"{d:02d}/{m:02d}/{y}",
            f"{m}/{d}/{y}",
            f"{d}.{m}.{y}",
            f"{y}-{m:02d}-{d:02d}T{h:02d}:{minute:02d}:00Z",
            f"{y}-{m:02d}-{d:02d}T10:15:30.123+02:00",
            f"{d} {rng.choice(MONTHS)} {y}",
        )
    )


def email(rng: random.Random) -> str:
    local = rng.choice(
        ("john.smith", "o'brien", "maria+bank", "j_doe", "info", "müller", "a.b-c")
    )
    return f"{local}{rng.randint(1, 999)}@{rng.choice(SITES).replace('www.', '')}"


def phone(rng: random.Random) -> str:
    return rng.choice(
        (
            f"+44 (20) {_digits(rng, 4)} {_digits(rng, 4)}",
            f"+1-{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 4)}",
            f"+49 30 {_digits(rng, 8)}",
            f"({_digits(rng, 3)}) {_digits(rng, 3)}-{_digits(rng, 4)}",
            f"0{_digits(rng, 9)}",
        )
    )


def address(rng: random.Random) -> str:
    number = rng.randint(1, 300)
    return rng.choice(
        (
            f"{rng.choice(STREETS)} {number}, {_digits(rng, 5)} {rng.choice(CITIES)}",
            f"{number} {rng.choice(STREETS)}, Apt {rng.randint(1, 40)}B",
            f"C/ {rng.choice(STREETS)} {number}, 3º 2ª",
            f"Flat 2/1, {number} {rng.choice(STREETS)}",
            f"P.O. Box {number}; {rng.choice(CITIES)}",
            f"{rng.choice(STREETS)} {number} #1203",
            f"c/o {name(rng)}, {rng.choice(STREETS)} {number}",
        )
    )


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        month=rng.choice(MONTHS),
        n=rng.randint(1, 99999),
        year=rng.randint(2019, 2027),
        place=rng.choice(PLACES),
        k=rng.randint(2, 6),
        first=rng.choice(FIRST),
        last=rng.choice(LAST),
        street=f"{rng.choice(STREETS)} {rng.randint(1, 99)}",
        date=date(rng),
        amount=amount(rng),
        iban=iban(rng),
        city=rng.choice(CITIES),
    )


def memo(rng: random.Random) -> str:
    return _fill(rng.choice(MEMOS), rng)


def support(rng: random.Random) -> str:
    return _fill(rng.choice(SUPPORT), rng)


def prose(rng: random.Random) -> str:
    """Sentences built from words SQL, HTML and shell also use."""
    words = [rng.choice(PROSE_WORDS) for _ in range(rng.randint(3, 9))]
    filler = ("the", "a", "my", "to", "please", "of", "in", "on", "we", "it's")
    text = " ".join(
        w if rng.random() < 0.6 else f"{rng.choice(filler)} {w}" for w in words
    )
    return text.capitalize() + rng.choice((".", "?", "!", "", ", thanks.", " :)"))


def search(rng: random.Random) -> str:
    return rng.choice(SEARCHES)


def user_agent(rng: random.Random) -> str:
    return rng.choice(USER_AGENTS).format(v=rng.randint(5, 130))


def url(rng: random.Random) -> str:
    site = rng.choice(SITES)
    path = "/".join(
        rng.choice(("en", "products", "2024", "blog", "a-b_c", "page"))
        for _ in range(rng.randint(0, 3))
    )
    query = rng.choice(
        (
            "",
            "?utm_source=newsletter&utm_medium=email",
            "?q=iban+check",
            "?page=2&sort=desc",
            "#section-3",
        )
    )
    return f"https://{site}/{path}{query}"


def token(rng: random.Random) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(16, 48)))
    return rng.choice(
        (
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            base64.b64encode(raw).decode(),
            raw.hex(),
            str(uuid.UUID(int=rng.getrandbits(128))),
            "eyJhbGciOiJSUzI1NiJ9."
            + base64.urlsafe_b64encode(raw).decode().rstrip("=")
            + "."
            + raw.hex()[:20],
            f"GA1.2.{_digits(rng, 9)}.{_digits(rng, 10)}",
            f"sess_{raw.hex()[:24]}",
        )
    )


def password(rng: random.Random) -> str:
    parts = (
        rng.choice(("P@ss", "och*", "Tr0ub4dor", "s3cr3t", "Hunter", "qwerty", "Zx!")),
        rng.choice(("w0rd!", "&3", "#2024", "(x)", "<>", "$$", "%^&", "'ok'", "")),
    )
    return "".join(parts) + _digits(rng, rng.randint(0, 3))


def filename(rng: random.Random) -> str:
    return rng.choice(
        (
            "invoice (1).pdf",
            "résumé_2024.docx",
            "statement-2024-03.csv",
            "IMG_4032.JPG",
            "scan 12.03.2024.pdf",
            "Q&A notes.txt",
            "O'Neil contract v2.pdf",
            "报告.xlsx",
        )  # fmt: skip
    )


def card_tail(rng: random.Random) -> str:
    return rng.choice(
        (
            f"**** **** **** {_digits(rng, 4)}",
            f"{_digits(rng, 6)}******{_digits(rng, 4)}",
            _digits(rng, 4),
        )
    )


def json_text(rng: random.Random) -> str:
    """A small JSON document sent as a string (webhooks, metadata fields)."""
    document = {
        "amount": amount(rng),
        "currency": rng.choice(CURRENCIES),
        "memo": memo(rng),
        "tags": [rng.choice(("rent", "food", "travel", "gift")) for _ in range(2)],
        "beneficiary": {"name": name(rng), "iban": iban(rng)},
    }
    return json.dumps(document, ensure_ascii=rng.random() < 0.5)


def code_word(rng: random.Random) -> str:
    """Identifiers, enums and references: short structured tokens."""
    return rng.choice(
        (
            f"INV-{rng.randint(2019, 2027)}-{rng.randint(1, 999)}",
            rng.choice(
                ("pending", "SEPA_CREDIT", "card.payment", "ACCT_OPEN", "en-GB")
            ),
            f"{rng.choice(('COBADEFFXXX', 'BNPAFRPP', 'DEUTDEFF'))}",
            f"order_{rng.randint(1, 10**6)}",
            f"v{rng.randint(1, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            f"{rng.randint(1, 99)}x{rng.randint(1, 99)}",
            "application/json; charset=utf-8",
            "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
            "Bearer " + token(rng),
            f"sort=-created_at,{rng.choice(('amount', 'name'))}",
            f"price[gte]={rng.randint(1, 99)}",
            f'{{"page": {rng.randint(1, 9)}}}',
            "fields=id,name,iban",
            f"/api/v1/accounts/{rng.randint(1, 9999)}/transactions?limit=50",
        )
    )


_MARKS = ",.;:!?|&=()[]{}<>#/*+-_'\"%$@~^"
_TEXT_WORDS = PROSE_WORDS + (
    "hello", "team", "invoice", "campaign", "service", "code", "parameter", "next",
    "minute", "address", "request", "information", "copy", "post", "second", "the",
    "color", "mode", "subject", "url", "user", "timeline", "count", "is", "not",
    "i", "would", "like", "to", "for", "with", "about", "dear", "we", "you",
)  # fmt: skip


def noisy(rng: random.Random) -> str:
    """Text with stray punctuation: typos, chat, pasted fragments."""
    words = [rng.choice(_TEXT_WORDS) for _ in range(rng.randint(1, 10))]
    out = []
    for word in words:
        if rng.random() < 0.35:
            mark = rng.choice(_MARKS) * rng.choice((1, 1, 1, 2))
            word = rng.choice((mark + word, word + mark, mark))
        if rng.random() < 0.1:
            word = word.upper()
        if rng.random() < 0.1:
            word = str(rng.randint(0, 999))
        out.append(word)
    return rng.choice((" ", " ", "", "_")).join(out)


def structured(rng: random.Random) -> str:
    """Key-value strings, expressions and markup-free notation users type."""
    key, word = rng.choice(_TEXT_WORDS), rng.choice(_TEXT_WORDS)
    n, m = rng.randint(0, 999), rng.randint(0, 99)
    return rng.choice(
        (
            f"{key}={word}&{word}={n}",
            f"{key}={n}; {word}={m}",
            f"{n}) {key}-{word}={m}",
            f"{key}:{word}?",
            f"{key}|{word}|{n}",
            f"({n}) {key} {word}",
            f"{n}*({m}+1)={n * (m + 1)}",
            f"{key} > {word} and {n} < {m}",
            f"{key}@{word}.com",
            f"#{key} #{word}",
            f"{key}_{word}.{rng.choice(('csv', 'json', 'pdf'))}",
            f"[{key}]({word})",
            f"**{key}** _{word}_",
            f"{key}/{word}/{n}",
            f"/{key}?{word}={n}#{m}",
            f"{key.upper()} {n}{rng.choice(_MARKS)}{word}",
            f"{{{key}}} = {n}",
            f"'{key}' or '{word}'",
            f'"{key}" and "{word}"',
            f"{key}; {word}; {n}",
            f"{key} -- {word}",
            f"{key} / {word} & {n}%",
            f"<{key}> {word}",
            f"{key}<{word}",
            f"http://{rng.choice(SITES)}/{key}?{word}={n}&usp={m}#{n}",
        )
    )


_CLEAN_ALPHABET = "abcxyzABCXYZ0123456789 .,-_@:éñßøжл中"


def clean_noise(rng: random.Random) -> str:
    """Short strings of the fast path's alphabet (times, versions, codes).

    The proxy never scores these (``model.certainly_clean``); training on
    them as benign keeps the model's verdict on them what the fast path
    assumes, which the property test checks.  Some repeat a short unit
    (``0:0:0:0:``, ``ab-ab-ab``), as addresses and padded codes do.
    """
    unit = "".join(rng.choice(_CLEAN_ALPHABET) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.3:
        return unit * rng.randint(2, 8)
    return "".join(rng.choice(_CLEAN_ALPHABET) for _ in range(rng.randint(1, 12)))


def machine(rng: random.Random) -> str:
    """Addresses, times, coordinates and ratios that devices and apps send."""
    octets = [str(rng.randint(0, 255)) for _ in range(4)]
    groups = [f"{rng.getrandbits(16):x}" for _ in range(rng.randint(2, 8))]
    return rng.choice(
        (
            ".".join(octets),
            ":".join(groups),
            "::".join(groups[:2]),
            ":".join(f"{rng.getrandbits(8):02X}" for _ in range(6)),
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{octets[0]:0>2}",
            f"{rng.randint(1, 32)}:{rng.randint(1, 32)}",
            f"{rng.uniform(-90, 90):.4f},{rng.uniform(-180, 180):.4f}",
            f"{'.'.join(octets)}:{rng.randint(1, 65535)}",
            f"[{':'.join(groups)}]:{rng.randint(1, 65535)}",
            f"PT{rng.randint(1, 59)}M{rng.randint(1, 59)}S",
        )
    )


# (kind, generator, weight): where such a value is usually sent.
VALUES: tuple[tuple[str, Generator, int], ...] = (
    ("json", name, 10),
    ("form", name, 4),
    ("json", address, 6),
    ("json", memo, 14),
    ("form", memo, 4),
    ("json", support, 6),
    ("multipart", support, 1),
    ("json", prose, 8),
    ("query", prose, 3),
    ("query", search, 8),
    ("json", amount, 4),
    ("json", iban, 3),
    ("json", date, 3),
    ("query", date, 2),
    ("json", email, 4),
    ("form", email, 2),
    ("json", phone, 2),
    ("header", user_agent, 8),
    ("header", url, 3),
    ("json", url, 3),
    ("cookie", token, 4),
    ("header", token, 3),
    ("json", token, 2),
    ("form", password, 3),
    ("filename", filename, 1),
    ("json", card_tail, 1),
    ("json", json_text, 2),
    ("query", code_word, 6),
    ("json", code_word, 4),
    ("header", code_word, 2),
    ("json", clean_noise, 6),
    ("query", clean_noise, 3),
    ("header", machine, 2),
    ("json", machine, 2),
    ("query", machine, 1),
    ("json", noisy, 12),
    ("query", noisy, 5),
    ("multipart", noisy, 3),
    ("json", structured, 10),
    ("query", structured, 5),
    ("form", structured, 3),
)
