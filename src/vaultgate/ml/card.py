"""The model card written beside a trained model file."""

from __future__ import annotations

from vaultgate.ml import features
from vaultgate.ml.train import CERTAIN_FLOOR, LIKELY_FLOOR, C, Options, Report

_DATA = """\
## Data

- **Attack grammars** (`vaultgate/ml/generators/attacks.py`, written for this
  project, Apache-2.0): SQL injection, XSS, OS command injection, Shellshock,
  path traversal and file inclusion, SSRF, template injection, PHP / Python /
  Node / Java code and expression injection, JNDI, LDAP, NoSQL, XXE, CRLF and
  mail header injection, SSI.  Each payload is wrapped in zero to two evasions
  (`generators/encodings.py`: URL encoding once or twice, partial encoding,
  `%uXXXX`, case games, SQL comments and odd whitespace for spaces, HTML
  entities, JavaScript escapes, Base64, fullwidth forms, NUL padding) and
  placed in a query argument, form or multipart field, JSON leaf, XML text,
  header, cookie, path or raw body.
- **Benign generators** (`generators/benign.py`, same licence): names in
  many scripts and with apostrophes, addresses, payment memos and support
  messages (including prose that uses SQL, HTML and shell words), amounts,
  IBANs, card tails, dates, e-mail addresses, phone numbers, URLs of public
  sites, user agents, tokens, passwords, file names, search strings, small
  JSON documents, key-value strings and punctuation-heavy text.
- **Benign recorded traffic** (when given with `--benign-http`): the files'
  requests are split in two by a digest of each request line and body;
  one half is trained on, the other half is only measured.  The shipped
  model used HTTP DATASET CSIC 2010, normal training traffic
  (`normalTrafficTraining.txt.gz`, Spanish National Research Council
  (CSIC), published for research use, http://www.isi.csic.es/dataset/; no
  licence file), and nothing else recorded.
- **Not used for training**, so that they stay fair measurements: the
  gotestwaf test cases (MIT), the OWASP CRS regression tests (Apache-2.0)
  and CSIC 2010 anomalous traffic.
"""

_FEATURES = f"""\
## Features and model

Each decoded value (the forms `detect.normalize.expand` makes, as the proxy
scans them) is folded (ASCII case, every digit to `0`, every non-ASCII byte
to one marker) and hashed into {features.WIDTH:,} slots
(`vaultgate/ml/features.py`, feature version {features.FEATURE_VERSION}):
character 1- to {features.MAX_NGRAM}-grams with the value's start and end
marked, token unigrams and bigrams (tokens are runs of letters, digits and
`_`), both divided by the square root of their count, and shape indicators
(log length, shares of punctuation, digits, upper case and non-ASCII bytes,
decoded or not).  A logistic regression (scikit-learn liblinear, C = {C},
balanced class weights) is fitted; the file holds its weights as float32.

The *likely* threshold lets through all but {{alerts}} of benign validation
values and is at least {LIKELY_FLOOR}; the *near-certain* one all but {{blocks}}
and at least {CERTAIN_FLOOR}.  Values made only of letters, digits, spaces
and `. , - _ @ :` are never scored (`model.certainly_clean`).
"""


def model_card(
    options: Options, report: Report, command: str, sha: str, revision: str = ""
) -> str:
    """The card's Markdown text."""
    tree = f" at commit `{revision}`" if revision else ""
    lines = [
        "# Attack-likelihood model card",
        "",
        f"File `attack-model.npz` (sha256 prefix `{sha}`), trained on "
        f"{report.rows:,} distinct decoded values ({report.attack_rows:,} "
        f"attacks), seed {options.seed}, in {report.seconds:.0f} s.",
        "",
        f"Reproduce it from the source tree{tree} (deterministic: same data, "
        "same seed, same code, same weights; the training values go through",
        "`detect.normalize`, so a change to the decoder changes the model:",
        "retrain and ship it with the decoder change):",
        "",
        "```",
        command,
        "```",
        "",
        _DATA,
        _FEATURES.format(alerts="1 in 5,000", blocks="1 in 50,000"),
        "## Thresholds",
        "",
        f"- likely: {report.threshold:.4f} (finding `ml.suspicious`, score 3)",
        f"- near-certain: {report.strong:.4f} (finding `ml.attack`, score 5)",
        "",
        "## Measured on data the model never saw",
        "",
        *report.lines,
        "See docs/learned-scoring.md for the figures of the whole proxy on the",
        "public corpora and docs/limitations.md for what the model misses.",
        "",
    ]
    return "\n".join(lines)
