"""PHP code injection: open tags, dangerous calls, superglobals, wrappers.

How this works: most PHP payloads carry something no prose does: an open
tag (``<?php``), a superglobal (``$_GET``), a stream wrapper
(``php://filter``), a serialized object (``O:8:"stdClass"``), or a call
of a function whose name is plainly code (``base64_decode(``,
``shell_exec(``).  Function names that are also words (``system``,
``exec``, ``file``) count only when the parenthesis holds code: a variable,
a quoted string, or nothing.
"""

from __future__ import annotations

import re

from vaultgate.detect.base import Rule, register_rules

# Calls that only code makes: the names are not words, so a name and an
# opening parenthesis are enough.
_CODE_CALLS = (
    r"base64_decode|gzinflate|gzuncompress|gzdecode|bzdecompress|str_rot13"
    r"|call_user_func(?:_array)?|create_function|fsockopen|shell_exec|passthru"
    r"|proc_open|pcntl_exec|pcntl_fork|phpinfo|file_get_contents"
    r"|file_put_contents|fputcsv|highlight_file|show_source|move_uploaded_file"
    r"|preg_replace(?:_callback)?|array_map|array_filter|array_walk|usort|uasort"
    r"|register_shutdown_function|register_tick_function|posix_\w+"
    r"|escapeshell(?:arg|cmd)|ini_(?:set|get|restore|get_all)|set_include_path"
    r"|set_time_limit|get_defined_(?:functions|vars|constants)|var_dump"
    r"|var_export|print_r|assert_options|mb_ereg_replace|zlib_decode"
    r"|curl_exec|curl_init|stream_socket_client|stream_get_contents"
    r"|mb_send_mail|imap_open|simplexml_load_string|gethostbyname"
    r"|get_current_user|getmypid|apache_setenv|hex2bin|convert_uudecode"
    r"|gzcompress|gzdeflate|gzencode|htmlspecialchars_decode|function_exists"
    r"|is_callable|unserialize|ob_start|tempnam|readfile|popen"
    r"|fopen|fwrite|fputs|fread|fgets|fpassthru|fscanf|file_exists|filegroup"
    r"|fileowner|fileperms|intval|floatval|strval|sprintf|vsprintf|fprintf"
    r"|printf|strip_tags|addslashes|stripslashes|htmlentities|rawurldecode"
    r"|html_entity_decode|base64_encode|str_replace|strtolower|strtoupper"
    r"|strrev|bin2hex|getcwd|scandir|opendir|readdir|getenv|putenv|parse_str"
)
# Calls whose names are also words: they count only with code inside the
# parenthesis ("file (attached)" is prose, "file($x)" is not).
_WORD_CALLS = (
    r"system|exec|eval|assert|include|require|file|copy|touch|chr|ord"
    r"|pack|unpack|mail|glob|dl|extract|chmod|chown|unlink|rmdir|mkdir"
    r"|symlink|chroot|serialize|crypt"
)
# Names of PHP functions that are PHP's alone: an exec, eval or decode
# routine named in a value is a callback gadget (?cb=shell_exec) even
# without a parenthesis.
_GADGET_NAMES = (
    r"shell_exec|proc_open|pcntl_exec|create_function|call_user_func(?:_array)?"
    r"|base64_decode|gzinflate|gzuncompress|str_rot13|zlib_decode|convert_uudecode"
    r"|fsockopen|file_put_contents|move_uploaded_file|highlight_file|show_source"
    r"|escapeshellcmd|assert_options"
)
# Prefixes of PHP's extension functions (array_diff, pg_connect,
# sodium_crypto_box ...): such a name with empty parentheses, or with an
# opening one that ends the value, is a call probe, not prose.
_EXTENSION_PREFIXES = (
    r"array|str|is|date|file|pg|ldap|sodium|tidy|zend|odbc|mysqli?|curl|preg|mb"
    r"|iconv|json|xml|libxml|openssl|hash|ctype|filter|func|ob|session|stream"
    r"|socket|ftp|imap|gz|image|exif|finfo|posix|pcntl|proc|apache|apcu|opcache"
    r"|spl|class|method|property|debug|error|ini|php|mt|random|password|strip"
    r"|var|get|set|call|create|register|highlight|show|escapeshell|sqlite3?|oci"
    r"|sqlsrv|dba|intl|grapheme|numfmt|locale|gmp|bc|simplexml|dom|xsl|shmop"
    r"|sem|msg|ssh2|snmp|yaml|iterator|token|convert|substr|htmlspecialchars"
)
_COMMENT = r"(?:\s|/\*.*?\*/|//[^\n]*\n|#[^\n]*\n)*"
_WORD_CALL = re.compile(
    r"\b(?:" + _WORD_CALLS + r")" + _COMMENT + r"\(\s*(?:\)|[$'\"`@(\[])"
    r"|\b(?:chr|ord)\s*\(\s*\d+\s*\)"
    r"|\b(?:exec|eval)" + _COMMENT + r"\(\s*[a-z_]\w*\s*\)",
    re.IGNORECASE,
)
# A PHP variable, plain ($f, $$g) or braced (${'f'}, ${$g}, ${@f}).  A
# plain one is called only with "(" right after it: "$AAPL (Apple)" is a
# cash tag in prose.
_VARIABLE = r"@?\$+(?:\{\s*@?[$'\"]?[a-z_]\w*['\"]?\s*\}|[a-z_]\w*)"
_SUPERGLOBAL = (
    r"\$_(?:get|post|cookie|request|server|files|env|session)\b|\$globals\b"
    r"|\$http_\w+_vars\b|\$http_raw_post_data\b"
)


