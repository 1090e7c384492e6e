"""Authorization adapters: vaultgate beside a proxy instead of in line.

NGINX (``auth_request``) and Envoy (``ext_authz``, HTTP and gRPC) keep
proxying and ask vaultgate, per request, whether to let it through.  Each
adapter rebuilds the original request from what the proxy sends, runs the
same engine and policy as ``vaultgate run`` (``check``) and translates the
one rendered answer (``core.respond``) into what its proxy understands
(``verdict``).  ``vaultgate authz`` serves them (``runner``).  Importing
this package imports nothing else: the policy section lives in
``settings``, and grpc is loaded only by the gRPC adapter.
"""
