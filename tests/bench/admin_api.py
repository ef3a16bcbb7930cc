"""The admin API for the benchmarks' set-up scripts.

They run as `python3 - BASE_URL API_KEY`: post() sends a JSON body to
BASE_URL + path with that key and returns the decoded answer (None when
empty). lib.bash puts this directory on PYTHONPATH.
"""
import json
import sys
import urllib.request


def post(path, body):
    base, key = sys.argv[1], sys.argv[2]
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read() or b"null")


# Scripts several benchmarks measure, the same text in each.
HELLO = 'void handle(request@ req, response@ res) { res.text("hello world"); }'
# One kv get and one kv set of a random key among 10,000.
GETSET = ('void handle(request@ req, response@ res) {\n'
          '  kv::Collection@ c = kv::collection("bench");\n'
          '  string k = "k" + random::integer(1, 10000);\n'
          '  json v = c.get(k);\n'
          '  json n = {{"n", v.get_int("n") + 1}};\n'
          '  c.set(k, n);\n'
          '  res.text("ok");\n}')