_VARIABLE_CALL = re.compile(
    _VARIABLE
    + r"(?:"
    + _COMMENT
    + r"(?:\[[^\]]{0,40}\]+|\{\w*\}))+"
    + _COMMENT
    + r"\(|"
    + _VARIABLE
    + r"(?:/\*.*?\*/|//[^\n]*\n)*\(",
    re.IGNORECASE | re.DOTALL,
)
# A function name in quotes called at once (PHP 7): "system"(id).  A word
# in quotes before a parenthesis is prose ("the 'copy' (2 pages)") unless
# nothing separates them.
_STRING_CALL = (
    r"['\"](?:" + _CODE_CALLS + r")['\"]\s*\(|['\"](?:" + _WORD_CALLS + r")['\"]\("
)
_DYNAMIC_CALL = re.compile(
    r"[)\]}]\s*(?:/\*.*?\*/\s*)*\(\s*(?:['\"][^'\"]*['\"]|[a-z_]\w*)\s*\)\s*;",
    re.IGNORECASE | re.DOTALL,
)


def _calls_with_code(text: str) -> bool:
    return _WORD_CALL.search(text) is not None


def _calls_a_variable(text: str) -> bool:
    return _VARIABLE_CALL.search(text) is not None


def _calls_a_computed_name(text: str) -> bool:
    return _DYNAMIC_CALL.search(text) is not None


_SCORE = 5
RULES = (
    Rule(
        "php.open_tag",
        "php",
        r"<\?(?:php\b|=|$)|<\?\s+(?:[$@`]|[a-z_]\w*\s*\(|echo\s|print\s|include"
        r"|require|php\b)|<\?xml\s*[^a-z\s]|[\[{][/\\]?php[\]}]",
        _SCORE,
        description="a PHP open tag or template PHP block",
    ),
    Rule(
        "php.code_call",
        "php",
        r"(?:" + _CODE_CALLS + r")\s*(?:\(|/\*)",
        _SCORE,
        description="a call of a PHP function that only code makes",
    ),
    Rule(
        "php.word_call",
        "php",
        r"\b(?:" + _WORD_CALLS + r")\s*[(/#]",
        _SCORE,
        confirm=_calls_with_code,
        description="system( exec( eval( ... with code as the argument",
    ),
    Rule(
        "php.gadget_name",
        "php",
        r"\b(?:" + _GADGET_NAMES + r")\b",
        _SCORE,
        description="the name of a PHP exec, eval or decode function",
    ),
    Rule(
        "php.extension_call",
        "php",
        r"\b(?:" + _EXTENSION_PREFIXES + r")_\w+\s*\(\s*(?:\)|$)",
        _SCORE,
        description="a PHP extension function called bare: array_diff()",
    ),
    Rule(
        "php.string_call",
        "php",
        _STRING_CALL,
        _SCORE,
        description='a quoted function name called: "system"(id)',
    ),
    Rule(
        "php.comment_call",
        "php",
        r"\b[a-z_]\w*\s*/\*[^*]*\*/\s*\(",
        _SCORE,
        description="a call with a comment before its parenthesis: f/*x*/()",
    ),
    Rule(
        "php.dynamic_call",
        "php",
        r"[)\]}]\s*[(/]",
        _SCORE,
        confirm=_calls_a_computed_name,
        description="a call of a computed name: (system)('id'); [f][0](x);",
    ),
    Rule(
        "php.superglobal",
        "php",
        _SUPERGLOBAL,
        _SCORE,
        description="a PHP superglobal such as $_SERVER",
    ),
    Rule(
        "php.variable_call",
        "php",
        r"\$\s*[\w{$'\"@][^\s(]{0,60}[\[{(/#]",
        _SCORE,
        confirm=_calls_a_variable,
        description="a call through a variable: $f(1), ${'a'}(2), $$b[0](3)",
    ),
    Rule(
        "php.variable_variable",
        "php",
        r"\$\s*\{\s*(?:['\"]|\$|@|[a-z_]\w*\s*\}\s*\()|\$\s+\{"
        # A name computed by string operators and called: ${_.__}(30);
        r"|\$\{[\w'\"]*[.^|&~][\w'\".^|&~]*\}\s*\(",
        _SCORE,
        description="a variable-variable: ${'name'}, ${$a}",
    ),
    Rule(
        "php.interpolation",
        "php",
        r"\$\{\s*@?[a-z_]\w*\s*\(",
        _SCORE,
        description="a call inside ${...} string interpolation",
    ),
    Rule(
        "php.serialized",
        "php",
        r"\b[oc]:\d+:\"[\w\\]+\":\d+:\{",
        _SCORE,
        description="a serialized PHP object (object injection)",
    ),
    Rule(
        "php.serialized_array",
        "php",
        r"^a:\d+:\{(?:[is]:\d+[;:])",
        4,
        paranoia=2,
        description="a serialized PHP array",
    ),
    Rule(
        "php.wrapper",
        "php",
        r"\b(?:php|phar|zip|compress\.zlib|compress\.bzip2|expect|glob|zlib|rar"
        r"|ogg|ssh2\.(?:shell|exec|tunnel|sftp|scp))://",
        _SCORE,
        description="a PHP stream wrapper (php://filter, phar://, expect://)",
    ),
    Rule(
        "php.ini_directive",
        "php",
        r"\b(?:allow_url_(?:include|fopen)|auto_(?:prepend|append)_file"
        r"|disable_functions|open_basedir|safe_mode|register_globals|extension_dir"
        r"|memory_limit|include_path|error_reporting|display_errors|log_errors"
        r"|error_log|upload_tmp_dir|unserialize_max_depth|max_execution_time"
        r"|(?:opcache|session|mbstring|pcre|zend|xdebug|phar|assert)\.[a-z_]+)"
        r"\s*=",
        _SCORE,
        description="a php.ini directive assignment",
    ),
)

register_rules(*RULES)
