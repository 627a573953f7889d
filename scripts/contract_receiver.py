"""The loopback peer of `make contract` (scripts/contract.sh): serves the
identity document on GET and answers every POST (webhook deliveries and
tests) with 204, so the run never connects to a host outside this machine.

Usage: contract_receiver.py PORT DIRECTORY
"""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    port, directory = int(sys.argv[1]), sys.argv[2]
    handler = functools.partial(Handler, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
