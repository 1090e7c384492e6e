"""The proof-of-work page served to browsers, with its own SHA-256 in JS.

The page solves the challenge in plain JavaScript rather than with
``crypto.subtle``, which browsers only offer to HTTPS origins and which
costs a promise per hash.  It posts the solution to the challenge endpoint,
which sets the clearance cookie, then reloads a GET or asks the user to
send a form again (its body is gone: vaultgate never echoes it back).
Its one inline script is allowed by a per-response CSP nonce.
"""

from __future__ import annotations

import html
import json

# The page, with @@NAME@@ placeholders (the JS braces rule out str.format).
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Checking your browser</title>
<style>body{font:16px system-ui,sans-serif;max-width:32em;margin:4em auto;
padding:0 1em;color:#222}</style></head>
<body><h1>Checking your browser</h1>
<p id="status">This takes a second or two.</p>
<noscript><p>Please enable JavaScript to continue.</p></noscript>
<script nonce="@@NONCE@@">
(function () {
  "use strict";
  var CHALLENGE = @@CHALLENGE@@, DIFFICULTY = @@DIFFICULTY@@;
  var ENDPOINT = @@ENDPOINT@@, RELOAD = @@RELOAD@@;
  var K = [], H0 = [];
  (function () {
    var n = 2, found = 0;
    function frac(x) { return ((x - Math.floor(x)) * 4294967296) | 0; }
    while (found < 64) {
      var prime = true;
      for (var d = 2; d * d <= n; d++) { if (n % d === 0) { prime = false; break; } }
      if (prime) {
        if (found < 8) { H0[found] = frac(Math.pow(n, 1 / 2)); }
        K[found] = frac(Math.pow(n, 1 / 3));
        found++;
      }
      n++;
    }
  })();
  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }
  function sha256(bytes) {
    var m = bytes.slice(), bits = bytes.length * 8, w = new Array(64);
    m.push(0x80);
    while (m.length % 64 !== 56) { m.push(0); }
    for (var i = 7; i >= 0; i--) { m.push(i > 3 ? 0 : (bits >>> (i * 8)) & 255); }
    var h = H0.slice();
    for (var o = 0; o < m.length; o += 64) {
      var t;
      for (t = 0; t < 16; t++) {
        var p = o + 4 * t;
        w[t] = (m[p] << 24) | (m[p + 1] << 16) | (m[p + 2] << 8) | m[p + 3];
      }
      for (t = 16; t < 64; t++) {
        var x = w[t - 15], y = w[t - 2];
        var s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
        var s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3];
      var e = h[4], f = h[5], g = h[6], k = h[7];
      for (t = 0; t < 64; t++) {
        var t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                  ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                  ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0;
        d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0;
      h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0;
      h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
    }
    return h;
  }
  function zeroBits(h) {
    for (var i = 0; i < 8; i++) {
      var v = h[i] >>> 0;
      if (v !== 0) { return i * 32 + Math.clz32(v); }
    }
    return 256;
  }
  var prefix = [];
  var text = CHALLENGE + ":";
  for (var i = 0; i < text.length; i++) { prefix.push(text.charCodeAt(i)); }
  function works(counter) {
    var digits = String(counter), bytes = prefix.slice();
    for (var j = 0; j < digits.length; j++) { bytes.push(digits.charCodeAt(j)); }
    return zeroBits(sha256(bytes)) >= DIFFICULTY;
  }
  var api = {sha256: sha256, zeroBits: zeroBits, works: works};
  if (typeof window === "undefined") { globalThis.vaultgatePow = api; return; }
  var status = document.getElementById("status");
  function send(counter) {
    var body = JSON.stringify({challenge: CHALLENGE, counter: String(counter)});
    fetch(ENDPOINT, {method: "POST", body: body, credentials: "same-origin",
                     headers: {"Content-Type": "application/json"}})
      .then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        if (RELOAD) { window.location.reload(); }
        else { status.textContent = "Done. Go back and send the form again."; }
      })
      .catch(function () {
        status.textContent = "The check failed; reload to retry.";
      });
  }
  var counter = 0;
  function run() {
    // Work in slices so the page stays responsive.
    for (var n = 0; n < 20000; n++, counter++) {
      if (works(counter)) { send(counter); return; }
    }
    setTimeout(run, 0);
  }
  setTimeout(run, 0);
})();
</script></body></html>
"""


def render_page(
    challenge: str, difficulty: int, endpoint: str, reload: bool, nonce: str
) -> bytes:
    """The challenge page for one challenge."""
    values = {
        "@@NONCE@@": html.escape(nonce),
        "@@CHALLENGE@@": json.dumps(challenge),
        "@@DIFFICULTY@@": str(int(difficulty)),
        "@@ENDPOINT@@": json.dumps(endpoint),
        "@@RELOAD@@": "true" if reload else "false",
    }
    page = _PAGE
    for name, value in values.items():
        page = page.replace(name, value)
    return page.encode("utf-8")


def page_script(page: bytes) -> str:
    """The inline script of a rendered page (for tests running it in node)."""
    text = page.decode("utf-8")
    start = text.index(">", text.index("<script")) + 1
    return text[start : text.index("</script>")]
