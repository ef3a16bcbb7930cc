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
