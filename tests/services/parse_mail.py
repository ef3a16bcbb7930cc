#!/usr/bin/env python3
"""Reads a message file with Python's own e-mail parser and prints what a
mail client would see, as JSON: the decoded headers and every leaf part
(type, file name, decoded content)."""
import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as f:
    msg = BytesParser(policy=policy.default).parse(f)
parts = []
for part in msg.walk():
    if part.is_multipart():
        continue
    content = part.get_content()
    if isinstance(content, bytes):
        content = content.decode("latin-1")
    parts.append({"type": part.get_content_type(), "filename": part.get_filename(), "content": content})
print(json.dumps({
    "subject": str(msg["subject"]),
    "from": str(msg["from"]),
    "to": str(msg["to"]),
    "cc": str(msg["cc"]) if msg["cc"] else None,
    "bcc": str(msg["bcc"]) if msg["bcc"] else None,
    "reply_to": str(msg["reply-to"]) if msg["reply-to"] else None,
    "message_id": str(msg["message-id"]),
    "campaign": str(msg["x-campaign"]) if msg["x-campaign"] else None,
    "top_type": msg.get_content_type(),
    "defects": len(msg.defects),
    "parts": parts,
}))
