"""The bundled demo banking API, the upstream that demos and tests protect.

It is deliberately weak in documented ways (see docs/demo.md): an account
endpoint that trusts the id in the path, account documents that carry more
than the caller may see, and an error page that leaks a stack trace.  It must
never be exposed on its own.
"""
