-- Messages scripts sent with email::send, kept from the moment they are
-- queued until retention_days after the relay took them (or they failed for
-- good), and the SMTP outcome of each delivery attempt. The outbox holds the delivery job; the
-- message's bytes stay here, so a retry sends exactly the same message
-- (Message-ID included) and receivers can drop a duplicate.
CREATE TABLE email_messages (
  id           TEXT PRIMARY KEY,      -- also the Message-ID's left part
  app_id       TEXT NOT NULL,
  sender       TEXT NOT NULL,         -- the envelope's MAIL FROM
  recipients   TEXT NOT NULL,         -- JSON array: the envelope's RCPT TO
  content      BYTEA NOT NULL,        -- the whole RFC 5322 message
  size         BIGINT NOT NULL,
  status       TEXT NOT NULL,         -- queued, sent, failed
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_outcome TEXT,                  -- the relay's last reply, or why it could not be reached
  created_at   BIGINT NOT NULL,
  sent_at      BIGINT
);
CREATE INDEX email_messages_by_app ON email_messages(app_id, created_at);

CREATE TABLE email_attempts (
  message_id TEXT NOT NULL,
  attempt    INTEGER NOT NULL,
  at         BIGINT NOT NULL,
  outcome    TEXT NOT NULL,           -- sent, retry, failed
  reply      TEXT NOT NULL,
  PRIMARY KEY (message_id, attempt)
);
